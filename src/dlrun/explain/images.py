"""Images: a grid of each example and its attribution heat map laid over it, with its true and predicted class."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SHOWN = 32  # examples in the picture at most
PER_ROW = 8


def heat_maps(attributions) -> np.ndarray:
    """(n, C, H, W) attributions -> (n, H, W): |attribution| summed over channels, each scaled to [0, 1] by its
    99th percentile."""
    maps = attributions.detach().abs().sum(dim=1).double().cpu().numpy()
    top = np.percentile(maps.reshape(len(maps), -1), 99, axis=1).reshape(-1, 1, 1)
    return np.clip(maps / np.where(top > 0, top, 1.0), 0.0, 1.0)


def write_image_explanation(result, info, tensorboard: Path | None) -> None:
    from dlrun.explain.figures import new_figure, save_png
    from dlrun.rundir import EXPLAIN_IMAGES_FILE

    n = min(len(result.inputs), SHOWN)
    images = result.inputs[:n].detach().float().cpu().numpy()
    maps = heat_maps(result.attributions[:n])
    cols = min(n, PER_ROW)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(2 * rows, cols, figsize=(1.6 * cols, 3.4 * rows), squeeze=False)
    names = list(info.class_names)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        image = images[i].transpose(1, 2, 0)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
        shown = image[..., 0] if image.shape[-1] == 1 else image
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        right = result.labels[i] == result.predicted[i]
        top.set_title(
            f"true {names[int(result.labels[i])]}\npred {names[int(result.predicted[i])]}",
            fontsize=8,
            color="black" if right else "red",
        )
        bottom.imshow(image.mean(axis=-1), cmap="gray")
        bottom.imshow(maps[i], cmap="inferno", alpha=0.55, vmin=0, vmax=1)
    fig.suptitle(f"{result.method} on {result.split} (top: input; bottom: attribution to the explained class)")
    fig.tight_layout()
    if tensorboard is not None:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=str(tensorboard)) as writer:
            writer.add_figure(f"explain/{result.method}", fig, close=False)
    result.files.append(save_png(fig, result.folder / EXPLAIN_IMAGES_FILE))
    correct = int((result.labels == result.predicted).sum())
    result.rankings["predictions"] = [("correct", float(correct)), ("explained", float(len(result.labels)))]
