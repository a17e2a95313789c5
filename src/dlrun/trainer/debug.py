"""The debug modes of the trainer (`debug=fast|overfit|limit|profile|anomaly`, keys in `TrainerConfig`).

The presets in `conf/debug/` set only these trainer keys (and `hydra.run.dir`), never keys a recipe sets:
`+experiment=NAME` is applied after them and would win. What a mode implies for other keys is done here:

- `fast_dev_run`: one epoch, one batch of each split, no early stopping;
- `profile`: one epoch of the profiled steps (+1 unprofiled step first), one val and one test batch;
- `overfit_batches=N`: `overfit_epochs` epochs on the first N training batches (in file order, fixed),
  validated on the same batches; no early stopping, and `without_regularization` turns off dropout, weight
  decay, L1/L2 penalties, label smoothing and augmentation in the config the run is built from.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlrun.errors import TrainingDiverged
from dlrun.trainer.config import TrainerConfig

log = logging.getLogger("dlrun")

PROFILE_STEPS = 5  # trainer.profile=true
MEMORIZED_LOSS = 0.01  # an overfit run memorized its batches when its last train loss is below this (and accuracy 1)


def effective(cfg: TrainerConfig) -> TrainerConfig:
    """The trainer config a debug mode runs with (max_epochs, limits and early stopping as the mode implies)."""
    no_stopping = replace(cfg.early_stopping, patience=None)
    if cfg.fast_dev_run:
        return replace(
            cfg,
            max_epochs=1,
            limit_train_batches=1,
            limit_val_batches=1,
            limit_test_batches=1,
            early_stopping=no_stopping,
        )
    if cfg.overfit_batches > 0:
        return replace(cfg, max_epochs=cfg.overfit_epochs, limit_train_batches=None, early_stopping=no_stopping)
    if profile_steps(cfg):
        return replace(
            cfg,
            max_epochs=1,
            limit_train_batches=profile_steps(cfg) + 1,
            limit_val_batches=cfg.limit_val_batches or 1,
            limit_test_batches=cfg.limit_test_batches or 1,
            early_stopping=no_stopping,
        )
    return cfg


def profile_steps(cfg: TrainerConfig) -> int:
    """How many training steps trainer.profile asks for (0 = profiling off)."""
    if cfg.profile is True:
        return PROFILE_STEPS
    return 0 if cfg.profile is False else int(cfg.profile)


def describe(cfg: TrainerConfig) -> str | None:
    """One console line saying which debug mode runs and what it changed; None when none does."""
    parts = []
    if cfg.fast_dev_run:
        parts.append("fast: 1 epoch of 1 train, 1 val and 1 test batch")
    if cfg.overfit_batches > 0:
        parts.append(
            f"overfit: {cfg.max_epochs} epochs on {cfg.overfit_batches} fixed training batches, validated on the "
            "same batches; no dropout, weight decay, L1/L2, label smoothing, augmentation or early stopping"
        )
    if profile_steps(cfg):
        parts.append(f"profile: {profile_steps(cfg)} training steps under torch.profiler")
    if cfg.detect_anomaly:
        parts.append("anomaly: autograd anomaly detection on (slow)")
    limits = [
        f"{split} {value}"
        for split in ("train", "val", "test")
        if (value := getattr(cfg, f"limit_{split}_batches")) is not None
    ]
    if limits and not cfg.fast_dev_run:
        parts.append("batches limited to " + ", ".join(limits))
    return "debug mode: " + "; ".join(parts) if parts else None


# ---------------------------------------------------------------------------- batches
def limit_count(limit: int | float | None, available: int) -> int:
    """Batches to take of `available`: a count, or a fraction of them (at least 1)."""
    if limit is None:
        return available
    if isinstance(limit, float):
        return min(available, max(1, int(available * limit)))
    return min(available, int(limit))


class LimitedBatches:
    """The first `limit` batches of each pass over `inner` (which keeps its own per-epoch shuffling)."""

    def __init__(self, inner, limit: int | float | None):
        self.inner, self.limit = inner, limit
        self.skipped = 0

    def __len__(self) -> int:
        return limit_count(self.limit, len(self.inner))

    def __iter__(self) -> Iterator:
        skipped, self.skipped = self.skipped, 0
        return islice(iter(self.inner), max(0, len(self) - skipped))

    def skip(self, batches: int) -> None:
        self.inner.skip(batches)
        self.skipped = batches

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)


class FixedBatches(list):
    """The same batches, in the same order, every epoch (overfit mode)."""

    skipped = 0

    def set_epoch(self, epoch: int) -> None: ...

    def skip(self, batches: int) -> None:
        self.skipped = batches

    def __iter__(self) -> Iterator:
        skipped, self.skipped = self.skipped, 0
        return islice(super().__iter__(), skipped, None)


def fit_batches(cfg: TrainerConfig, data, batches, val_batches, batch_size: int):
    """The training and validation batches the loop uses under the debug keys (unchanged when none is set)."""
    if cfg.overfit_batches > 0:
        unshuffled = data.batches("train", batch_size, train=False)  # file order, no augmentation
        fixed = FixedBatches(islice(iter(unshuffled), cfg.overfit_batches))
        return fixed, (fixed if val_batches is not None else None)
    if cfg.limit_train_batches is not None:
        batches = LimitedBatches(batches, cfg.limit_train_batches)
    if cfg.limit_val_batches is not None and val_batches is not None:
        val_batches = LimitedBatches(val_batches, cfg.limit_val_batches)
    return batches, val_batches


def train_batch_count(cfg: TrainerConfig, available: int) -> int:
    """How many of `available` training batches an epoch has under the debug keys (as `fit_batches` takes them)."""
    if cfg.overfit_batches > 0:
        return min(cfg.overfit_batches, available)
    return limit_count(cfg.limit_train_batches, available)


def test_batches(cfg: TrainerConfig, batches):
    """The test batches under trainer.limit_test_batches."""
    if batches is None or cfg.limit_test_batches is None:
        return batches
    return LimitedBatches(batches, cfg.limit_test_batches)


# ---------------------------------------------------------------------------- overfit mode
_REGULARIZERS = re.compile(r"(^|_)dropout$|^weight_decay$|^label_smoothing$")


def without_regularization(cfg: DictConfig) -> DictConfig:
    """A copy of the run's config with every regularizer off: dropout, weight decay, label smoothing (in the
    model, optimizer and task nodes, nested ones included), the regularization group's L1/L2 and augmentation."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    for group in ("model", "optimizer", "task"):
        _zero_regularizers(plain.get(group))
    if isinstance(plain.get("regularization"), dict):
        plain["regularization"].update(l1=0.0, l2=0.0)
    augment = (plain.get("dataset") or {}).get("augment")
    if isinstance(augment, dict):
        plain["dataset"]["augment"] = {
            k: (0 if isinstance(v, int) and not isinstance(v, bool) else False) for k, v in augment.items()
        }
    return OmegaConf.create(plain)


def _zero_regularizers(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _zero_regularizers(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if _REGULARIZERS.search(str(key)) and isinstance(value, (int, float, list)) and not isinstance(value, bool):
                node[key] = [0.0] * len(value) if isinstance(value, list) else 0.0
            else:
                _zero_regularizers(value)


def overfit_verdict(history: list[dict[str, float]], batches: int) -> dict[str, Any]:
    """Did an overfit run memorize its batches? Last train loss < 0.01 and, when there is one, train accuracy 1."""
    last = history[-1] if history else {}
    loss, accuracy = last.get("train/loss", math.nan), last.get("train/accuracy")
    memorized = loss < MEMORIZED_LOSS and (accuracy is None or accuracy == 1.0)
    shown = f"train loss {loss:.4g}" + (f", train accuracy {accuracy:.4f}" if accuracy is not None else "")
    verdict = "memorized" if memorized else "did NOT memorize"
    hint = "" if memorized else " (check the model, loss, labels and learning rate before training for real)"
    line = (
        f"overfit check: the model {verdict} {batches} batch{'es' if batches > 1 else ''} after "
        f"{len(history)} epochs: {shown} (memorized = loss < {MEMORIZED_LOSS}"
        f"{' and accuracy 1.0' if accuracy is not None else ''}){hint}"
    )
    return {"memorized": memorized, "train_loss": loss, "train_accuracy": accuracy, "line": line}


# ---------------------------------------------------------------------------- anomaly mode
_ANOMALY = re.compile(r"Function '(\w+)' returned (nan|inf) values in its (\d+)\w* output")


@contextlib.contextmanager
def anomaly_detection(enabled: bool, trainer=None):
    """torch.autograd anomaly detection around training; its error becomes one line naming the operation (and the
    line of the forward pass that made it, from the warning torch emits, which is shown as well)."""
    if not enabled:
        yield
        return
    import torch

    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            with torch.autograd.detect_anomaly(check_nan=True):
                yield
    except RuntimeError as exc:
        found = _ANOMALY.search(str(exc))
        if found is None:
            raise
        forward = next((forward_line(str(w.message)) for w in reversed(caught) if _FORWARD in str(w.message)), None)
        raise TrainingDiverged(anomaly_message(found, trainer, forward)) from None
    finally:
        for w in caught:  # shown as they would have been (after catch_warnings has given showwarning back)
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


_FORWARD = "Traceback of forward call that caused the error"
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s+(.+)')


def forward_line(warning: str) -> str | None:
    """`file:line (code)` of the innermost frame of anomaly mode's forward traceback outside torch itself."""
    frames = _FRAME.findall(warning.split(_FORWARD, 1)[-1])
    if not frames:
        return None
    outside = [f for f in frames if "/torch/" not in f[0].replace("\\", "/")]
    path, line, _, code = (outside or frames)[-1]
    return f"{path}:{line} ({code.strip()})"


def anomaly_message(found: re.Match, trainer=None, forward: str | None = None) -> str:
    op, kind, index = found.group(1), found.group(2), found.group(3)
    name = re.sub(r"Backward\d*$", "", op).lower() or op
    where = f" at epoch {trainer.epoch}" if trainer is not None and trainer.epoch else ""
    made = f"; forward call: {forward}" if forward else ""
    return f"autograd anomaly{where}: {op} (the backward of {name}) returned {kind} values in its output {index}{made}"
