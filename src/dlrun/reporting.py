"""The end-of-run summary table, with the model's figures beside its baselines."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dlrun.baselines import not_beaten
from dlrun.fitted.models import fit_line

log = logging.getLogger("dlrun")


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
    console = Console()
    console.print(table)
    found = results.get("baselines") or {}
    if found:
        model = model_figures(results)
        print_unwrapped(console, baseline_table(model, found))
        if results.get("baseline_fits"):
            log.info("%s", fit_line(results["baseline_fits"]))
        for label, metric, mine, base in not_beaten(model, found):
            log.warning(
                "WARNING: the model does not beat the %s baseline on %s %s (%.4f vs %.4f)",
                label,
                found["split"],
                metric,
                mine,
                base,
            )
    if results.get("threshold"):
        t = results["threshold"]
        console.print(
            f"decision threshold {t['value']:.4f}, chosen on the {t['split']} split: "
            f"{t['metric']} {t['at_0.5']:.4f} at 0.5 -> {t['chosen']:.4f}"
        )
    if results.get("test_per_class"):
        console.print(per_class_table(results["test_per_class"]))
    print_diagnosis(run_dir)


def per_class_table(report: dict) -> Table:
    """The test split's per-class precision, recall, F1 and support (scikit-learn's classification report)."""
    table = Table(title="test split: per class", show_header=True, header_style="bold")
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for name, row in report.items():
        if isinstance(row, dict):
            figures = [f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1-score']:.4f}"]
            table.add_row(name, *figures, str(int(row["support"])))
    return table


def print_diagnosis(run_dir: Path) -> None:
    """The warnings of `dlrun diagnose` on the finished run, one line each (or one 'no problems' line)."""
    from dlrun.diagnose import summary_lines

    try:
        lines = summary_lines(run_dir, shown=("below_baseline",))  # the baseline warnings are printed above
    except Exception as exc:  # noqa: BLE001 - the run is written; a diagnosis that fails must not fail it
        log.warning("diagnosis failed: %s", exc)
        return
    for line in lines:
        if line.startswith("  "):
            log.warning(line)
        else:
            log.info(line)


def model_figures(results: dict) -> dict:
    """The model's metrics on the split its baselines were scored on (the last epoch's, for validation)."""
    if results["baselines"]["split"] == "test":
        return results["test"]
    last = results["history"][-1] if results["history"] else {}
    return {k.removeprefix("val/"): v for k, v in last.items() if k.startswith("val/")}


def baseline_table(model: dict, found: dict) -> Table:
    labels = [k for k in found if k != "split"]
    table = Table(title=f"{found['split']} split: model vs baselines", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("model", justify="right")
    for label in labels:
        table.add_column(label, justify="right")
    missed = {(label, metric) for label, metric, _, _ in not_beaten(model, found)}
    metrics = [m for m in model if any(m in found[label] for label in labels)]
    for metric in metrics:
        cells = []
        for label in labels:
            value = found[label].get(metric)
            mark = " (not beaten)" if (label, metric) in missed else ""
            cells.append("-" if value is None else f"{value:.4f}{mark}")
        table.add_row(metric, f"{model[metric]:.4f}", *cells)
    return table


def print_unwrapped(console: Console, table: Table) -> None:
    """A table whose cells stay on one line when the output is not a terminal (a log file, a pipe): with the
    fitted baselines it is wider than the 80 columns rich assumes there."""
    from rich.measure import Measurement

    if console.is_terminal:
        console.print(table)
        return
    need = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(width=max(console.width, need)).print(table)
