"""A Keras-sized callback interface: each hook gets the trainer and, at epoch end, a plain logs dict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlrun.errors import ConfigError
from dlrun.registry import Registry

if TYPE_CHECKING:
    from dlrun.trainer.loop import Trainer

CALLBACKS = Registry("callback")
CALLBACKS.add_lazy(
    "early_stopping",
    "dlrun.callbacks.early_stopping:EarlyStopping",
    "Stop when a monitored metric stops improving; optionally restore the best weights.",
)
CALLBACKS.add_lazy(
    "model_checkpoint",
    "dlrun.callbacks.checkpoint:ModelCheckpoint",
    "Write checkpoints/last.pt every epoch and checkpoints/best.pt when the monitor improves.",
)
CALLBACKS.add_lazy(
    "csv_logger",
    "dlrun.callbacks.csv_logger:CSVLogger",
    "Append each epoch's logs to history.csv in the run directory.",
)
CALLBACKS.add_lazy(
    "diagnostics",
    "dlrun.callbacks.diagnostics:Diagnostics",
    "Training-health signals per layer and epoch (trainer.diagnostics): diagnostics.csv, .png and TensorBoard.",
)


class Callback:
    """Override what you need. Lower `priority` runs first at every hook (explicit order)."""

    priority = 50

    @property
    def name(self) -> str:
        return type(self).__name__

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None: ...

    def on_train_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """After the epoch's training pass, before validation (`logs`: the training figures so far)."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict:
        """What a resumed run needs to continue exactly (plain data and tensors only)."""
        return {}

    def load_state_dict(self, state: dict) -> None: ...

    def on_before_optimizer_step(self, trainer: Trainer, optimizer, module) -> None:
        """After backward (gradients unscaled, not yet clipped), before `optimizer.step()` of `module`.

        Only callbacks that override it are called (the task's step skips the call entirely when none does).
        """

    def on_after_optimizer_step(self, trainer: Trainer, optimizer, module) -> None:
        """Right after each real `optimizer.step()` of `module` (weight averaging updates its average here).

        Only callbacks that override it are called (the task's step skips the call entirely when none does).
        """


def overrides_before_optimizer_step(callback: Callback) -> bool:
    return type(callback).on_before_optimizer_step is not Callback.on_before_optimizer_step


def overrides_after_optimizer_step(callback: Callback) -> bool:
    return type(callback).on_after_optimizer_step is not Callback.on_after_optimizer_step


def _specs(specs: list[Any]):
    """(where, name, kwargs) of each `callbacks:` entry: a name, or a mapping with a 'name' key."""
    for i, spec in enumerate(specs):
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict) or "name" not in spec:
            raise ConfigError(f"callbacks[{i}] must be a name or a mapping with a 'name' key, got {spec!r}")
        kwargs = dict(spec)
        yield f"callbacks[{i}]", kwargs.pop("name"), kwargs


def build_extra_callbacks(specs: list[Any]) -> list[Callback]:
    """`callbacks: [{name: my_callback, arg: 1}, ...]` from the config."""
    return [CALLBACKS.build(name, where=where, **kwargs) for where, name, kwargs in _specs(specs)]


def check_extra_callbacks(specs: list[Any]) -> None:
    for where, name, kwargs in _specs(specs):
        CALLBACKS.check(name, kwargs, where)
