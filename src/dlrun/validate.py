"""Check a composed config before anything is built: unknown keys, wrong types, values out of range,
unknown component names, bad interpolations, and the rules between groups (a GAN task needs a GAN model).

Everything here is light (no torch): a bad config is reported in a fraction of a second. Only a data set
that reads the user's files checks their columns (`check_files`), which loads pandas.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dlrun.callbacks.base import check_extra_callbacks
from dlrun.cv.config import CVConfig
from dlrun.device.config import DeviceConfig
from dlrun.errors import ConfigError, did_you_mean, raised_by_resolver
from dlrun.groups import REGISTRIES, SCHEMAS, RootConfig
from dlrun.loggers.config import LoggerConfig
from dlrun.lr_find.config import check_auto_lr
from dlrun.plots.config import PlotsConfig
from dlrun.plugins import load_plugins
from dlrun.rundir.layout import resolve_checkpoint
from dlrun.schema import check
from dlrun.trainer.config import TrainerConfig


@dataclass
class Checked:
    """The config, checked: the engine's typed groups and each component's schema instance."""

    root: RootConfig
    trainer: TrainerConfig
    device: DeviceConfig
    logger: LoggerConfig
    plots: PlotsConfig
    cv: CVConfig
    components: dict[str, Any]  # group -> instance of the chosen option's schema (dataset, model, task...)


def resolve(cfg: DictConfig) -> dict:
    """The config as plain data with every interpolation resolved, or one line naming the key that failed."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raised = raised_by_resolver(exc)  # a resolver's own one-line error (an unknown ${dlrun.data:NAME})
        raise (raised or interpolation_error(exc, cfg)) from None


def interpolation_error(exc: OmegaConfBaseException, cfg: DictConfig) -> ConfigError:
    key = getattr(exc, "full_key", None) or "?"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    written = _written(cfg, key)
    missing = message.startswith("Interpolation key '") and message.endswith("' not found")
    if missing:
        target = message.split("'")[1]
        keys = _leaf_keys(cfg)
        return ConfigError(
            f"{key}: the interpolation {written or '${' + target + '}'} names no config key "
            f"'{target}'.{did_you_mean(target, keys)}"
        )
    return ConfigError(f"{key}: cannot resolve {written or 'its value'}: {message}")


def _written(cfg: DictConfig, key: str) -> str | None:
    """The raw text of a config value (its interpolation), without resolving it."""
    try:
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
        value = parent._get_node(leaf)._value() if parent is not None else None  # noqa: SLF001 - OmegaConf's raw value
        return str(value) if isinstance(value, str) else None
    except Exception:  # noqa: BLE001 - best effort, for the message only
        return None


def _leaf_keys(cfg: DictConfig) -> list[str]:
    from dlrun.config import flatten_keys

    return flatten_keys(OmegaConf.to_container(cfg, resolve=False))


def validate(cfg: DictConfig | dict, files: bool = True) -> Checked:
    """Check everything; with `files`, also read the first rows of the user's data files."""
    plain = resolve(cfg) if OmegaConf.is_config(cfg) else dict(cfg)
    plain.pop("hydra", None)
    known = [f.name for f in fields(RootConfig)] + list(REGISTRIES) + list(SCHEMAS)
    for key in plain:
        if key not in known:
            raise ConfigError(f"unknown config key '{key}'.{did_you_mean(key, known)}")
    root = check(RootConfig, {k: v for k, v in plain.items() if k not in REGISTRIES and k not in SCHEMAS}, "")
    load_plugins(root.plugins)
    components = {group: check_component(group, plain.get(group)) for group in REGISTRIES}
    typed = {group: check(schema, plain.get(group) or {}, group) for group, (schema, _) in SCHEMAS.items()}
    check_extra_callbacks(root.callbacks)
    check_auto_lr(plain)  # optimizer.lr=auto: one optimizer, one process
    for group in ("task", "scheduler"):  # their rules across groups
        if hasattr(components[group], "check_config"):
            components[group].check_config(plain, plain[group]["name"])
    trainer, cv = typed["trainer"], typed["cv"]
    if trainer.swa and plain["task"]["name"] in ("gan", "cgan"):
        raise ConfigError("trainer.swa recomputes batch norm from the data, which a GAN's generator does not take")
    if trainer.resume not in (None, "auto"):
        if cv.folds > 1:
            raise ConfigError("trainer.resume=PATH cannot continue K-fold runs (cv.folds > 1); use trainer.resume=auto")
        resolve_checkpoint(trainer.resume, prefer="last")  # exists (not loaded here)
    if files:
        check_files(plain["dataset"])
    return Checked(root, trainer, typed["device"], typed["logger"], typed["plots"], cv, components)


def check_component(group: str, node: Any) -> Any:
    """A component group's node: its `name` among the registered ones, its keys against that one's schema; keys
    that name an option of another group (a GAN task's optimizers) are checked against that group too."""
    registry = REGISTRIES[group]
    if not isinstance(node, dict) or not node.get("name"):
        raise ConfigError(f"{group}.name must name a registered {registry.kind} (`dlrun list {registry.plural}`)")
    values = dict(node)
    name = values.pop("name")
    if not isinstance(name, str):
        raise ConfigError(f"{group}.name must be a string, got {name!r}")
    checked = registry.check(name, values, group)
    schema = registry.schema(name)
    for f in fields(schema) if schema is not None else []:
        if f.metadata.get("group"):
            _check_nested(f.metadata["group"], getattr(checked, f.name), f"{group}.{f.name}")
    return checked


def _check_nested(group: str, node: Any, where: str) -> None:
    registry = REGISTRIES[group]
    if not isinstance(node, dict) or not node.get("name"):
        raise ConfigError(f"{where} must be a {registry.kind} config with a 'name' (e.g. {{name: adam, lr: 0.0002}})")
    values = dict(node)
    registry.check(values.pop("name"), values, where)


def check_files(dataset: dict) -> None:
    """A data set's own checks of the user's files (a CSV's columns), reading only a few rows."""
    from dlrun.datasets.config import DATASETS

    name = dataset["name"]
    target = DATASETS.component(name).meta.get("check_files")
    if target is None:
        return
    module, _, attr = target.partition(":")
    values = {k: v for k, v in dataset.items() if k != "name"}
    getattr(importlib.import_module(module), attr)(**DATASETS.factory_kwargs(name, values, "dataset"))
