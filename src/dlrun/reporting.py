"""The end-of-run summary table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_summary(results: dict, run_dir: Path, monitor: str) -> None:
    table = Table(title="dlrun summary", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    history = results["history"]
    table.add_row("epochs trained", str(len(history) and history[-1]["epoch"]))
    best = results.get("best") or {}
    if best:
        table.add_row(f"best {monitor}", f"{best[monitor]:.4f} (epoch {best['epoch']})")
    for key, value in (results.get("test") or {}).items():
        table.add_row(f"test {key}", f"{value:.4f}")
    if not results.get("test"):
        table.add_row("test", "no test split")
    table.add_row("run directory", str(run_dir))
    Console().print(table)
