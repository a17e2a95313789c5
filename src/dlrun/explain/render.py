"""The console summary of `dlrun explain`: each ranking's first entries, then the files written."""

from __future__ import annotations

from pathlib import Path

SHOWN = 10


def summary_lines(result, cwd: Path | None = None) -> list[str]:
    examples = len(result.labels)
    lines = [f"{result.method} on {examples} {result.split} example{'s' * (examples != 1)} ({result.kind})"]
    for title, rows in result.rankings.items():
        lines.append(f"  {title}:")
        for rank, (name, value) in enumerate(rows[:SHOWN], start=1):
            lines.append(f"    {rank:>2}. {name:<28} {value:.4g}")
        if len(rows) > SHOWN:
            lines.append(f"        ... {len(rows) - SHOWN} more")
    lines.append("wrote:")
    lines += [f"  {_shown(f, cwd)}" for f in result.files]
    return lines


def _shown(path: Path, cwd: Path | None) -> str:
    cwd = (cwd or Path.cwd()).resolve()
    full = Path(path).resolve()
    return str(full.relative_to(cwd)) if full.is_relative_to(cwd) else str(full)
