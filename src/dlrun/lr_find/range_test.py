"""Smith's learning-rate range test, as fastai and Lightning's `Tuner.lr_find` run it: one training step per
learning rate, the rates spaced exponentially from min_lr to max_lr, the loss smoothed exponentially (with
fastai's bias correction), stopping as soon as the smoothed loss exceeds `diverge_factor` times its lowest value.

Suggestion rules (`lr_find.suggestion`), both on the smoothed curve without its first `skip_start` and last
`skip_end` points:

- `minimum` (default): the rate at the lowest smoothed loss, divided by 10 (fastai's `lr_min`). The lowest point is
  where the loss starts to blow up; a tenth of it still learns fast and is robust to the curve's noise.
- `steepest`: the rate where the smoothed loss falls fastest (the most negative gradient over log(lr)) before
  its lowest point, Lightning's default; sharper, but noisier on short curves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from dlrun.errors import DlrunError
from dlrun.lr_find.config import LRFindConfig


def learning_rates(settings: LRFindConfig) -> np.ndarray:
    """num_steps rates, exponentially spaced from min_lr to max_lr (both included)."""
    return np.geomspace(settings.min_lr, settings.max_lr, settings.num_steps)


def cycle(batches, seed_epoch: int = 1) -> Iterator:
    """The training batches over and over (a new shuffled epoch each pass), as many as the test asks for."""
    epoch = seed_epoch
    while True:
        batches.set_epoch(epoch)
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise DlrunError("lr-find: the training split has no batches")
        epoch += 1


def sweep(task, batches: Iterable, settings: LRFindConfig) -> dict:
    """Train `task` one step per rate (its optimizer's first param group set to it, the others in proportion);
    returns the curve: lrs, losses, smoothed (as far as it got) and `stopped` (why it ended early: diverged,
    not_finite; None)."""
    if len(task.optimizers) != 1:
        raise DlrunError(
            f"lr-find needs a task with one optimizer; {type(task).__name__} has {len(task.optimizers)} "
            f"({', '.join(task.optimizers)})"
        )
    optimizer = next(iter(task.optimizers.values()))
    beta = settings.smoothing
    lrs, losses, smoothed = [], [], []
    average, best, stopped = 0.0, math.inf, None
    task.train(True)
    source = iter(batches)
    # groups keep their ratio to the first (optimizer.backbone_lr_scale: a pretrained backbone's lower rate)
    ratios = [g["lr"] / optimizer.param_groups[0]["lr"] for g in optimizer.param_groups]
    for step, lr in enumerate(learning_rates(settings)):
        for group, ratio in zip(optimizer.param_groups, ratios, strict=True):
            group["lr"] = float(lr) * ratio
        # one optimizer step: of `task.accumulate` batches when the run accumulates gradients (its effective batch)
        loss = sum(float(task.training_step(next(source))["loss"]) for _ in range(task.accumulate)) / task.accumulate
        lrs.append(float(lr))
        losses.append(loss)
        if not math.isfinite(loss):
            stopped = "not_finite"
            break
        average = beta * average + (1 - beta) * loss
        value = average / (1 - beta ** (step + 1))
        smoothed.append(value)
        if step > 0 and value > settings.diverge_factor * best:
            stopped = "diverged"
            break
        best = min(best, value)
    return {"lrs": lrs[: len(smoothed)], "losses": losses[: len(smoothed)], "smoothed": smoothed, "stopped": stopped}


def suggest(lrs: list[float], smoothed: list[float], settings: LRFindConfig) -> float | None:
    """The suggested rate by `settings.suggestion` (see the module's doc), rounded to two significant digits (so
    the printed override reproduces it); None when the curve is too short after skipping."""
    end = len(smoothed) - settings.skip_end
    start = settings.skip_start
    if end - start < 2:
        start = 0  # a curve that diverged early: use what there is
        end = len(smoothed)
    if end - start < 2:
        return None
    lr = np.asarray(lrs[start:end])
    loss = np.asarray(smoothed[start:end])
    if settings.suggestion == "minimum":
        chosen = float(lr[int(np.argmin(loss))]) / 10
    else:  # only the descent before the lowest point: past it the diverging curve wiggles
        stop = max(int(np.argmin(loss)) + 1, 2)
        chosen = float(lr[int(np.argmin(np.gradient(loss[:stop], np.log(lr[:stop]))))])
    return round_rate(chosen)


def round_rate(lr: float) -> float:
    """Two significant digits: 0.0052123 -> 0.0052."""
    return float(f"{lr:.1e}")
