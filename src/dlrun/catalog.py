"""`dlrun list` and `dlrun cp`: what recipes and components exist, and copying a recipe to edit it."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dlrun import config
from dlrun.errors import ConfigError, DlrunError, did_you_mean


def _registries() -> dict:
    from dlrun.callbacks import CALLBACKS
    from dlrun.datasets import DATASETS
    from dlrun.losses import LOSSES
    from dlrun.metrics import METRICS
    from dlrun.models import MODELS
    from dlrun.optimizers import OPTIMIZERS
    from dlrun.plugins import load_builtin
    from dlrun.schedulers import SCHEDULERS
    from dlrun.tasks import TASKS

    load_builtin()
    return {
        "datasets": DATASETS,
        "models": MODELS,
        "tasks": TASKS,
        "optimizers": OPTIMIZERS,
        "schedulers": SCHEDULERS,
        "losses": LOSSES,
        "metrics": METRICS,
        "callbacks": CALLBACKS,
    }


def rows(kind: str) -> list[tuple[str, str, str]]:
    """(name, source, description): source is dlrun, the package or module that registered it, or a folder."""
    if kind == "experiments":
        shipped = config.shipped_experiments_dir()
        return [
            (name, "dlrun" if path.parent == shipped else str(path.parent), config.describe_yaml(path))
            for name, path in config.list_experiments().items()
        ]
    if kind == "groups":
        return [(g, "", ", ".join(config.group_options(g))) for g in config.group_names()]
    registry = _registries()[kind]
    return [(name, registry.source(name), registry.describe(name)) for name in registry.names()]


def print_list(kind: str | None, kinds: tuple[str, ...]) -> None:
    if kind is not None and kind not in kinds:
        raise ConfigError(f"cannot list '{kind}'. Known: {', '.join(kinds)}.{did_you_mean(kind, kinds)}")
    console = Console()
    for k in [kind] if kind else kinds:
        table = Table(title=k, title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(style="dim")
        table.add_column()
        for name, source, text in rows(k):
            table.add_row(name, source, text)
        console.print(table)
        if not kind:
            console.print()


def copy_experiment(name: str, dest: Path | None, force: bool) -> Path:
    source = config.shipped_experiments_dir() / f"{name}.yaml"
    if not source.is_file():
        known = sorted(p.stem for p in config.shipped_experiments_dir().glob("*.yaml"))
        raise ConfigError(f"unknown experiment '{name}'. Known: {', '.join(known)}.{did_you_mean(name, known)}")
    target = dest or config.local_experiments_dir()
    if target.is_dir() or str(target).endswith("/") or target.suffix == "":
        target = target / f"{name}.yaml"
    if target.exists() and not force:
        raise DlrunError(f"{target} already exists (use --force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
