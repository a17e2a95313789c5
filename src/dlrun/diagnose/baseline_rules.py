"""below_baseline: the model's figures against the baselines of metrics.json (on their split: the test
metrics, or the last epoch's validation metrics when the run had no test split), one warning listing every
(baseline, metric) the model does not strictly beat. Also the comparison the other rules share.
"""

from __future__ import annotations

import math

from dlrun.diagnose.findings import WARNING, Finding
from dlrun.diagnose.run_record import RunRecord
from dlrun.metrics.config import resolve_mode


def misses(model: dict, found: dict) -> list[tuple[str, str, float, float]]:
    """(baseline, metric, model value, baseline value) wherever the model is not strictly better: the
    comparison of `dlrun.baselines.not_beaten`, without importing scikit-learn and torch."""
    missed = []
    for label, values in found.items():
        if label == "split" or not isinstance(values, dict):
            continue
        for metric, base in values.items():
            mine = model.get(metric)
            if mine is None or base is None or math.isnan(mine) or math.isnan(base):
                continue
            better = mine > base if resolve_mode("auto", metric, metric) == "max" else mine < base
            if not better:
                missed.append((label, metric, mine, base))
    return missed


def scale_hidden(hidden, factor: int) -> str | None:
    """`model.hidden` with every width times `factor`, as an override value ([128,128]); None without one."""
    if not isinstance(hidden, list) or not hidden or not all(isinstance(h, int) for h in hidden):
        return None
    return "[" + ",".join(str(h * factor) for h in hidden) + "]"


def below_baseline(run: RunRecord) -> list[Finding]:
    metrics = run.metrics or {}
    found = metrics.get("baselines") or {}
    if not found:
        return []
    split = found.get("split", "test")
    if split == "test":
        model = metrics.get("test") or {}
    else:
        last = run.history[-1] if run.history else {}
        model = {k.removeprefix("val/"): v for k, v in last.items() if k.startswith("val/")}
    missed = misses(model, found)
    if not missed:
        return []
    listed = ", ".join(f"{m} {mine:.4g} vs {label} {base:.4g}" for label, m, mine, base in missed)
    message = f"Below baseline: on the {split} split the model does not beat {listed}."
    evidence = {
        "split": split,
        "not_beaten": [{"baseline": b, "metric": m, "model": x, "baseline_value": y} for b, m, x, y in missed],
    }
    return [Finding("below_baseline", WARNING, message, evidence, None)]
