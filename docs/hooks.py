"""MkDocs hooks of dlrun's documentation site (listed under `hooks:` in mkdocs.yml).

- docs/reference/config.md: the marker CONFIG_MARKER is replaced by the Markdown that
  `dlrun.reference.config_markdown()` returns, so the config reference is generated from the schema
  on every build and cannot drift from the code.
- docs/reference/cli.md: the marker CLI_MARKER is replaced by a reference generated from the typer app
  `dlrun.cli.app` (through click): every command's usage line, help text, arguments and options.
- CHANGELOG.md at the repository root, when there is one, becomes the page changelog.md and is added
  at the end of the navigation; its links to `docs/PAGE.md` are rewritten to the pages (other links
  relative to the repository root would not resolve inside the site, and --strict reports them).

The build fails (it never silently skips a section) when a marker is missing or the schema cannot be
imported: a reference page without its reference would be wrong, not just short.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parent.parent
CONFIG_MARKER = "<!-- dlrun:config-reference -->"
CLI_MARKER = "<!-- dlrun:cli-reference -->"
CHANGELOG = REPO / "CHANGELOG.md"
CHANGELOG_PAGE = "changelog.md"


def _use_checkout() -> None:
    """Document the checkout being built, whatever copy of dlrun the environment has installed.

    (MkDocs restores sys.path after loading this file, so this runs from the build events.)"""
    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))


# ---------------------------------------------------------------- build events

def on_config(config):
    """Put the checkout's src/ first on the import path; add the changelog to the navigation when the
    repository has a CHANGELOG.md."""
    _use_checkout()
    if CHANGELOG.is_file() and config.nav is not None:
        if not any(isinstance(item, dict) and "Changelog" in item for item in config.nav):
            config.nav.append({"Changelog": CHANGELOG_PAGE})
    return config


def on_files(files, config):
    """Serve the repository's CHANGELOG.md as the page changelog.md (the file stays at the root)."""
    if CHANGELOG.is_file() and files.get_file_from_path(CHANGELOG_PAGE) is None:
        files.append(File.generated(config, CHANGELOG_PAGE, abs_src_path=str(CHANGELOG)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Fill the two generated reference pages; point the changelog's links to docs/ at the pages."""
    uri = page.file.src_uri
    if uri == CHANGELOG_PAGE and page.file.abs_src_path == str(CHANGELOG):
        return re.sub(r"\]\((?:\./)?docs/", "](", markdown)
    if uri == "reference/config.md":
        return _replace(markdown, CONFIG_MARKER, config_reference(), uri)
    if uri == "reference/cli.md":
        return _replace(markdown, CLI_MARKER, cli_reference(), uri)
    return markdown


def _replace(markdown: str, marker: str, generated: str, uri: str) -> str:
    if marker not in markdown:
        raise PluginError(f"docs/{uri} must contain the line {marker}: the hook replaces it with the generated reference")
    return markdown.replace(marker, generated.strip() + "\n")


# ---------------------------------------------------------------- config reference (from the schema)

def config_reference() -> str:
    """`dlrun.reference.config_markdown()`, with its headings placed under the page title (level 2 and below)."""
    _use_checkout()
    try:
        reference = importlib.import_module("dlrun.reference")
    except ImportError as exc:
        raise PluginError(f"the config reference needs dlrun.reference.config_markdown(), which cannot be imported: {exc}")
    function = getattr(reference, "config_markdown", None)
    if not callable(function):
        raise PluginError("dlrun.reference has no function config_markdown()")
    text = function()
    if not isinstance(text, str) or not text.strip():
        raise PluginError(f"dlrun.reference.config_markdown() must return non-empty Markdown, got {type(text).__name__}")
    check_tables(text, "dlrun.reference.config_markdown()")
    return demote_headings(text, top=2)


def _cells(row: str) -> int:
    """Cells of a Markdown table row: pipes outside code spans and not escaped separate them."""
    row = re.sub(r"`[^`]*`", "code", row.strip())
    row = row.replace("\\|", "")
    return len(row.strip("|").split("|"))


def check_tables(text: str, source: str) -> None:
    """Fail on a table row whose cell count differs from its header's (a bare `|` inside a cell splits it)."""
    header = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            header = None
            continue
        if header is None:
            header = _cells(line)
        elif _cells(line) != header:
            raise PluginError(f"{source}: this table row has {_cells(line)} cells where its header has {header} "
                              f"(write a | inside a cell as \\| or inside `code`): {line.strip()}")


def demote_headings(text: str, top: int = 2) -> str:
    """Shift ATX headings (outside code fences) so the highest one is level `top`."""
    lines = text.splitlines()
    fence = None
    levels: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        mark = re.match(r"(`{3,}|~{3,})", stripped)
        if mark:
            if fence is None:
                fence = mark.group(1)[0]
            elif stripped.startswith(fence * 3):
                fence = None
            continue
        heading = re.match(r"(#{1,6})\s", line)
        if fence is None and heading:
            levels.append((i, len(heading.group(1))))
    if not levels:
        return text
    shift = top - min(level for _, level in levels)
    if shift <= 0:
        return text
    for i, level in levels:
        lines[i] = "#" * min(6, level + shift) + lines[i][level:]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- command-line reference (from the typer app)

def cli_reference() -> str:
    import typer.main

    _use_checkout()
    from dlrun.cli import app

    group = typer.main.get_command(app)  # a click group (typer may carry its own copy of click)
    root = group.context_class(group, info_name="dlrun")
    out = ["## Global options", "", "Given before the command: `dlrun [OPTIONS] COMMAND [ARGS]...`", ""]
    out += _param_table(group.params, allow_extra=False)
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        extra = bool((command.context_settings or {}).get("allow_extra_args"))
        usage = " ".join([f"dlrun {name}", "[OPTIONS]", *(_usage_word(p) for p in command.params
                                                             if p.param_type_name == "argument")])
        if extra:
            usage += " [ARGS]..."
        out += ["", f"## `dlrun {name}`", "", _help_text(command.help), "", "```", usage, "```", ""]
        out += _param_table(command.params, allow_extra=extra, command=name)
    return "\n".join(out) + "\n"


def _help_text(text: str | None) -> str:
    return re.sub(r"\s*\n\s*", " ", (text or "").replace("\b", "")).strip()


def _param_table(params, allow_extra: bool, command: str = "") -> list[str]:
    rows = []
    for param in params:
        if getattr(param, "hidden", False):
            continue
        help_text = _help_text(getattr(param, "help", None))
        if param.param_type_name == "argument":
            name = f"`{param.metavar or param.name.upper()}`"
            default = "required" if param.required else _default(param.default)
        else:
            names = list(param.opts) + list(param.secondary_opts)
            name = ", ".join(f"`{n}`" for n in names)
            if not param.is_flag:
                name += f" `{param.metavar or _type_name(param)}`"
            default = "off" if param.is_flag and not param.default else _default(param.default)
        rows.append(f"| {name} | {default} | {_cell(help_text)} |")
    rows.append("| `--help` | | Show the command's help and exit. |")
    if allow_extra:
        flags = " and Hydra's own flags (`-m`, `--cfg job`, `hydra.run.dir=...`)" if command == "train" else ""
        rows.append("| `ARGS...` | | Config overrides (`key=value`, `group=option`, `+experiment=NAME`)"
                    f"{flags}; they pass through to Hydra. |")
    return ["| argument or option | default | description |", "| --- | --- | --- |", *rows]


def _usage_word(param) -> str:
    word = param.metavar or param.name.upper()
    return word if param.required else f"[{word}]"


def _type_name(param) -> str:
    """INTEGER, TEXT, PATH...: from click's type where it has one, else from typer's annotation."""
    kind = getattr(param, "type", None)
    if kind is not None and getattr(kind, "name", None):
        return kind.name.upper()
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    names = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "Path": "PATH", "PosixPath": "PATH"}
    return names.get(getattr(annotation, "__name__", ""), "VALUE")


def _default(value) -> str:
    if value is None:
        return ""
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
