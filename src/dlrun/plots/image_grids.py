"""Pictures for image classification: a grid of training inputs, and the worst-classified test images.

Written as PNG into the run directory and returned as figures for TensorBoard.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import make_grid, save_image  # noqa: E402


def input_grid(images: torch.Tensor, path: Path, count: int = 64) -> torch.Tensor:
    """Save the first `count` images (float in [0,1], N x C x H x W) as one grid; return the grid."""
    grid = make_grid(images[:count].float().cpu(), nrow=int(math.sqrt(count)) or 1, padding=2)
    save_image(grid, path)
    return grid


def worst_classified(
    images: torch.Tensor,
    probs: torch.Tensor,
    targets: torch.Tensor,
    class_names: list[str],
    path: Path,
    count: int = 25,
):
    """The test images whose true class got the lowest probability, titled 'pred X (p) / true Y'."""
    probs = probs.float().cpu()
    targets = targets.long().cpu()
    if probs.ndim == 1:  # binary: probability of class 1
        probs = torch.stack([1 - probs, probs], dim=1)
    true_prob = probs[torch.arange(len(targets)), targets]
    order = true_prob.argsort()[:count]
    side = math.ceil(math.sqrt(len(order)))
    fig, axes = plt.subplots(side, side, figsize=(1.9 * side, 2.1 * side), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order.tolist(), strict=False):
        image = images[i].float().cpu()
        ax.imshow(image.squeeze(0) if image.shape[0] == 1 else image.permute(1, 2, 0), cmap="gray", vmin=0, vmax=1)
        pred = int(probs[i].argmax())
        ax.set_title(
            f"pred {class_names[pred]} ({probs[i, pred]:.2f})\ntrue {class_names[int(targets[i])]}", fontsize=7
        )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def _first_images(split, count: int | None = None) -> torch.Tensor:
    """uint8 images of a split as floats in [0,1] (the first `count`, or all)."""
    if split.x is not None:
        images = split.x[:count] if count else split.x
    else:
        n = min(count or len(split), len(split))
        images = torch.stack([split.dataset[i][0] for i in range(n)])
    return images.float().cpu() / 255.0


def log_inputs(data, run_dir: Path, logger) -> None:
    """Once, before training: a grid of training inputs (inputs.png, TensorBoard 'inputs')."""
    grid = input_grid(_first_images(data.train, 64), Path(run_dir) / "inputs.png")
    if logger is not None:
        logger.add_image("inputs", grid)


def log_worst(probs: torch.Tensor, targets: torch.Tensor, data, run_dir: Path, logger) -> None:
    """After the test: the 25 worst-classified test images (worst_test.png, TensorBoard 'worst_test')."""
    fig = worst_classified(
        _first_images(data.test), probs, targets, data.info.class_names, Path(run_dir) / "worst_test.png"
    )
    if logger is not None:
        logger.add_figure("worst_test", fig)
    plt.close(fig)


def save_grid(images: torch.Tensor, path: Path, columns: int) -> torch.Tensor:
    """Save images (float in [0,1], N x C x H x W) as a grid of `columns` per row (2 px padding); return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = make_grid(images.detach().float().cpu(), nrow=columns, padding=2)
    save_image(grid, path)
    return grid
