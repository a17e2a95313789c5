"""`dlrun diagnose RUN_DIR`: read what a run left (history, metrics.json with its baselines, diagnostics.csv,
failed.json, .hydra/config.yaml) and list findings, each with its evidence and the override to try.

One small module per family of rules, each rule a function `RunRecord -> list[Finding]`, thresholds as named
constants documented in its module:

    learning_rate.py   lr_too_high, lr_too_low
    fitting.py         overfitting, underfitting, early_stopping_cut, interrupted
    baseline_rules.py  below_baseline
    layers.py          dead_units, vanishing_gradients, exploding_gradients (from diagnostics.csv)

`healthy` (info) is added when no rule warns. A K-fold parent is diagnosed fold by fold (and its refit), each
finding naming its fold in `run`. Light: nothing here imports torch.

API::

    diagnose(path) -> list[Finding]        raises DlrunError for a missing folder or one that is not a run
    diagnose_record(record) -> list[Finding]
    render(findings, fmt, path)            text (rich), markdown or json (dlrun.diagnose.render)
    summary_lines(path) -> list[str]       the short section at the end of a run's console summary
"""

from __future__ import annotations

from pathlib import Path

from dlrun.diagnose import baseline_rules, fitting, layers, learning_rate
from dlrun.diagnose.findings import INFO, KINDS, WARNING, Finding
from dlrun.diagnose.run_record import RunRecord, is_run, runs_of
from dlrun.errors import DlrunError

RULES = (
    learning_rate.lr_too_high,
    learning_rate.lr_too_low,
    fitting.overfitting,
    fitting.underfitting,
    fitting.early_stopping_cut,
    baseline_rules.below_baseline,
    layers.dead_units,
    layers.gradients,
    fitting.interrupted,
)

# What a learning rate far off also causes: with lr_too_high or lr_too_low among the warnings, these findings say
# so and suggest the learning rate's override instead of their own (fixing the cause usually clears them).
CONSEQUENCES_OF_LR = ("underfitting", "below_baseline", "dead_units", "vanishing_gradients")

# What still means something in a debug run (a few batches, or the same batches trained and validated on)
DEBUG_RULES = (learning_rate.lr_too_high, layers.dead_units, layers.gradients)

__all__ = ["Finding", "KINDS", "RULES", "diagnose", "diagnose_record", "summary_lines"]


def diagnose(path: str | Path) -> list[Finding]:
    path = Path(path)
    if not path.is_dir():
        raise DlrunError(f"no such run directory: {path}")
    records = runs_of(path) if is_run(path) or list(path.glob("fold_*")) else []
    if not records:
        raise DlrunError(
            f"{path} is not a run directory (no metrics.json, history.csv, failed.json or .hydra/config.yaml)"
        )
    return [finding for record in records for finding in diagnose_record(record)]


def diagnose_record(record: RunRecord) -> list[Finding]:
    mode = record.debug_mode
    rules = DEBUG_RULES if mode else RULES
    found = _root_cause_first([finding for rule in rules for finding in rule(record)])
    if mode:
        found.insert(0, Finding("debug_run", INFO, f"A debug run (debug={mode}): {DEBUG_NOTE}", {"mode": mode}))
    if record.failure is not None and not record.finished and not record.diverged and not record.preempted:
        error = record.failure.get("error", "unknown error")
        found.insert(0, Finding("failed", WARNING, f"The run failed: {error}.", dict(record.failure)))
    if not any(f.is_warning for f in found):
        epochs = f"{record.last_epoch} epoch(s)" if record.history else "no epochs"
        found.append(Finding("healthy", INFO, f"No problems found ({epochs} read).", {"epochs": record.last_epoch}))
    if record.name != ".":
        found = [_in_run(f, record.name) for f in found]
    return found


DEBUG_NOTE = (
    "only the divergence and per-layer rules apply; fitting, baselines and learning-rate curves need a full run."
)


def _root_cause_first(found: list[Finding]) -> list[Finding]:
    cause = next((f for f in found if f.is_warning and f.kind in ("lr_too_high", "lr_too_low")), None)
    if cause is None:
        return found
    return [
        Finding(
            f.kind,
            f.severity,
            f"{f.message} Probably a consequence of the learning rate ({cause.kind}): fix that first.",
            {**f.evidence, "likely_cause": cause.kind},
            cause.suggestion,
            f.run,
        )
        if f.is_warning and f.kind in CONSEQUENCES_OF_LR
        else f
        for f in found
    ]


def _in_run(finding: Finding, name: str) -> Finding:
    return Finding(
        finding.kind, finding.severity, f"{name}: {finding.message}", finding.evidence, finding.suggestion, name
    )


def summary_lines(path: str | Path, shown: tuple[str, ...] = ()) -> list[str]:
    """Warnings only, one line each with its suggestion (kinds in `shown`, printed already, only counted); or
    one 'no problems found' line."""
    warnings = [f for f in diagnose(path) if f.is_warning]
    if not warnings:
        return ["diagnosis: no problems found"]
    lines = [f"diagnosis: {len(warnings)} warning(s); details: dlrun diagnose {path}"]
    for f in warnings:
        if f.kind not in shown:
            lines.append(f"  {f.kind}: {f.message}" + (f" Try: {f.suggestion}" if f.suggestion else ""))
    return lines
