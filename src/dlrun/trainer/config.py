"""The `trainer` config group's schema (`conf/trainer/default.yaml` is written from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.errors import ConfigError
from dlrun.schema import option

Mode = Literal["auto", "min", "max"]
LIMIT_DOC = "a count of batches (an integer >= 1) or a fraction of them in (0, 1]; null = all"


@dataclass
class EarlyStoppingConfig:
    """Stop when a monitored history key stops improving (Keras' EarlyStopping)."""

    monitor: str = option("val/loss", "history key to watch")
    mode: Mode = option("auto", "auto = max for accuracy, f1, auc, r2..., min otherwise")
    patience: int | None = option(
        None, "epochs without improvement before stopping; null disables early stopping", ge=0
    )
    min_delta: float = option(0.0, "smallest change that counts as an improvement", ge=0)
    restore_best: bool = option(True, "at the end of training, restore the weights of the best epoch")


@dataclass
class CheckpointConfig:
    """checkpoints/last.pt every epoch, checkpoints/best.pt when the monitor improves."""

    monitor: str | None = option(
        "val/loss", "history key that picks checkpoints/best.pt (and 'best' in metrics.json); null = last.pt only"
    )
    mode: Mode = option("auto", "auto = max for accuracy-like keys, min otherwise")
    save_top_k: int = option(
        0,
        "also keep the k best epochs by the monitor as checkpoints/epoch=NNN-<monitor>=<value>.pt "
        "(-1 = every epoch, 0 = none); best.pt and last.pt are written either way",
        ge=-1,
    )
    every_n_epochs: int | None = option(
        None, "also keep checkpoints/epoch=NNN.pt every n epochs (never deleted); null = none", ge=1
    )

    def __post_init__(self):
        if self.save_top_k != 0 and self.monitor is None:
            raise ConfigError("trainer.checkpoint.save_top_k ranks epochs by trainer.checkpoint.monitor, which is null")


@dataclass
class DiagnosticsConfig:
    """Training-health signals per layer and epoch: diagnostics.csv, diagnostics.png and TensorBoard."""

    enabled: bool = option(True, "record gradient/weight norms, update ratios, dead ReLU units and activations")
    batches: int = option(2, "batches of a fixed training sample forwarded (eval mode, no grad) for activations", ge=1)
    min_samples: int = option(256, "rows in that fixed sample at least (and at least batches x batch_size)", ge=1)
    every_n_epochs: int = option(1, "record on every n-th epoch", ge=1)
    grad_every_n_steps: int = option(
        50, "measure gradient norms and update ratios on every n-th optimizer step (the first of each epoch too)", ge=1
    )


@dataclass
class TrainerConfig:
    """The training loop."""

    max_epochs: int = option(30, "epochs to train (early stopping may end sooner)", ge=1)
    batch_size: int = option(
        32, "samples per forward/backward pass (per process unless device.keep_global_batch)", ge=1
    )
    accumulate_grad_batches: int = option(
        1, "batches per optimizer step, their gradients averaged (effective batch = batch_size x this)", ge=1
    )
    resume: str | None = option(
        None,
        "auto continues from <run dir>/checkpoints/last.pt when it exists; a path "
        "continues from that checkpoint or run directory",
    )
    grad_clip: float | None = option(None, "clip the global gradient norm to this value", gt=0)
    train_metrics: bool = option(
        True, "also compute the metrics on each epoch's training pass (as Keras' history does)"
    )
    log_every_n_steps: int = option(20, "how often the progress bar reads the loss (each read syncs the device)", ge=1)
    early_stopping: EarlyStoppingConfig = option(EarlyStoppingConfig(), "stop when the monitor stops improving")
    checkpoint: CheckpointConfig = option(CheckpointConfig(), "which checkpoint is the best, which epochs are kept")
    ema: bool = option(
        False,
        "keep an exponential moving average of the weights, updated after every optimizer step; validation, "
        "test and the checkpoints' weights are the average (the raw weights are kept for resuming)",
    )
    ema_decay: float = option(0.999, "EMA decay: average = decay * average + (1 - decay) * weights", gt=0, lt=1)
    swa: bool = option(
        False,
        "stochastic weight averaging: average the weights at the end of each epoch from swa_start on; at the end "
        "the average replaces the weights (batch-norm statistics recomputed over the training data)",
    )
    swa_start: int | float = option(
        0.75, "first epoch averaged: an epoch number (>= 1), or a fraction of max_epochs in (0, 1)", gt=0
    )
    swa_lr: float | None = option(
        None,
        "from swa_start on, torch's SWALR anneals the learning rate to this value and holds it (the scheduler "
        "is no longer stepped); null = the scheduler goes on",
        gt=0,
    )
    swa_anneal_epochs: int = option(1, "epochs SWALR takes to reach swa_lr (cosine); 0 = at once", ge=0)
    # debug modes (conf/debug/*.yaml set these; see docs/debugging.md#debug-modes and dlrun.trainer.debug)
    fast_dev_run: bool = option(
        False, "one epoch of one train, one val and one test batch (replaces max_epochs and the limits)"
    )
    overfit_batches: int = option(
        0,
        "train and validate on these N fixed batches, without regularization, augmentation or early stopping; 0 = off",
        ge=0,
    )
    overfit_epochs: int = option(200, "epochs of an overfit run (replaces max_epochs when overfit_batches > 0)", ge=1)
    limit_train_batches: int | float | None = option(None, "training batches per epoch: " + LIMIT_DOC, gt=0)
    limit_val_batches: int | float | None = option(None, "validation batches per epoch: " + LIMIT_DOC, gt=0)
    limit_test_batches: int | float | None = option(None, "test batches: " + LIMIT_DOC, gt=0)
    profile: bool | int = option(
        False, "profile this many training steps with torch.profiler (true = 5) in a one-epoch run", ge=1
    )
    detect_anomaly: bool = option(False, "autograd anomaly detection: name the operation that first made a NaN/Inf")
    diagnostics: DiagnosticsConfig = option(DiagnosticsConfig(), "training-health signals per layer and epoch")

    def __post_init__(self):
        if isinstance(self.swa_start, float) and self.swa_start >= 1:
            raise ConfigError(
                "trainer.swa_start must be an epoch number (an integer >= 1) or a fraction in (0, 1), "
                f"got {self.swa_start!r}"
            )
        if self.swa and isinstance(self.swa_start, int) and self.swa_start > self.max_epochs:
            raise ConfigError(
                f"trainer.swa_start={self.swa_start} is after trainer.max_epochs={self.max_epochs}: "
                "no epoch would be averaged"
            )
        if self.swa and self.ema:
            raise ConfigError("trainer.swa and trainer.ema cannot both be on: choose one way of averaging the weights")
        if self.swa and self.early_stopping.patience is not None and self.early_stopping.restore_best:
            raise ConfigError(
                "trainer.swa replaces the final weights with their average, so early stopping cannot restore the "
                "best epoch's: set trainer.early_stopping.restore_best=false"
            )
        for split in ("train", "val", "test"):
            value = getattr(self, f"limit_{split}_batches")
            if isinstance(value, float) and value > 1:
                raise ConfigError(
                    f"trainer.limit_{split}_batches must be {LIMIT_DOC.replace('; null = all', '')}, got {value!r}"
                )
