"""One registry type (name -> factory) for every kind of component.

    MODELS = Registry("model")

    @MODELS.register("mlp")
    def mlp(info, hidden=(64,), ...): ...

    MODELS.build("mlp", info, hidden=[128])

`build` checks the config's keyword arguments against the factory's signature before calling it, so
an unknown key or a value of the wrong type fails with a message naming the config key.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from dlrun.errors import ConfigError, did_you_mean


class Registry:
    def __init__(self, kind: str, plural: str | None = None):
        self.kind = kind
        self.plural = plural or kind + "s"
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str | None = None) -> Callable:
        """Decorator: `@REGISTRY.register("name")` (name defaults to the function name)."""

        def decorator(factory: Callable) -> Callable:
            key = name or factory.__name__
            if key in self._factories and self._factories[key] is not factory:
                raise ValueError(f"{self.kind} '{key}' is already registered")
            self._factories[key] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def get(self, name: str) -> Callable:
        if name not in self._factories:
            known = ", ".join(self.names())
            raise ConfigError(
                f"unknown {self.kind} '{name}'. Known {self.plural}: {known}.{did_you_mean(name, self.names())}"
            )
        return self._factories[name]

    def describe(self, name: str) -> str:
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""

    def check(self, name: str, kwargs: dict, where: str, injected: int = 0) -> None:
        """Validate config kwargs against the factory's signature without building anything."""
        check_kwargs(self.get(name), kwargs, where, skip=injected)

    def build(self, name: str, *args: Any, where: str | None = None, **kwargs: Any) -> Any:
        factory = self.get(name)
        check_kwargs(factory, kwargs, where or self.kind, skip=len(args))
        return factory(*args, **kwargs)


def _params(fn: Callable) -> list[inspect.Parameter]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(fn):
        params = params[1:]  # self
    return params


def check_kwargs(fn: Callable, kwargs: dict, where: str, skip: int = 0) -> None:
    """Raise ConfigError for a key the callable does not take or a value of the wrong type."""
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
    hints = _type_hints(fn)
    for key, value in kwargs.items():
        hint = hints.get(key)
        if hint is not None and not matches_type(value, hint):
            raise ConfigError(
                f"{where}.{key} must be {type_name(hint)}, got {value!r} ({type(value).__name__})"
            )


def _type_hints(fn: Callable) -> dict[str, Any]:
    target = fn.__init__ if inspect.isclass(fn) and not hasattr(fn, "__dataclass_fields__") else fn
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: skip type checks rather than fail
        return {}


def matches_type(value: Any, hint: Any) -> bool:
    """A small runtime type check for the kinds of values a YAML config holds."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if args and origin is not tuple:
            return all(matches_type(v, args[0]) for v in value)
        return True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        if hasattr(hint, "__dataclass_fields__") and isinstance(value, dict):
            return True
        return isinstance(value, hint)
    return True


def type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (list, tuple):
        return f"a list of {type_name(args[0])}" if args else "a list"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))
