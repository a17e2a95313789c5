"""One registry type (name -> component) for every kind of component.

A component is a name, a config schema (a dataclass of `dlrun.schema.option` fields: its keys) and a
factory that builds it. dlrun's own components are declared on their schema, in the light `config.py`
module of their package, with the factory named by import path so that listing and checking never
import torch:

    @MODELS.declare("mlp", factory="dlrun.models.mlp:mlp")
    @dataclass
    class MLP:
        \"\"\"Multi-layer perceptron.\"\"\"
        hidden: list[int] = option([64], "widths of the hidden layers")

Users and plugin packages register a factory directly, with or without a schema:

    @MODELS.register("my_net", schema=MyNet)
    def my_net(info, width): ...

`build` checks the config's keys against the schema (or, without one, the factory's signature) and passes
the checked values to the factory as keyword arguments, after what the engine injects (the data's
`DataInfo` for a model, the parameters for an optimizer...).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

from dlrun.errors import ConfigError, did_you_mean
from dlrun.schema import check, first_line, matches_type, type_name

# Set by dlrun.plugins while an entry point or a `plugins:` module is imported: where components come from.
loading_source: ContextVar[str | None] = ContextVar("loading_source", default=None)


@dataclass
class Component:
    name: str
    schema: type | None  # the config keys; None: checked against the factory's signature
    factory: Callable | str | None  # a callable, or "module:attribute" imported on first use
    doc: str
    source: str  # dlrun, "package NAME VERSION" (entry point) or "module NAME" (plugins: list)
    meta: dict = field(default_factory=dict)


class Registry:
    def __init__(
        self, kind: str, plural: str | None = None, group: str | None = None, engine_keys: tuple[str, ...] = ()
    ):
        self.kind = kind
        self.plural = plural or kind + "s"
        self.group = group  # the config group whose options name these components (conf/<group>/)
        self.engine_keys = engine_keys  # schema keys the engine uses itself, not passed to the factory
        self._components: dict[str, Component] = {}

    # ---- adding components
    def declare(self, name: str, factory: str | None, doc: str | None = None, **meta: Any) -> Callable:
        """Decorator on a schema dataclass: a component whose factory is imported by path when first built."""

        def decorator(schema: type) -> type:
            self._add(Component(name, schema, factory, doc or first_line(schema), _source(schema), meta))
            return schema

        return decorator

    def register(self, name: str | None = None, schema: type | None = None, **meta: Any) -> Callable:
        """Decorator on a factory: `@REGISTRY.register("name", schema=MySchema)` (name defaults to the function's)."""

        def decorator(factory: Callable) -> Callable:
            doc = inspect.getdoc(factory) or ""
            self._add(
                Component(
                    name or factory.__name__,
                    schema,
                    factory,
                    doc.splitlines()[0] if doc else "",
                    _source(factory),
                    meta,
                )
            )
            return factory

        return decorator

    def add_lazy(self, name: str, factory: str, doc: str) -> None:
        """A component without config keys (a loss, a metric), imported by path when first used."""
        self._add(Component(name, None, factory, doc, "dlrun"))

    def _add(self, component: Component) -> None:
        old = self._components.get(component.name)
        if old is not None and _identity(old) != _identity(component):
            raise ConfigError(f"{self.kind} '{component.name}' is already registered (by {old.source})")
        self._components[component.name] = component

    # ---- looking up
    def names(self) -> list[str]:
        return sorted(self._components)

    def __contains__(self, name: str) -> bool:
        return name in self._components

    def component(self, name: str) -> Component:
        if name not in self._components:
            known = ", ".join(self.names())
            raise ConfigError(
                f"unknown {self.kind} '{name}'. Known {self.plural}: {known}.{did_you_mean(name, self.names())}"
            )
        return self._components[name]

    def get(self, name: str) -> Callable:
        """The factory of `name` (imported on first use for declared components)."""
        component = self.component(name)
        if isinstance(component.factory, str):
            module, _, attr = component.factory.partition(":")
            component.factory = getattr(importlib.import_module(module), attr)
        if component.factory is None:
            raise ConfigError(f"{self.kind} '{name}' is chosen from the data, not built directly")
        return component.factory

    def schema(self, name: str) -> type | None:
        return self.component(name).schema

    def describe(self, name: str) -> str:
        return self.component(name).doc

    def source(self, name: str) -> str:
        return self.component(name).source

    # ---- checking and building
    def check(self, name: str, kwargs: dict, where: str, injected: int = 0) -> Any:
        """The config keys of `name` checked against its schema (an instance of it), without building anything.
        Components without a schema are checked against their factory's signature (which imports it)."""
        schema = self.schema(name)
        if schema is not None:
            return check(schema, kwargs, where)
        kwargs = {k: v for k, v in kwargs.items() if k not in self.engine_keys}  # the engine's, not the factory's
        check_kwargs(self.get(name), kwargs, where, skip=injected)
        return kwargs

    def factory_kwargs(self, name: str, kwargs: dict, where: str, injected: int = 0) -> dict:
        """What the factory of `name` is called with: the checked keys, defaults filled, minus the engine's keys."""
        checked = self.check(name, kwargs, where, injected)
        if self.schema(name) is None:
            return checked
        return {f.name: getattr(checked, f.name) for f in fields(self.schema(name)) if f.name not in self.engine_keys}

    def build(self, name: str, *args: Any, where: str | None = None, **kwargs: Any) -> Any:
        values = self.factory_kwargs(name, kwargs, where or self.kind, injected=len(args))
        return self.get(name)(*args, **values)


def _identity(component: Component) -> tuple[str, str]:
    """What makes two registrations the same one (a module imported twice registers the same names again)."""

    def name(obj: Any) -> str:
        if obj is None or isinstance(obj, str):
            return str(obj)
        return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', repr(obj))}"

    return name(component.factory if component.schema is None else component.schema), name(component.factory)


def _source(obj: Any) -> str:
    loading = loading_source.get()
    if loading is not None:
        return loading
    module = getattr(obj, "__module__", "") or ""
    return "dlrun" if module == "dlrun" or module.startswith("dlrun.") else f"module {module}"


def _params(fn: Callable) -> list[inspect.Parameter]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(fn):
        params = params[1:]  # self
    return params


def factory_parameters(fn: Callable, skip: int = 0) -> list[inspect.Parameter]:
    """The parameters of a factory after the `skip` the engine injects (for the schema-drift test)."""
    return [p for p in _params(fn)[skip:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def check_kwargs(fn: Callable, kwargs: dict, where: str, skip: int = 0) -> None:
    """For a factory without a schema: a key it does not take or a value of the wrong type is a ConfigError."""
    import typing

    params = _params(fn)[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        named = {p.name: p for p in params}
        unknown = []
    else:
        named = {p.name: p for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
        unknown = [k for k in kwargs if k not in named]
    if unknown:
        key = f"{where}.{unknown[0]}"
        raise ConfigError(f"unknown config key '{key}'.{did_you_mean(key, [f'{where}.{n}' for n in named])}")
    try:
        hints = typing.get_type_hints(fn.__init__ if inspect.isclass(fn) else fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: skip type checks rather than fail
        hints = {}
    for key, value in kwargs.items():
        hint = hints.get(key)
        if hint is not None and not matches_type(value, hint):
            raise ConfigError(f"{where}.{key} must be {type_name(hint)}, got {value!r} ({type(value).__name__})")
