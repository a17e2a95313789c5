"""The config groups of `conf/` and what checks each: a registry of components (one schema per option) or
one schema (options are presets of it). Also the root keys. Nothing here imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlrun.cv.config import CVConfig
from dlrun.datasets.config import DATASETS
from dlrun.device.config import DeviceConfig
from dlrun.fitted.config import BaselinesConfig
from dlrun.loggers.config import LoggerConfig
from dlrun.lr_find.config import LRFindConfig
from dlrun.models.config import MODELS
from dlrun.optimizers.config import OPTIMIZERS
from dlrun.plots.config import PlotsConfig
from dlrun.registry import Registry
from dlrun.regularization.config import RegularizationConfig
from dlrun.sanity.config import SanityConfig
from dlrun.schedulers.config import SCHEDULERS
from dlrun.schema import option
from dlrun.tasks.config import TASKS
from dlrun.trainer.config import TrainerConfig


@dataclass
class RootConfig:
    """dlrun's root config: pick a group with `group=option`, set a key with `key=value`, load a recipe with
    `+experiment=NAME`; `dlrun show ...` prints the composed result."""

    name: str = option("default", "run name (recipes set it); runs go to outputs/<name>/<timestamp>/")
    seed: int = option(42, "seeds Python, NumPy and torch; the same seed on CPU gives the same metrics.json")
    plugins: list[str] = option([], "Python modules imported first, so the components they register can be named")
    callbacks: list[Any] = option(
        [], "extra callbacks, each {name: <registered callback>, <argument>: <value>, ...} (`dlrun list callbacks`)"
    )


# groups whose options are components: conf/<group>/<name>.yaml holds `name: <name>` and the component's keys
REGISTRIES: dict[str, Registry] = {
    "dataset": DATASETS,
    "model": MODELS,
    "task": TASKS,
    "optimizer": OPTIMIZERS,
    "scheduler": SCHEDULERS,
}

# groups checked by one schema; the file named here holds the schema's defaults, the others are presets of it
SCHEMAS: dict[str, tuple[type, str]] = {
    "trainer": (TrainerConfig, "default"),
    "device": (DeviceConfig, "auto"),
    "logger": (LoggerConfig, "tensorboard"),
    "plots": (PlotsConfig, "default"),
    "cv": (CVConfig, "default"),
    "regularization": (RegularizationConfig, "none"),
    "sanity": (SanityConfig, "default"),
    "lr_find": (LRFindConfig, "default"),
    "baselines": (BaselinesConfig, "default"),
}

# schema groups whose options are chosen together (`logger=[tensorboard,mlflow]`, Hydra's multiple selection):
# each field of the schema is one option, conf/<group>/<field>.yaml, whose keys go under `<group>.<field>`
MULTI_SELECT = ("logger",)


def unchosen_option_hint(key: str) -> str:
    """For an unknown key of a MULTI_SELECT group: its option is not chosen (`logger.mlflow.x` without
    logger=mlflow), or the key belongs under an option (`logger.log_graph` is `logger.tensorboard.log_graph`)."""
    from dataclasses import fields

    from dlrun.schema import hints, schema_in

    group, _, rest = key.partition(".")
    if group not in MULTI_SELECT or not rest:
        return ""
    schema = SCHEMAS[group][0]
    options = {f.name: schema_in(hints(schema)[f.name]) for f in fields(schema)}
    head = rest.split(".")[0]
    if head in options:
        others = [n for n in options if n != head]
        return f" {group}={head} is not chosen: add it with {group}={head} or {group}=[{','.join([*others, head])}]"
    owners = [name for name, option in options.items() if head in {f.name for f in fields(option)}]
    return f" Did you mean '{group}.{owners[0]}.{rest}'?" if owners else ""


# groups that only set Hydra's own settings (a sweeper): not part of the job's config
HYDRA_GROUPS = ("hparams_search",)
