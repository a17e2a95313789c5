"""`task.threshold=auto`: the decision threshold of a binary task, chosen on the validation split.

The candidates are the validation scores' quantiles (and 0.5); the one that maximizes the monitored metric
(F1 when the monitor does not depend on the threshold, such as the loss or AUC) wins, ties going to the one
nearest 0.5. The choice goes into the task's metrics, the DataInfo and the run's checkpoints, so eval,
predict and serve decide with it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dlrun import metrics as M

log = logging.getLogger("dlrun")

THRESHOLD_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_macro",
    "f1_weighted",
    "f1_positive",
    "precision",
    "recall",
)


def metric_for(monitor: str | None) -> str:
    """The metric the threshold is chosen for: the monitored one when it depends on the threshold, else f1."""
    name = (monitor or "").rsplit("/", 1)[-1]
    return name if name in THRESHOLD_METRICS else "f1"


def best_threshold(y: np.ndarray, p: np.ndarray, metric: str, ctx: dict) -> tuple[float, float]:
    """(threshold, metric value) maximizing `metric` of labels p >= threshold."""
    candidates = np.unique(np.concatenate([np.quantile(p, np.linspace(0, 1, 201)), [0.5]]))
    values = [M.compute([metric], y, p, {**ctx, "threshold": float(t)})[metric] for t in candidates]
    best = max(range(len(candidates)), key=lambda i: (values[i], -abs(candidates[i] - 0.5)))
    return float(candidates[best]), float(values[best])


def choose_threshold(task, data, batch_size: int, monitor: str | None, run_dir: Path | None) -> dict | None:
    """Pick the threshold on the validation split, set it on the task, write it into the checkpoints."""
    if not getattr(task, "auto_threshold", False):
        return None
    if data.val is None:
        log.warning("task.threshold=auto needs a validation split; keeping 0.5")
        return None
    out, y = task.predict(data.batches("val", batch_size))
    p, y = task.scores(out.float()).cpu().numpy(), y.cpu().numpy()
    metric = metric_for(monitor)
    at_half = M.compute([metric], y, p, {**task.metric_ctx, "threshold": 0.5})[metric]
    threshold, value = best_threshold(y, p, metric, task.metric_ctx)
    task.set_threshold(threshold)
    if run_dir is not None:
        store_in_checkpoints(run_dir, threshold)
    return {"value": threshold, "split": "val", "metric": metric, "at_0.5": at_half, "chosen": value}


def store_in_checkpoints(run_dir: Path, threshold: float) -> None:
    from dlrun.rundir import RunDir
    from dlrun.rundir.checkpoints import load_checkpoint, save_checkpoint
    from dlrun.rundir.layout import CHECKPOINT_NAMES

    for name in CHECKPOINT_NAMES:
        path = RunDir(run_dir).checkpoint(name)
        if path.is_file():
            state = load_checkpoint(path)
            state["data"]["info"]["threshold"] = threshold
            save_checkpoint(state, path)
