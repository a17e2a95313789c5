"""Series: attribution over the time steps of the input window, per input feature."""

from __future__ import annotations

import numpy as np


def write_series_explanation(result, prep: dict) -> None:
    """steps.csv (one row per step, t-W .. t-1: mean |attribution| and mean attribution per feature) and steps.png."""
    from dlrun.explain.figures import new_figure, save_png
    from dlrun.rundir import EXPLAIN_STEPS_FILE, EXPLAIN_STEPS_PLOT_FILE, write_csv

    values = result.attributions.detach().double().cpu().numpy()  # (n, steps, features)
    steps, features = values.shape[1], values.shape[2]
    columns = list(prep.get("columns") or [f"x{j}" for j in range(features)])[:features]
    magnitude, signed = np.abs(values).mean(axis=0), values.mean(axis=0)
    labels = [f"t-{steps - s}" for s in range(steps)]
    rows = []
    for s in range(steps):
        row = {"step": labels[s], "total": f"{magnitude[s].sum():.6g}"}
        for j, name in enumerate(columns):
            row[f"{name}_abs"] = f"{magnitude[s, j]:.6g}"
            row[name] = f"{signed[s, j]:.6g}"
        rows.append(row)
    csv_path = result.folder / EXPLAIN_STEPS_FILE
    write_csv(csv_path, rows, list(rows[0]))

    fig, ax = new_figure(figsize=(8, 3.5))
    for j, name in enumerate(columns):
        ax.plot(np.arange(-steps, 0), magnitude[:, j], marker="o", markersize=3, label=name)
    ax.set_xlabel("step of the window (0 = the forecast)")
    ax.set_ylabel("mean |attribution|")
    ax.set_title(f"{result.method} over the window, {len(values)} {result.split} windows")
    ax.legend()
    fig.tight_layout()
    png = save_png(fig, result.folder / EXPLAIN_STEPS_PLOT_FILE)
    order = np.argsort(-magnitude.sum(axis=1), kind="stable")
    result.rankings["steps"] = [(labels[s], float(magnitude[s].sum())) for s in order]
    result.files += [csv_path, png]
