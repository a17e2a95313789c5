"""Learning-rate rules, from the training loss per epoch (and failed.json).

lr_too_high fires on any of:
- the run diverged (failed.json of a TrainingDiverged, exit code 3), or a logged loss is NaN/infinite;
- an epoch's mean training loss is more than IN_EPOCH_SPIKE_RATIO times the validation loss measured at its
  end: the loss exploded within the epoch (a healthy run's training loss is at most ~1.5x its validation loss);
- a spike between epochs: a training loss more than SPIKE_RATIO times the lowest one before it (lows under
  SPIKE_FLOOR of the first epoch's loss count as that floor, so wobbles near zero are no spikes);
- a rising loss: the mean training loss of the last RISE_TAIL epochs is RISE_RATIO times the first epoch's.

lr_too_low fires when, over at least MIN_EPOCHS epochs, every epoch's training loss stayed within FLAT_CHANGE
(relative) of the first epoch's.
"""

from __future__ import annotations

import math

from dlrun.diagnose.findings import WARNING, Finding
from dlrun.diagnose.run_record import RunRecord

IN_EPOCH_SPIKE_RATIO = 10.0
SPIKE_RATIO = 3.0
SPIKE_FLOOR = 0.05
RISE_RATIO = 1.05
RISE_TAIL = 3
FLAT_CHANGE = 0.01
MIN_EPOCHS = 3
LOWER_BY = 10.0  # suggest a learning rate this many times lower

LOSS = "train/loss"


def lr_override(run: RunRecord, factor: float) -> str:
    lr = run.setting("optimizer.lr")
    if isinstance(lr, (int, float)) and not isinstance(lr, bool):
        return f"optimizer.lr={lr * factor:.3g}"
    return "optimizer.lr=" + ("<lower>" if factor < 1 else "<higher>")


def lr_too_high(run: RunRecord) -> list[Finding]:
    suggestion = lr_override(run, 1 / LOWER_BY)
    if run.diverged or _non_finite(run):
        return [_diverged(run, suggestion)]
    losses = run.series(LOSS)
    if not losses:
        return []
    first = losses[0][1]
    val = dict(run.series("val/loss"))
    in_epoch = [(e, v, val[e]) for e, v in losses if e in val and val[e] > 0 and v > IN_EPOCH_SPIKE_RATIO * val[e]]
    spikes = []
    for i, (epoch, value) in enumerate(losses[1:], start=1):
        low = max(min(v for _, v in losses[:i]), SPIKE_FLOOR * first)
        if value > SPIKE_RATIO * low:
            spikes.append((epoch, value, low))
    tail = [v for _, v in losses[-RISE_TAIL:]]
    rising = len(losses) > RISE_TAIL and first > 0 and sum(tail) / len(tail) > RISE_RATIO * first
    if not (in_epoch or spikes or rising):
        return []
    parts, evidence = [], {"first_train_loss": first, "last_train_loss": losses[-1][1]}
    if in_epoch:
        e, v, vl = in_epoch[0]
        evidence["in_epoch_spikes"] = [{"epoch": e, "train_loss": v, "val_loss": vl} for e, v, vl in in_epoch]
        parts.append(
            f"the training loss exploded within {len(in_epoch)} epoch(s) (epoch {e}: mean train/loss {v:.4g} "
            f"against val/loss {vl:.4g} at its end)"
        )
    if spikes:
        e, v, low = spikes[0]
        evidence["spikes"] = [{"epoch": e, "train_loss": v, "lowest_before": lo} for e, v, lo in spikes]
        parts.append(f"train/loss spiked {len(spikes)} time(s) (epoch {e}: {v:.4g} after a low of {low:.4g})")
    if rising:
        evidence["rising"] = {"first": first, "last_mean": sum(tail) / len(tail)}
        parts.append(f"train/loss rose from {first:.4g} at epoch 1 to {sum(tail) / len(tail):.4g} (last epochs)")
    return [Finding("lr_too_high", WARNING, "Learning rate too high: " + "; ".join(parts) + ".", evidence, suggestion)]


def _non_finite(run: RunRecord) -> bool:
    return any(
        not math.isfinite(float(row[k]))
        for row in run.history
        for k in row
        if k.endswith("loss") and row[k] is not None
    )


def _diverged(run: RunRecord, suggestion: str) -> Finding:
    failure = run.failure or {}
    epoch, step = failure.get("epoch"), failure.get("step")
    where = f" at epoch {epoch}, step {step}" if epoch is not None else ""
    error = failure.get("error") or "a logged loss is NaN or infinite"
    if run.setting("trainer.grad_clip", 0) is None:
        suggestion += " trainer.grad_clip=1.0"
    evidence = {"diverged": True, "epoch": epoch, "step": step, "error": error, "epochs_completed": run.last_epoch}
    losses = [x for x in failure.get("step_losses") or [] if x is not None]
    if losses:
        evidence["step_losses"] = losses
    message = f"Learning rate too high: training diverged{where} ({error}) after {run.last_epoch} complete epoch(s)."
    return Finding("lr_too_high", WARNING, message, evidence, suggestion)


def lr_too_low(run: RunRecord) -> list[Finding]:
    losses = run.series(LOSS)
    if len(losses) < MIN_EPOCHS or run.diverged:
        return []
    first = losses[0][1]
    best = min(v for _, v in losses[1:])
    change = (first - best) / abs(first) if first else 0.0
    spread = max(abs(v - first) for _, v in losses) / abs(first) if first else math.inf
    if spread >= FLAT_CHANGE:
        return []
    message = (
        f"Learning rate too low: train/loss barely moved in {len(losses)} epochs ({first:.4g} at epoch "
        f"{losses[0][0]}, at best {best:.4g}: {change:.2%} lower; threshold {FLAT_CHANGE:.0%}); a loss that does "
        "not move is orders of magnitude off, so let the range test pick the rate (`dlrun lr-find` shows its curve)."
    )
    evidence = {"epochs": len(losses), "first_train_loss": first, "best_train_loss": best, "relative_change": change}
    return [Finding("lr_too_low", WARNING, message, evidence, "optimizer.lr=auto")]
