"""lr_find.png: the smoothed loss against the learning rate (log axis), the suggestion marked."""

from __future__ import annotations

from matplotlib.figure import Figure


def lr_find_figure(curve: dict) -> Figure:
    """`curve` as lr_find.json holds it: lrs, losses, smoothed, suggestion."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(curve["lrs"], curve["losses"], color="tab:blue", alpha=0.25, label="loss")
    ax.plot(curve["lrs"], curve["smoothed"], color="tab:blue", label="smoothed loss")
    suggestion = curve.get("suggestion")
    if suggestion is not None:
        ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggestion {suggestion:.1e}")
    ax.set_xscale("log")
    finite = [v for v in curve["smoothed"] if v == v]
    if finite:  # the divergence at the end would flatten the rest
        low, high = min(finite), finite[0]
        ax.set_ylim(low - 0.1 * abs(high - low) - 1e-12, max(high, low) + 0.5 * abs(high - low) + 1e-12)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"learning-rate range test ({curve['settings']['suggestion']} rule)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig
