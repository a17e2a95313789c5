"""Tables: attributions folded back to the user's original columns, and permutation importance on the run's metric.

A column of the table becomes one or more model inputs (`dlrun.datasets.columns`): a numeric column one, a
one-hot column one per level, an embedded column one level code, which the model's first layer turns into a
vector of `width` values. `column_groups` names, for each original column, its positions among the inputs
(`space="inputs"`) or among the outputs of that embedding layer (`space="layer"`), where the attributions of
embedded columns live; `fold` sums the attributions of each group.
"""

from __future__ import annotations

import numpy as np
import torch

from dlrun.datasets.dates import date_feature_names
from dlrun.metrics import MAXIMIZED

REPEATS = 5  # shuffles per column for permutation importance


def column_groups(preprocessing: dict, in_features: int, space: str = "inputs") -> list[tuple[str, list[int]]]:
    """(column name, its positions) in model-input order; a table without fitted columns (a packaged data set)
    has one group per input feature, named by `feature_names` or `x<i>`."""
    if "columns" not in preprocessing:
        names = preprocessing.get("feature_names") or [f"x{i}" for i in range(in_features)]
        return [(name, [i]) for i, name in enumerate(names)]
    dense, embedded = [], []
    for c in preprocessing["columns"]:
        if c["kind"] == "categorical" and c["encoding"] == "embedding":
            embedded.append((c["name"], c["dim"]))
        elif c["kind"] == "categorical":
            dense.append((c["name"], len(c["levels"])))
        elif c["kind"] == "bucketized" and c["encoding"] == "onehot":
            dense.append((c["name"], len(c["boundaries"]) + 1))
        elif c["kind"] == "text":  # one 0/1 column per word of the vocabulary
            dense.append((c["name"], len(c["words"])))
        elif c["kind"] in ("date", "datetime"):  # year and sin/cos pairs (datasets/dates.py)
            dense.append((c["name"], len(date_feature_names(c["name"], c["kind"] == "datetime"))))
        else:
            dense.append((c["name"], 1))
    widths = dense + [(name, dim if space == "layer" else 1) for name, dim in embedded]
    groups, at = [], 0
    for name, width in widths:
        groups.append((name, list(range(at, at + width))))
        at += width
    return groups


def fold(attributions: torch.Tensor, groups: list[tuple[str, list[int]]]) -> np.ndarray:
    """(examples, positions) attributions -> (examples, columns): the sum over each column's positions."""
    flat = attributions.detach().flatten(1).double().cpu().numpy()
    return np.stack([flat[:, idx].sum(axis=1) for _, idx in groups], axis=1)


def permutation_importance(task, x: torch.Tensor, y: torch.Tensor, groups, seed: int = 0) -> tuple[str, np.ndarray]:
    """(metric, (columns, REPEATS) losses of the metric): how much worse the run's first metric (its loss when it
    has none) gets on (x, y) when a column's inputs are shuffled together across the rows; larger = more important.
    Captum's FeaturePermutation on the whole split as one batch, a column's inputs grouped by `feature_mask`, the
    forward function the metric itself (one value for the batch: Captum's aggregate mode).
    """
    from captum.attr import FeaturePermutation

    metric = task.metric_names[0] if task.metric_names else "loss"
    sign = 1.0 if metric in MAXIMIZED else -1.0

    def score(inputs: torch.Tensor) -> torch.Tensor:
        batches = [(inputs[lo : lo + 512], y[lo : lo + 512]) for lo in range(0, len(inputs), 512)]
        return torch.tensor(sign * float(task.evaluate(batches)[metric]))

    mask = torch.zeros(1, x.shape[1], dtype=torch.long, device=x.device)
    for j, (_, idx) in enumerate(groups):
        mask[0, idx] = j
    permutation = FeaturePermutation(score)
    drops = np.zeros((len(groups), REPEATS))
    with torch.random.fork_rng(devices=[]):  # Captum draws the shuffles from torch's global generator
        torch.manual_seed(seed)
        for r in range(REPEATS):
            attributions = permutation.attribute(x, feature_mask=mask)
            drops[:, r] = [float(attributions.reshape(-1, x.shape[1])[0, idx[0]]) for _, idx in groups]
    return metric, drops


def write_table_explanation(result, task, prep: dict, info, x_all: torch.Tensor, y_all: torch.Tensor) -> None:
    """columns.csv and columns.png: per original column, mean |attribution| over the explained examples and
    permutation importance over the whole split, ranked by each."""
    from dlrun.explain.figures import new_figure, save_png
    from dlrun.rundir import EXPLAIN_COLUMNS_FILE, EXPLAIN_COLUMNS_PLOT_FILE, write_csv

    inputs = column_groups(prep, info.in_features, "inputs")
    width = result.attributions.flatten(1).shape[1]
    on_layer = width != sum(len(idx) for _, idx in inputs)
    folded = fold(result.attributions, column_groups(prep, info.in_features, "layer") if on_layer else inputs)
    magnitude, signed = np.abs(folded).mean(axis=0), folded.mean(axis=0)
    metric, drops = permutation_importance(task, x_all, y_all, inputs)
    names = [name for name, _ in inputs]
    by_attribution = np.argsort(-magnitude, kind="stable")
    by_permutation = np.argsort(-drops.mean(axis=1), kind="stable")
    rank_perm = {int(j): r + 1 for r, j in enumerate(by_permutation)}
    rows = [
        {
            "rank": r + 1,
            "column": names[j],
            "attribution": f"{magnitude[j]:.6g}",
            "signed_attribution": f"{signed[j]:.6g}",
            "permutation_rank": rank_perm[int(j)],
            f"permutation_{metric}_drop": f"{drops[j].mean():.6g}",
            "permutation_std": f"{drops[j].std():.6g}",
        }
        for r, j in enumerate(by_attribution)
    ]
    csv_path = result.folder / EXPLAIN_COLUMNS_FILE
    write_csv(csv_path, rows, list(rows[0]))

    shown = min(len(names), 20)
    fig, axes = new_figure(1, 2, figsize=(11, 0.35 * shown + 1.5))
    for ax, order, values, title in (
        (axes[0], by_attribution, magnitude, f"{result.method}: mean |attribution|"),
        (axes[1], by_permutation, drops.mean(axis=1), f"permutation: drop of {metric}"),
    ):
        top = order[:shown][::-1]
        ax.barh([names[j] for j in top], values[top], color="tab:blue")
        ax.set_title(title)
    fig.tight_layout()
    png = save_png(fig, result.folder / EXPLAIN_COLUMNS_PLOT_FILE)

    result.rankings["attribution"] = [(names[j], float(magnitude[j])) for j in by_attribution]
    result.rankings[f"permutation ({metric} drop)"] = [(names[j], float(drops[j].mean())) for j in by_permutation]
    result.extra.update(folded=folded, permutation=drops, metric=metric, columns=names)
    result.files += [csv_path, png]
