"""Per-layer rules, from diagnostics.csv (one row per epoch and layer; rows in the model's layer order). A run
without the file (or with an empty one) gets none of these findings.

dead_units: on the last recorded epoch, a layer whose dead_fraction (units a ReLU never let through on the
  sampled rows) is at least DEAD_FRACTION. The diagnostics callback puts dead_fraction on the layer whose
  output feeds the ReLU (a Linear or Conv, or the BatchNorm between them); when rows of activation modules
  themselves (kind ReLU...) carry it, only those count, so no unit is counted twice.
vanishing_gradients: on the last recorded epoch, within one network (the first part of the layer path), the
  gradient norm of its first weight layer is below VANISHING_RATIO times that of its last one.
exploding_gradients: a non-finite gradient norm; the first weight layer's norm above EXPLODING_RATIO times the
  last one's; or a layer's gradient norm grew GROWTH_RATIO times from the first recorded epoch to the last.
Normalization layers (kind containing "Norm") take no part in the gradient rules: their few parameters have
small gradients whatever happens around them.
"""

from __future__ import annotations

import math
from collections import defaultdict

from dlrun.diagnose.findings import WARNING, Finding
from dlrun.diagnose.learning_rate import LOWER_BY, lr_override
from dlrun.diagnose.run_record import RunRecord

DEAD_FRACTION = 0.4
VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
GROWTH_RATIO = 100.0
ACTIVATION_KINDS = ("ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU")


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _epochs(run: RunRecord) -> dict[int, list[dict]]:
    by_epoch: dict[int, list[dict]] = defaultdict(list)
    for row in run.diagnostics:
        by_epoch[int(row["epoch"])].append(row)
    return dict(sorted(by_epoch.items()))


def dead_units(run: RunRecord) -> list[Finding]:
    epochs = _epochs(run)
    if not epochs:
        return []
    epoch, rows = list(epochs.items())[-1]
    carrying = [r for r in rows if _finite(r.get("dead_fraction"))]
    activations = [r for r in carrying if r.get("kind") in ACTIVATION_KINDS]
    counted = activations or carrying
    dead = {r["layer"]: r["dead_fraction"] for r in counted if r["dead_fraction"] >= DEAD_FRACTION}
    if not dead:
        return []
    listed = ", ".join(f"{layer} {fraction:.0%}" for layer, fraction in dead.items())
    message = (
        f"Dead units: at epoch {epoch}, {len(dead)} layer(s) have at least {DEAD_FRACTION:.0%} of their units "
        f"never active on the sampled rows ({listed})."
    )
    activation = run.setting("model.activation")
    suggestion = "model.activation=leaky_relu" if activation == "relu" else lr_override(run, 1 / LOWER_BY)
    if run.setting("model.init") == "default":
        suggestion += " model.init=kaiming"
    return [
        Finding(
            "dead_units", WARNING, message, {"epoch": epoch, "layers": dead, "threshold": DEAD_FRACTION}, suggestion
        )
    ]


def _weight_layers(rows: list[dict]) -> dict[str, list[dict]]:
    """{network: its rows with a gradient norm, in layer order}, normalization layers left out."""
    nets: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if "Norm" in str(row.get("kind")) or row.get("grad_norm") is None:
            continue
        nets[str(row["layer"]).split(".")[0]].append(row)
    return nets


def gradients(run: RunRecord) -> list[Finding]:
    epochs = _epochs(run)
    if not epochs:
        return []
    found = []
    first_epoch, last_epoch = min(epochs), max(epochs)
    rows = epochs[last_epoch]
    bad = [r["layer"] for r in rows if r.get("grad_norm") is not None and not math.isfinite(r["grad_norm"])]
    exploding, vanishing = {}, {}
    if bad:
        exploding["non_finite"] = bad
    for net, layers in _weight_layers(rows).items():
        if len(layers) < 2 or bad:
            continue
        first, last = layers[0], layers[-1]
        if not (last["grad_norm"] > 0):
            continue
        ratio = first["grad_norm"] / last["grad_norm"]
        pair = {"first": first["layer"], "last": last["layer"], "first_norm": first["grad_norm"]}
        pair.update(last_norm=last["grad_norm"], ratio=ratio)
        if ratio < VANISHING_RATIO:
            vanishing[net] = pair
        elif ratio > EXPLODING_RATIO:
            exploding.setdefault("first_vs_last", {})[net] = pair
    if first_epoch != last_epoch and not bad:
        start = {r["layer"]: r["grad_norm"] for r in epochs[first_epoch] if _finite(r.get("grad_norm"))}
        for r in rows:
            before = start.get(r["layer"])
            if before and _finite(r.get("grad_norm")) and r["grad_norm"] > GROWTH_RATIO * before:
                exploding.setdefault("growth", {})[r["layer"]] = {"first": before, "last": r["grad_norm"]}
    if exploding:
        found.append(_exploding(run, exploding, first_epoch, last_epoch))
    if vanishing:
        listed = "; ".join(
            f"{p['first']} {p['first_norm']:.3g} vs {p['last']} {p['last_norm']:.3g} (ratio {p['ratio']:.2g})"
            for p in vanishing.values()
        )
        message = (
            f"Vanishing gradients: at epoch {last_epoch} the first layer's gradient norm is below "
            f"{VANISHING_RATIO:g} of the last layer's ({listed})."
        )
        found.append(
            Finding(
                "vanishing_gradients",
                WARNING,
                message,
                {"epoch": last_epoch, "networks": vanishing},
                _vanishing_fix(run),
            )
        )
    return found


def _exploding(run: RunRecord, evidence: dict, first_epoch: int, last_epoch: int) -> Finding:
    parts = []
    if "non_finite" in evidence:
        parts.append(f"non-finite gradient norms at epoch {last_epoch} in {', '.join(evidence['non_finite'])}")
    for p in evidence.get("first_vs_last", {}).values():
        parts.append(
            f"{p['first']} {p['first_norm']:.3g} vs {p['last']} {p['last_norm']:.3g} "
            f"(ratio {p['ratio']:.3g} > {EXPLODING_RATIO:g})"
        )
    for layer, g in evidence.get("growth", {}).items():
        parts.append(
            f"{layer} grew from {g['first']:.3g} (epoch {first_epoch}) to {g['last']:.3g} (epoch {last_epoch})"
        )
    suggestion = "trainer.grad_clip=1.0" if run.setting("trainer.grad_clip") is None else lr_override(run, 1 / LOWER_BY)
    message = "Exploding gradients: " + "; ".join(parts) + "."
    return Finding("exploding_gradients", WARNING, message, {"epoch": last_epoch, **evidence}, suggestion)


def _vanishing_fix(run: RunRecord) -> str:
    overrides = []
    if run.setting("model.activation") in ("sigmoid", "tanh"):
        overrides.append("model.activation=relu")
    if run.setting("model.batchnorm") is False:
        overrides.append("model.batchnorm=true")
    if run.setting("model.init") == "default":
        overrides.append("model.init=kaiming")
    return " ".join(overrides) or "model.init=kaiming"
