"""`dlrun sample`: pictures from a trained generative run (vae, gan, cgan), without its data.

The task is rebuilt from the checkpoint's config and data description (shapes, classes) by
`dlrun.saved_run.load_run`, its weights loaded with `torch.load(weights_only=True)`, and the grid
written with torchvision.
"""

from __future__ import annotations

import math
from pathlib import Path

from dlrun.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def class_index(value: str, class_names: list[str]) -> int:
    """--class as an index (3) or a class name (Dress)."""
    if value in class_names:
        return class_names.index(value)
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < len(class_names):
        raise ConfigError(
            f"--class must be a class index 0..{len(class_names) - 1} or a class name "
            f"({', '.join(class_names)}), got '{value}'"
        )
    return index


def sample_grid(
    path: str | Path,
    n: int | None = None,
    class_: str | None = None,
    interpolate: bool = False,
    seed: int = 0,
    output: str | Path = "samples.png",
    prefer: str = "final",
) -> str:
    """Write a grid of generated images; returns a one-line description of what was written.

    Random samples (n, default 64); with --class, samples of that class (conditional models only); a
    CGAN without --class gives one row per class (n per row, default 10); --interpolate gives a row of
    n (default 10) images between two latent points (one row per class for a CGAN without --class);
    a VAE with a 2-dimensional latent space gives the manifold grid (n images, a square, default 400).
    """
    import torch

    from dlrun.plots.image_grids import save_grid
    from dlrun.saved_run import load_run
    from dlrun.tasks.generative import GenerativeTask, grid_columns

    output = Path(output)
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigError(f"-o must name an image file ({', '.join(IMAGE_SUFFIXES)}), got '{output}'")
    if n is not None and n < (2 if interpolate else 1):
        raise ConfigError(f"-n must be >= {2 if interpolate else 1}, got {n}")
    run = load_run(path, prefer)
    task = run.task
    if not isinstance(task, GenerativeTask):
        raise ConfigError(
            f"{path} is a {run.task_name} run: dlrun sample needs a generative run (task vae, gan or cgan)"
        )
    classes = task.num_classes
    label = None
    if class_ is not None:
        if not classes:
            raise ConfigError(f"--class needs a class-conditional model (task cgan); {path} is a {run.task_name} run")
        label = class_index(class_, run.info.class_names)
    gen = torch.Generator().manual_seed(seed)

    def latent(count: int) -> torch.Tensor:
        return torch.randn(count, task.latent_dim, generator=gen)

    def labels(count: int) -> torch.Tensor | None:
        return torch.full((count,), label, dtype=torch.long) if label is not None else None

    if interpolate:
        steps = n or 10
        start, end = latent(1), latent(1)
        weights = torch.linspace(0, 1, steps).unsqueeze(1)
        z = (1 - weights) * start + weights * end
        if classes and label is None:  # the same path through the latent space for every class
            images = task.generate(z.repeat(classes, 1), torch.arange(classes).repeat_interleave(steps))
            what = f"{classes} rows (one per class) of {steps} interpolation steps"
        else:
            images = task.generate(z, labels(steps))
            what = f"a row of {steps} interpolation steps"
        columns = steps
    elif task.latent_dim == 2 and task.family == "vae":
        count = n or 400
        side = math.isqrt(count)
        if side * side != count:
            raise ConfigError(
                f"-n must be a square number for the manifold grid of a 2-D latent space (e.g. 400 = "
                f"20x20), got {count}"
            )
        quantiles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, side))
        z = torch.stack([torch.stack([x, y]) for y in quantiles.flip(0) for x in quantiles])  # top row: largest z2
        images, columns = task.generate(z), side
        what = f"the {side}x{side} manifold grid of the 2-D latent space"
    elif classes and label is None:
        per = n or 10
        images, columns = task.class_grid(per, latent(per)), per
        what = f"{classes} rows (one per class) of {per} samples"
    else:
        count = n or 64
        images, columns = task.generate(latent(count), labels(count)), grid_columns(count)
        kind = f" of class {label} ({run.info.class_names[label]})" if label is not None else ""
        what = f"{count} samples{kind}"
    save_grid(images, output, columns)
    rows = math.ceil(len(images) / columns)
    return f"wrote {what} ({rows}x{columns} grid) to {output}"
