"""diagnostics.png: the training-health signals of diagnostics.csv over epochs, one panel per signal, one line
per layer (log scale for the norms and the update ratio)."""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PANELS = (
    ("grad_norm", "gradient norm", True),
    ("weight_norm", "weight norm", True),
    ("update_ratio", "update / weight ratio", True),
    ("dead_fraction", "dead ReLU fraction", False),
    ("act_mean", "activation mean", False),
    ("act_std", "activation std", False),
)


def diagnostics_figure(rows: list[dict]) -> Figure:
    """`rows` as RunDir.read_diagnostics returns them (None for a value a layer does not have)."""
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    fig = Figure(figsize=(13, 7.5), layout="constrained")
    for i, (key, title, log) in enumerate(PANELS):
        ax = fig.add_subplot(2, 3, i + 1)
        drawn = False
        for layer in layers:
            points = [
                (r["epoch"], r[key])
                for r in rows
                if r["layer"] == layer and r.get(key) is not None and math.isfinite(r[key])
            ]
            if log:
                points = [p for p in points if p[1] > 0]
            if points:
                epochs, values = zip(*points, strict=False)
                ax.plot(epochs, values, marker="." if len(points) < 30 else None, label=layer)
                drawn = True
        if log and drawn:
            ax.set_yscale("log")
        if key == "dead_fraction":
            ax.set_ylim(-0.05, 1.05)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, color="gray")
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if not handles:
        for ax in fig.axes:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    return fig
