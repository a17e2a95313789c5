"""Findings as text (rich, for the console), markdown (for reports) or JSON (a list of objects with kind,
severity, message, evidence, suggestion and run)."""

from __future__ import annotations

import json

from dlrun.diagnose.findings import Finding
from dlrun.errors import ConfigError

FORMATS = ("text", "markdown", "json")


def render(findings: list[Finding], fmt: str, path: str) -> str | None:
    """The markdown or JSON text; for `text`, print with rich and return None."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "json":
        return json.dumps([f.to_dict() for f in findings], indent=2)
    if fmt == "markdown":
        return markdown(findings, path)
    print_text(findings, path)
    return None


def markdown(findings: list[Finding], path: str) -> str:
    warnings = sum(f.is_warning for f in findings)
    lines = [f"## Diagnosis of `{path}`", "", f"{warnings} warning(s), {len(findings) - warnings} note(s).", ""]
    for f in findings:
        lines.append(
            f"- **{f.severity}** `{f.kind}`: {f.message}" + (f" Try `{f.suggestion}`." if f.suggestion else "")
        )
    return "\n".join(lines) + "\n"


def print_text(findings: list[Finding], path: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    warnings = sum(f.is_warning for f in findings)
    console.print(f"[bold]diagnosis of {escape(path)}[/bold]: {warnings} warning(s)")
    for f in findings:
        style = "bold yellow" if f.is_warning else "bold cyan"
        console.print(f"[{style}]{f.severity:<7}[/{style}] [bold]{f.kind}[/bold]: {escape(f.message)}")
        if f.suggestion:
            console.print(f"        try: [green]{escape(f.suggestion)}[/green]")
