"""Loading components: dlrun's own, installed packages' (entry points), and the config's `plugins:` list.

The plugin contract: a package names a module in the `dlrun.plugins` entry-point group

    [project.entry-points."dlrun.plugins"]
    my_models = "my_dlrun_models"

and that module registers components (`@MODELS.register("my_net", schema=MyNet)`, a schema dataclass of
`dlrun.schema.option` fields). Entry points are loaded before the config is composed, and every component
they register becomes an option of its config group (`model=my_net`), its keys and defaults taken from its
schema (stored in Hydra's ConfigStore), so `pip install my-dlrun-models` is all a user does. A package may
also ship YAML options and recipes of its own by storing them in the ConfigStore when imported.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from dlrun.errors import ConfigError
from dlrun.registry import loading_source

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

    load_entry_points()


def load_entry_points() -> None:
    """Import the modules installed packages name in the `dlrun.plugins` entry-point group, then make each
    component they registered an option of its config group."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in _loaded:
            continue
        dist = getattr(ep, "dist", None)
        token = loading_source.set(f"package {dist.name} {dist.version}" if dist else f"entry point {ep.name}")
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is one line naming it
            raise ConfigError(
                f"cannot load plugin entry point '{ep.name}' ({ep.value}): {type(exc).__name__}: {exc}"
            ) from None
        finally:
            loading_source.reset(token)
        _loaded.add(ep.value)
    store_plugin_options()


def load_plugins(modules: list[str]) -> None:
    """Import the user's modules (the current directory is importable, as with `python -m`)."""
    load_builtin()
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for name in modules:
        if name in _loaded:
            continue
        token = loading_source.set(f"module {name}")
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"cannot import plugin module '{name}': {type(exc).__name__}: {exc}") from None
        finally:
            loading_source.reset(token)
        _loaded.add(name)


def store_plugin_options() -> None:
    """Each component that is not dlrun's own becomes `<group>/<name>` in Hydra's ConfigStore: `name` plus its
    schema's defaults (or its factory's keyword defaults, without a schema), unless its package stored an option
    of that name itself or the user has ./conf/<group>/<name>.yaml."""
    from hydra.core.config_store import ConfigStore

    from dlrun.groups import REGISTRIES
    from dlrun.schema import defaults, plain

    store = ConfigStore.instance()
    for group, registry in REGISTRIES.items():
        stored = store.repo.get(group, {})
        for name in registry.names():
            component = registry.component(name)
            if component.source == "dlrun" or (Path.cwd() / "conf" / group / f"{name}.yaml").is_file():
                continue
            node = stored.get(f"{name}.yaml")
            if node is not None and node.provider != component.source:
                continue  # the package's own option
            if component.schema is not None:
                keys = plain(defaults(component.schema))
            elif callable(component.factory):
                keys = {
                    p.name: p.default
                    for p in inspect.signature(component.factory).parameters.values()
                    if p.default is not inspect.Parameter.empty
                }
            else:
                continue
            store.store(group=group, name=name, node={"name": name, **keys}, provider=component.source)
