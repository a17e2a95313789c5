"""Config schemas: every key of every config group is declared once, in a dataclass, with `option()`.

    @dataclass
    class Adam:
        \"\"\"Adam (torch.optim.Adam).\"\"\"
        lr: float = option(1e-3, "learning rate", gt=0)

A field's name, type, default, range and one-line doc live in its declaration. From the schemas come:
the check of a composed config (`check`: unknown keys with a did-you-mean, wrong types, values out of
range, one line each), the YAML files of `conf/` (`render_yaml`, written by `python -m dlrun.conf_files`
and compared by a test, so they cannot drift) and the config reference of the docs (`dlrun.reference`).

This module imports no torch: checking a config takes a fraction of a second.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import MISSING, field, fields
from typing import Any

from dlrun.errors import ConfigError, did_you_mean

REQUIRED = MISSING  # option(REQUIRED, "...") declares a key without a default


def option(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    group: str | None = None,
) -> Any:
    """A config key: its default, a one-line doc and an optional range (applied to a number, or to each number of
    a list). `group` marks a key whose value is an option of another config group (a GAN's optimizers)."""
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "group": group}
    if default is REQUIRED:
        return field(metadata=meta)
    if isinstance(default, (list, dict, tuple)) or dataclasses.is_dataclass(default):
        frozen = copy.deepcopy(list(default) if isinstance(default, tuple) else default)
        return field(default_factory=lambda: copy.deepcopy(frozen), metadata=meta)
    return field(default=default, metadata=meta)


def doc_of(f: dataclasses.Field) -> str:
    return f.metadata.get("doc", "")


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def defaults(schema: type) -> dict:
    """The schema's defaults as plain YAML-ready data (nested dataclasses become mappings)."""
    return {f.name: plain(default_of(f)) for f in fields(schema)}


def plain(value: Any) -> Any:
    if value is MISSING:
        return "???"  # OmegaConf's mandatory value: a required key the user must set
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


# ---------------------------------------------------------------- checking values


def check(schema: type, values: Any, where: str, skip: tuple[str, ...] = ()):
    """`values` (a mapping from the config) as an instance of `schema`, or one ConfigError naming the key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {values!r}")
    declared = {f.name: f for f in fields(schema)}
    known = [n for n in declared if n not in skip]
    for key in values:
        if key not in declared and key not in skip:
            full = join(where, key)
            raise ConfigError(f"unknown config key '{full}'.{did_you_mean(full, [join(where, n) for n in known])}")
    types_ = hints(schema)
    kwargs = {}
    for name, f in declared.items():
        if name in values and name not in skip:
            kwargs[name] = check_value(values[name], types_[name], join(where, name), f.metadata)
        elif default_of(f) is MISSING:
            raise ConfigError(f"{join(where, name)} must be set ({doc_of(f)})")
    try:
        return schema(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def join(where: str, key: str) -> str:
    """The dotted name of `key` under the node `where` (the root node is '')."""
    return f"{where}.{key}" if where else key


def check_value(value: Any, hint: Any, key: str, meta: dict | None = None) -> Any:
    """One value against its declared type (nested schemas are checked key by key) and range."""
    meta = meta or {}
    nested = schema_in(hint)
    if nested is not None and isinstance(value, dict):
        return check(nested, value, key)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args and schema_in(args[0]) is not None and isinstance(value, list):
        return [check(schema_in(args[0]), v, f"{key}[{i}]") for i, v in enumerate(value)]
    if not matches_type(value, hint):
        choices = literal_choices(hint)
        hint_text = did_you_mean(str(value), [str(c) for c in choices]) if isinstance(value, str) and choices else ""
        got = f"{value!r}" if choices else f"{value!r} ({type(value).__name__})"
        raise ConfigError(f"{key} must be {type_name(hint)}, got {got}" + (f".{hint_text}" if hint_text else ""))
    check_range(value, meta, key)
    return value


def check_range(value: Any, meta: dict, key: str) -> None:
    numbers = value if isinstance(value, list) else [value]
    for v in numbers:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        ge, gt, le, lt = (meta.get(k) for k in ("ge", "gt", "le", "lt"))
        if (
            (ge is not None and v < ge)
            or (gt is not None and v <= gt)
            or (le is not None and v > le)
            or (lt is not None and v >= lt)
        ):
            raise ConfigError(f"{key} must be {range_text(meta)}, got {value!r}")


def range_text(meta: dict) -> str:
    lo = ("[", meta["ge"]) if meta.get("ge") is not None else ("(", meta["gt"]) if meta.get("gt") is not None else None
    hi = ("]", meta["le"]) if meta.get("le") is not None else (")", meta["lt"]) if meta.get("lt") is not None else None
    if lo and hi:
        return f"in {lo[0]}{_num(lo[1])}, {_num(hi[1])}{hi[0]}"
    if lo:
        return f"{'>=' if lo[0] == '[' else '>'} {_num(lo[1])}"
    if hi:
        return f"{'<=' if hi[0] == ']' else '<'} {_num(hi[1])}"
    return ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def schema_in(hint: Any) -> type | None:
    """The dataclass a hint names (also inside `X | None`)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(hint) if isinstance(a, type) and dataclasses.is_dataclass(a)]
        return found[0] if found else None
    return None


def literal_choices(hint: Any) -> list:
    if typing.get_origin(hint) is typing.Literal:
        return list(typing.get_args(hint))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(hint) for c in literal_choices(a)]
    return []


def matches_type(value: Any, hint: Any) -> bool:
    """A small runtime type check for the kinds of values a YAML config holds."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args) or (
            isinstance(value, int) and not isinstance(value, bool) and value in args
        )
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
        if origin is tuple and args and Ellipsis not in args:  # a fixed length: (beta1, beta2)
            return len(value) == len(args) and all(matches_type(v, a) for v, a in zip(value, args, strict=True))
        if args:
            return all(matches_type(v, args[0]) for v in value)
        return True
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return False
        return not args or all(matches_type(v, args[1]) for v in value.values())
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return isinstance(value, (dict, hint))
        return isinstance(value, hint)
    return True


def type_name(hint: Any) -> str:
    """A hint in words, for error messages: `an integer or null`, `one of 'min', 'max'`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin is tuple and args and Ellipsis not in args:
        return f"a list of {len(args)} {plural(args[0])}"
    if origin in (list, tuple):
        return f"a list of {plural(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    words = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        dict: "a mapping",
        Any: "any value",
    }
    if hint in words:
        return words[hint]
    return f"a mapping ({hint.__name__})" if dataclasses.is_dataclass(hint) else getattr(hint, "__name__", str(hint))


def plural(hint: Any) -> str:
    """The items of a list in words: `integers`, `strings or nulls`, `mappings (ConvBlock)`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(plural(a) for a in args)
    words = {
        int: "integers",
        float: "numbers",
        bool: "booleans",
        str: "strings",
        type(None): "nulls",
        dict: "mappings",
        Any: "values",
    }
    if hint in words:
        return words[hint]
    if dataclasses.is_dataclass(hint):
        return f"mappings ({hint.__name__})"
    return type_name(hint)


def type_text(hint: Any) -> str:
    """A hint in short form, for YAML comments and the reference: `int`, `list[str]|null`, `auto|min|max`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return "|".join(type_text(a) for a in args)
    if origin is typing.Literal:
        return "|".join(dict.fromkeys("null" if a is None else str(a) for a in args))  # 32 and "32" show once
    if hint is type(None):
        return "null"
    if origin is tuple and args and Ellipsis not in args:
        return "[" + ", ".join(type_text(a) for a in args) + "]"
    if origin in (list, tuple):
        return f"list[{type_text(args[0])}]" if args else "list"
    if origin is dict:
        return "dict"
    if hint is Any:
        return "any"
    return getattr(hint, "__name__", str(hint))


# ---------------------------------------------------------------- YAML files and the reference

COMMENT_COLUMN = 21


def yaml_value(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def comment_line(indent: str, key: str, value: str, comment: str) -> str:
    head = f"{indent}{key}:{' ' + value if value else ''}"
    return f"{head.ljust(max(COMMENT_COLUMN - 1, len(head)))} # {comment}" if comment else head


def field_comment(f: dataclasses.Field, hint: Any) -> str:
    rng = range_text(f.metadata)
    kind = type_text(hint) + (f" {rng}" if rng and not rng.startswith("in") else f" {rng}" if rng else "")
    return f"{kind}: {doc_of(f)}" if doc_of(f) else kind


def render_fields(schema: type, values: dict, indent: str = "") -> list[str]:
    """YAML lines of a schema's keys with `values` (defaults unless overridden), each with its comment."""
    lines: list[str] = []
    types_ = hints(schema)
    for f in fields(schema):
        if f.name not in values:
            continue
        value, hint = values[f.name], types_[f.name]
        nested = schema_in(hint)
        if nested is not None and isinstance(value, dict):
            lines.append(comment_line(indent, f.name, "", field_comment(f, hint)))
            lines += render_fields(nested, value, indent + "  ")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(comment_line(indent, f.name, "", field_comment(f, hint)))
            item = schema_in(typing.get_args(hint)[0]) if typing.get_args(hint) else None
            lines += [f"{indent}  - {yaml_value(_not_default(item, v) if item else v)}" for v in value]
        else:
            lines.append(comment_line(indent, f.name, yaml_value(value), field_comment(f, hint)))
    return lines


def _not_default(schema: type, values: dict) -> dict:
    """The keys of `values` that a reader needs: the required ones and those that differ from the defaults."""
    own = {f.name: default_of(f) for f in fields(schema)}
    return {k: v for k, v in values.items() if own.get(k, MISSING) is MISSING or plain(own[k]) != v}


def header_lines(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.strip().splitlines()]


# ---------------------------------------------------------------- the schemas' own docs


def first_line(schema: type) -> str:
    """The first sentence or paragraph of a schema's docstring, on one line ("" for dataclass' generated doc)."""
    doc = (schema.__doc__ or "").strip()
    if not doc or doc.startswith(schema.__name__ + "("):
        return ""
    return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())


def reference_rows(schema: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type and range, default, doc) of every key, nested keys dotted."""
    rows = []
    types_ = hints(schema)
    for f in fields(schema):
        hint = types_[f.name]
        nested = schema_in(hint)
        default = default_of(f)
        rng = range_text(f.metadata)
        kind = type_text(hint) + (f", {rng}" if rng else "")
        if nested is not None and dataclasses.is_dataclass(default):
            rows.append((prefix + f.name, kind, "", doc_of(f)))
            rows += reference_rows(nested, prefix + f.name + ".")
        else:
            rows.append(
                (prefix + f.name, kind, "required" if default is MISSING else yaml_value(plain(default)), doc_of(f))
            )
    return rows
