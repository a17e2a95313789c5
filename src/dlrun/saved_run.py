"""A trained run brought back from its checkpoint: the task rebuilt with its weights, its DataInfo,
preprocessing and config, without the training data. `dlrun eval`, `predict` and `sample` start here.

    load_run(path, prefer="final") -> LoadedRun      the usual entry: task ready to predict or generate
    open_run(path, prefer="final", overrides=None, command="eval") -> SavedRun
        the checkpoint and its config (overrides merged, plugins loaded) before the task is built;
        SavedRun.load(info=None) -> LoadedRun builds it (with `info` from freshly rebuilt data, or the saved one)

`path` is a run directory or a checkpoint file; `prefer` is final (the weights the run ended with, as in
its metrics.json), best or last. Weights are read with torch.load(weights_only=True) (`dlrun.rundir`).
The device is the one the run's config asks for (CPU, or CUDA when the run used it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dlrun.errors import ConfigError
from dlrun.rundir.checkpoints import open_checkpoint, restore_task


@dataclass
class LoadedRun:
    """A task rebuilt from a checkpoint, with its weights, ready to predict or generate."""

    task: Any
    task_name: str
    info: Any  # dlrun.datasets.DataInfo
    preprocessing: dict
    config: DictConfig
    checkpoint: Path
    epoch: int
    device: Any  # torch.device


@dataclass
class SavedRun:
    """An opened checkpoint: its file, its state and its config (overrides merged, plugins loaded)."""

    checkpoint: Path
    state: dict
    config: DictConfig

    @property
    def info(self):
        """The DataInfo the run trained with (shapes, kind, classes), as saved in the checkpoint."""
        from dlrun.datasets.base import DataInfo

        values = dict(self.state["data"]["info"])
        values["input_shape"] = tuple(values["input_shape"])
        return DataInfo(**values)

    @property
    def preprocessing(self) -> dict:
        """The fitted preprocessing (plain data): apply it to new rows exactly as in training."""
        return self.state["data"]["preprocessing"]

    @property
    def epoch(self) -> int:
        return self.state["trainer"]["epoch"]

    @cached_property
    def device(self):
        from dlrun.device import DeviceConfig, resolve_device

        return resolve_device(DeviceConfig(**OmegaConf.to_container(self.config.device, resolve=True)))

    def load(self, info=None) -> LoadedRun:
        """Build the task for `info` (default: the saved DataInfo) on the run's device and load its weights."""
        from dlrun.models.build import weights_from_checkpoint
        from dlrun.tasks.base import build_task, resolve_task_name

        info = info if info is not None else self.info
        info.threshold = self.info.threshold  # the decision threshold chosen in training (task.threshold=auto)
        with weights_from_checkpoint():  # no pretrained weights or model.init_from read: the checkpoint's follow
            task = build_task(self.config, info)
        task.setup(self.device, None, None)
        restore_task(task, self.state, weights_only=True, source=self.checkpoint)
        return LoadedRun(
            task,
            resolve_task_name(self.config.task.name, info),
            info,
            self.preprocessing,
            self.config,
            self.checkpoint,
            self.epoch,
            self.device,
        )


def open_run(
    path: str | Path, prefer: str = "final", overrides: list[str] | None = None, command: str = "eval"
) -> SavedRun:
    """Open the checkpoint of a run directory (or a checkpoint file) and compose its config.

    `overrides` (key=value) are merged in struct mode, so an unknown key fails as "bad override for <command>".
    """
    from dlrun.plugins import load_plugins

    ckpt_path, state = open_checkpoint(path, prefer)
    cfg = OmegaConf.create(state["config"])
    if overrides is not None:
        OmegaConf.set_struct(cfg, True)
        try:
            cfg.merge_with(OmegaConf.from_dotlist(overrides))
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"bad override for {command}: {str(exc).splitlines()[0]}") from None
    load_plugins(list(cfg.get("plugins") or []))
    return SavedRun(ckpt_path, state, cfg)


def load_run(path: str | Path, prefer: str = "final") -> LoadedRun:
    """Rebuild the task of a run directory or checkpoint file, weights loaded, with its saved DataInfo."""
    return open_run(path, prefer).load()
