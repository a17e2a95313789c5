"""Writing a matplotlib figure atomically (a PNG appears complete or not at all), and closing it."""

from __future__ import annotations

from pathlib import Path

from dlrun.rundir import atomic_open


def save_png(figure, path: Path, dpi: int = 100) -> Path:
    import matplotlib.pyplot as plt

    with atomic_open(path, "wb") as f:
        figure.savefig(f, format="png", dpi=dpi)
    plt.close(figure)
    return path


def new_figure(*args, **kwargs):
    """plt.subplots on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)
