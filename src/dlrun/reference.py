"""The config reference as Markdown, generated from the schemas (the docs site's "Config reference" page).

`config_markdown()` walks `dlrun.groups`: the root keys, every registry group (one table per option, the
option's own keys) and every schema group (one table, with its presets listed). Light: no torch.
"""

from __future__ import annotations

from dlrun.config import conf_dir
from dlrun.groups import MULTI_SELECT, REGISTRIES, SCHEMAS, RootConfig
from dlrun.registry import Registry
from dlrun.schema import first_line, hints, reference_rows, schema_in

HEADER = "| key | type, range | default | meaning |\n| --- | --- | --- | --- |"


def cell(text: str) -> str:
    """A table cell: code spans for types and defaults, `|` escaped where it is text."""
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def table(schema: type, skip: tuple[str, ...] = ()) -> str:
    rows = [HEADER]
    for key, kind, default, doc in reference_rows(schema):
        if key.split(".")[0] in skip:
            continue
        rows.append(f"| `{key}` | {cell(code(kind))} | {cell(code(default))} | {cell(doc)} |")
    return "\n".join(rows)


def registry_section(group: str, registry: Registry) -> list[str]:
    out = [
        f"## `{group}`",
        "",
        f"Pick one with `{group}=NAME` (`dlrun list {registry.plural}`); each option's keys are set with "
        f"`{group}.KEY=VALUE`.",
        "",
    ]
    for name in registry.names():
        component = registry.component(name)
        out += [f"### `{group}={name}`", "", cell(component.doc) or "(no description)", ""]
        if component.schema is None:
            out += ["Chosen from the data set; no keys of its own.", ""]
            continue
        skip = tuple(registry.engine_keys)
        if skip:
            out += (
                [
                    "Keys read by the engine for every option of this group: "
                    + ", ".join(f"`{k}`" for k in skip)
                    + " (see the first option's table).",
                    "",
                ]
                if name != registry.names()[0]
                else []
            )
        out += [table(component.schema, skip=() if name == registry.names()[0] else skip), ""]
    return out


def schema_section(group: str, schema: type, default_file: str) -> list[str]:
    conf = conf_dir() / group
    presets = sorted(p.stem for p in conf.glob("*.yaml")) if conf.is_dir() else [default_file]
    options = ", ".join(f"`{group}={p}`" + (" (the default)" if p == default_file else "") for p in presets)
    return [f"## `{group}`", "", cell(first_line(schema)), "", f"Options: {options}.", "", table(schema), ""]


def selectable_section(group: str, schema: type, default_file: str) -> list[str]:
    """A group whose options are chosen together: one table per option, its keys under `<group>.<option>`."""
    from dataclasses import fields

    names = [f.name for f in fields(schema)]
    chosen = f"`{group}=[{','.join(names)}]`"
    out = [f"## `{group}`", "", cell(first_line(schema)), ""]
    out += [
        f"Options, one or several at once ({chosen}; `{group}=none` for none): "
        + ", ".join(f"`{group}={n}`" + (" (the default)" if n == default_file else "") for n in names)
        + f". Each option's keys are set with `{group}.OPTION.KEY=VALUE`.",
        "",
    ]
    for name in names:
        option = schema_in(hints(schema)[name])
        out += [f"### `{group}={name}`", "", cell(first_line(option)), "", table(option), ""]
    return out


def config_markdown() -> str:
    """Every config group, option and key: type, range, default and the one-line doc, as Markdown tables."""
    out = ["## Root keys", "", cell(first_line(RootConfig)), "", table(RootConfig), ""]
    for group, (schema, default_file) in SCHEMAS.items():
        section = selectable_section if group in MULTI_SELECT else schema_section
        out += section(group, schema, default_file)
    for group, registry in REGISTRIES.items():
        out += registry_section(group, registry)
    return "\n".join(out).rstrip() + "\n"
