"""The YAML files of `conf/` written from the schemas, so they cannot drift from them.

    python -m dlrun.conf_files          # rewrite the generated files
    python -m dlrun.conf_files --check  # exit 1 and name the files that differ (a test runs this)

Each component of a registry group (`conf/model/mlp.yaml`...) and the defaults file of each schema group
(`conf/trainer/default.yaml`...) is generated, and so are the root keys of `config.yaml`: every key with its
default and a comment giving its type, range and doc. Presets (`conf/device/cpu.yaml`: `defaults: [auto]` plus
a few keys), the rest of the root `config.yaml` and the recipes in `experiments/` are written by hand and
checked by composing them (tests/test_schema_drift.py).
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from dlrun.config import conf_dir
from dlrun.groups import MULTI_SELECT, REGISTRIES, SCHEMAS, RootConfig
from dlrun.schema import comment_line, default_of, defaults, header_lines, hints, render_fields, schema_in

GENERATED = "Written from {where} by `python -m dlrun.conf_files`: edit the schema, not this file."


def render_component(group: str, name: str) -> str:
    registry = REGISTRIES[group]
    schema = registry.schema(name)
    lines = header_lines(schema.__doc__ or registry.describe(name))
    lines.append(f"# {GENERATED.format(where=f'{schema.__module__}.{schema.__qualname__}')}")
    nested = [f for f in fields(schema) if f.metadata.get("group")]
    if nested:
        lines.append("defaults:")
        for f in nested:
            lines.append(f"  - /{f.metadata['group']}@{f.name}: {default_of(f)['name']}")
        lines.append("  - _self_")
        lines.append("")
    lines.append(comment_line("", "name", name, f"str: registered {registry.kind} (`dlrun list {registry.plural}`)"))
    values = defaults(schema)
    for f in nested:  # only what differs from the chosen option's own defaults
        chosen = dict(values[f.name])
        option = REGISTRIES[f.metadata["group"]].schema(chosen.pop("name"))
        values[f.name] = {k: v for k, v in chosen.items() if defaults(option).get(k) != v}
    for line in render_fields(schema, values):
        lines.append(line)
    for f in nested:  # the overridden keys of a nested option, with that option's comments
        start = next(i for i, ln in enumerate(lines) if ln.startswith(f"{f.name}:"))
        option = REGISTRIES[f.metadata["group"]].schema(default_of(f)["name"])
        lines[start + 1 : start + 1] = render_fields(option, values[f.name], "  ")
        lines[start] = comment_line("", f.name, "", f"dict: {f.metadata['doc']}")
    return "\n".join(_drop_flow_value(lines, [f.name for f in nested])) + "\n"


def _drop_flow_value(lines: list[str], names: list[str]) -> list[str]:
    """A nested option's node is written as a block of its keys, not as a flow mapping on the key's line."""
    return [ln for ln in lines if not any(ln.startswith(f"{n}: {{") for n in names)]


def render_schema(group: str) -> str:
    schema, _ = SCHEMAS[group]
    lines = header_lines(schema.__doc__ or "")
    lines.append(f"# {GENERATED.format(where=f'{schema.__module__}.{schema.__qualname__}')}")
    lines += render_fields(schema, defaults(schema))
    return "\n".join(lines) + "\n"


def render_selectable(group: str, name: str) -> str:
    """One option of a group whose options are chosen together: its keys under `<group>.<name>` (Hydra's package)."""
    schema = schema_in(hints(SCHEMAS[group][0])[name])
    lines = [f"# @package {group}.{name}", *header_lines(schema.__doc__ or "")]
    lines.append(f"# {GENERATED.format(where=f'{schema.__module__}.{schema.__qualname__}')}")
    lines += render_fields(schema, defaults(schema))
    return "\n".join(lines) + "\n"


def render_root(current: str) -> str:
    """config.yaml with its root keys' lines written from `RootConfig` (the rest of the file is Hydra's)."""
    rendered = {ln.split(":", 1)[0]: ln for ln in render_fields(RootConfig, defaults(RootConfig))}
    lines = [rendered.get(ln.split(":", 1)[0], ln) if ln and not ln[0].isspace() else ln for ln in current.splitlines()]
    return "\n".join(lines) + "\n"


def generated_files() -> dict[Path, str]:
    """Every generated file of `conf/` and its text."""
    root = conf_dir()
    files = {}
    for group, registry in REGISTRIES.items():
        for name in registry.names():
            component = registry.component(name)
            if component.source == "dlrun" and component.schema is not None:
                files[root / group / f"{name}.yaml"] = render_component(group, name)
    for group, (schema, file) in SCHEMAS.items():
        if group in MULTI_SELECT:
            for f in fields(schema):
                files[root / group / f"{f.name}.yaml"] = render_selectable(group, f.name)
        else:
            files[root / group / f"{file}.yaml"] = render_schema(group)
    files[root / "config.yaml"] = render_root((root / "config.yaml").read_text(encoding="utf-8"))
    return files


def main(argv: list[str]) -> int:
    files = generated_files()
    if "--check" in argv:
        stale = [str(p) for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: {path} (run python -m dlrun.conf_files)")
        return 1 if stale else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
