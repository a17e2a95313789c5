"""Fitting rules, from the history per epoch and the trainer config.

overfitting: the validation loss was lowest at epoch B; at least OVERFIT_MIN_EPOCHS epochs followed; the mean
  validation loss of the last OVERFIT_TAIL epochs is OVERFIT_RISE (relative) above that low; and the training
  loss kept falling after B. A warning, or info when early stopping restored the weights of the best epoch (the
  final model is the one from before the rise).
underfitting: (a) on the last epoch the training metrics do not beat a baseline of metrics.json (a model
  no better than a constant predictor on the rows it learns from), or else (b) the run used all trainer.max_epochs
  and its checkpoint monitor was still improving: best on the last epoch, by at least STILL_IMPROVING
  (relative) over the STILL_WINDOW epochs before it.
early_stopping_cut: early stopping ended the run (fewer epochs than trainer.max_epochs) with a patience of at
  most CUT_PATIENCE, while the monitor had improved by at least CUT_IMPROVEMENT (relative) over the CUT_WINDOW
  epochs up to its best one: a noisy curve was cut while it still went down.
interrupted: history but neither metrics.json nor failed.json, or a failed.json saying a signal stopped the run at a
  checkpoint of its position (SIGTERM, SIGINT, SIGUSR1: dlrun.trainer.preemption) (info).
"""

from __future__ import annotations

from dlrun.diagnose.baseline_rules import misses, scale_hidden
from dlrun.diagnose.findings import INFO, WARNING, Finding
from dlrun.diagnose.run_record import RunRecord
from dlrun.metrics.config import resolve_mode

OVERFIT_MIN_EPOCHS = 3
OVERFIT_TAIL = 3
OVERFIT_RISE = 0.10
STILL_IMPROVING = 0.01
STILL_WINDOW = 3
CUT_PATIENCE = 3
CUT_IMPROVEMENT = 0.02
CUT_WINDOW = 5
MORE_DROPOUT = 0.3  # suggested when the model has a `dropout` key below it


def overfitting(run: RunRecord) -> list[Finding]:
    val, train = run.series("val/loss"), dict(run.series("train/loss"))
    if len(val) < OVERFIT_MIN_EPOCHS + 1 or not train:
        return []
    best_epoch, best = min(val, key=lambda p: p[1])
    after = [(e, v) for e, v in val if e > best_epoch]
    if len(after) < OVERFIT_MIN_EPOCHS or best <= 0:
        return []
    tail = [v for _, v in val[-OVERFIT_TAIL:]]
    tail_mean = sum(tail) / len(tail)
    rise = tail_mean / best - 1
    last_epoch, last_val = val[-1]
    train_at_best, train_last = train.get(best_epoch), train.get(last_epoch)
    if rise < OVERFIT_RISE or train_at_best is None or train_last is None or train_last >= train_at_best:
        return []
    restored = run.setting("trainer.early_stopping.patience") is not None and run.setting(
        "trainer.early_stopping.restore_best", False
    )
    evidence = {
        "best_epoch": best_epoch,
        "best_val_loss": best,
        "last_epoch": last_epoch,
        "last_val_loss": last_val,
        "val_loss_rise": rise,
        "train_loss_at_best": train_at_best,
        "train_loss_last": train_last,
        "gap_at_best": best - train_at_best,
        "gap_last": last_val - train_last,
        "restored_best_weights": bool(restored),
    }
    message = (
        f"Overfitting: val/loss was lowest at epoch {best_epoch} ({best:.4g}), then rose to {last_val:.4g} by epoch "
        f"{last_epoch} (last {len(tail)} epochs {rise:+.0%}) while train/loss fell from {train_at_best:.4g} to "
        f"{train_last:.4g}; the val-train gap grew from {best - train_at_best:.4g} to {last_val - train_last:.4g}."
    )
    if restored:
        message += f" Early stopping restored the weights of epoch {best_epoch}."
    return [Finding("overfitting", INFO if restored else WARNING, message, evidence, _regularize(run))]


def _regularize(run: RunRecord) -> str:
    overrides = []
    if run.setting("trainer.early_stopping.patience", 0) is None:
        overrides.append("trainer.early_stopping.patience=5")
    if not run.setting("regularization.l2") and not run.setting("regularization.l1"):
        overrides.append("regularization=l2")
    dropout = run.setting("model.dropout")
    if isinstance(dropout, (int, float)) and dropout < MORE_DROPOUT:
        overrides.append(f"model.dropout={MORE_DROPOUT}")
    return " ".join(overrides) or "regularization.l2=0.01"


def underfitting(run: RunRecord) -> list[Finding]:
    found = []
    baselines = (run.metrics or {}).get("baselines") or {}
    last = run.history[-1] if run.history else {}
    train = {k.removeprefix("train/"): v for k, v in last.items() if k.startswith("train/") and k != "train/loss"}
    missed = misses(train, baselines) if baselines else []
    if missed:
        listed = ", ".join(f"{m} {mine:.4g} vs {label} {base:.4g}" for label, m, mine, base in missed)
        found.append(
            Finding(
                "underfitting",
                WARNING,
                f"Underfitting: at epoch {run.last_epoch} the training metrics do not beat the baselines "
                f"({listed}): the model has not learned even the rows it trains on.",
                {
                    "epoch": run.last_epoch,
                    "not_beaten": [
                        {"baseline": b, "metric": m, "train": x, "baseline_value": y} for b, m, x, y in missed
                    ],
                },
                _more_capacity(run),
            )
        )
    still = None if missed else _still_improving(run)  # a model that learned nothing is not "stopped too soon"
    if still:
        found.append(still)
    return found


def _more_capacity(run: RunRecord) -> str:
    overrides = [_more_epochs(run)]
    hidden = scale_hidden(run.setting("model.hidden"), 2)
    if hidden:
        overrides.append(f"model.hidden={hidden}")
    return " ".join(overrides)


def _more_epochs(run: RunRecord) -> str:
    epochs = run.setting("trainer.max_epochs")
    return f"trainer.max_epochs={2 * epochs}" if isinstance(epochs, int) else "trainer.max_epochs=<more>"


def _monitor(run: RunRecord) -> str:
    key = run.setting("trainer.checkpoint.monitor") or "val/loss"
    return key if run.series(key) else "train/loss"


def _improvement(values: list[float], mode: str) -> float:
    start, end = values[0], values[-1]
    if start == 0:
        return 0.0
    return (start - end) / abs(start) if mode == "min" else (end - start) / abs(start)


def _still_improving(run: RunRecord) -> Finding | None:
    max_epochs = run.setting("trainer.max_epochs")
    if not run.finished or not isinstance(max_epochs, int) or run.last_epoch < max_epochs:
        return None
    key = _monitor(run)
    series = run.series(key)
    mode = resolve_mode("auto", key, key)
    if len(series) <= STILL_WINDOW:
        return None
    values = [v for _, v in series]
    best = min(values) if mode == "min" else max(values)
    window = values[-STILL_WINDOW - 1 :]
    gain = _improvement(window, mode)
    if values[-1] != best or gain < STILL_IMPROVING:
        return None
    message = (
        f"Underfitting: stopped too soon: {key} was still improving at the last epoch {series[-1][0]} "
        f"(trainer.max_epochs={max_epochs}): {window[0]:.4g} -> {window[-1]:.4g} over the last {STILL_WINDOW} "
        f"epochs ({gain:.1%})."
    )
    evidence = {"monitor": key, "last_epoch": series[-1][0], "max_epochs": max_epochs, "window": window, "gain": gain}
    return Finding("underfitting", WARNING, message, evidence, _more_epochs(run))


def early_stopping_cut(run: RunRecord) -> list[Finding]:
    patience, max_epochs = run.setting("trainer.early_stopping.patience"), run.setting("trainer.max_epochs")
    if not run.finished or not isinstance(patience, int) or not isinstance(max_epochs, int):
        return []
    if run.last_epoch >= max_epochs or patience > CUT_PATIENCE:
        return []
    key = run.setting("trainer.early_stopping.monitor") or "val/loss"
    series = run.series(key)
    if len(series) < 2:
        return []
    mode = resolve_mode(run.setting("trainer.early_stopping.mode") or "auto", key, key)
    values = [v for _, v in series]
    best_index = values.index(min(values) if mode == "min" else max(values))
    window = values[max(0, best_index - CUT_WINDOW) : best_index + 1]
    gain = _improvement(window, mode) if len(window) > 1 else 0.0
    if gain < CUT_IMPROVEMENT:
        return []
    best_epoch = series[best_index][0]
    message = (
        f"Early stopping cut a still-improving run: {key} improved {gain:.1%} over the {len(window) - 1} epochs up "
        f"to its best (epoch {best_epoch}), then patience {patience} stopped the run at epoch {run.last_epoch} "
        f"of {max_epochs}."
    )
    evidence = {
        "monitor": key,
        "best_epoch": best_epoch,
        "stopped_epoch": run.last_epoch,
        "patience": patience,
        "gain_before_best": gain,
        "max_epochs": max_epochs,
    }
    return [
        Finding(
            "early_stopping_cut", WARNING, message, evidence, f"trainer.early_stopping.patience={max(5, 2 * patience)}"
        )
    ]


def interrupted(run: RunRecord) -> list[Finding]:
    if run.preempted:
        f = run.failure
        epoch, step = f.get("epoch"), f.get("step")
        where = f"epoch {epoch}, step {step}" if step else f"the end of epoch {epoch}"
        message = (
            f"Interrupted: {f.get('signal', 'a signal')} stopped the run at {where}, with a checkpoint of that "
            "position; trainer.resume=auto continues it exactly."
        )
        evidence = {k: f.get(k) for k in ("signal", "epoch", "step", "exit_code")}
        return [Finding("interrupted", INFO, message, evidence, "trainer.resume=auto")]
    if run.finished or run.failure is not None or not run.history:
        return []
    message = (
        f"Interrupted: the run left {run.last_epoch} epoch(s) of history but no metrics.json; "
        "the findings are about those epochs."
    )
    return [Finding("interrupted", INFO, message, {"epochs": run.last_epoch}, "trainer.resume=auto")]
