"""Loading components: dlrun's own, installed packages' (entry points), and the config's `plugins:` list."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

from dlrun.errors import ConfigError

ENTRY_POINT_GROUP = "dlrun.plugins"
_loaded: set[str] = set()


def load_builtin() -> None:
    """Import every built-in registry module, so `dlrun list` and the config checks see them all."""
    import dlrun.callbacks  # noqa: F401
    import dlrun.datasets  # noqa: F401
    import dlrun.losses  # noqa: F401
    import dlrun.metrics  # noqa: F401
    import dlrun.models  # noqa: F401
    import dlrun.optimizers  # noqa: F401
    import dlrun.schedulers  # noqa: F401
    import dlrun.tasks  # noqa: F401

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value not in _loaded:
            try:
                ep.load()
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(f"cannot load plugin entry point '{ep.name}' ({ep.value}): {exc}") from None
            _loaded.add(ep.value)


def load_plugins(modules: list[str]) -> None:
    """Import the user's modules (the current directory is importable, as with `python -m`)."""
    load_builtin()
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"cannot import plugin module '{name}': {type(exc).__name__}: {exc}") from None
        _loaded.add(name)
