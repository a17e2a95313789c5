"""What the generative tasks (vae, gan, cgan) share: config checks, the fixed latent batch, pictures.

A generative task trains on images only, normalized to the range its networks produce: [0, 1]
(`dataset.normalize=unit`) for a VAE's sigmoid decoder, [-1, 1] (`symmetric`) for a GAN's tanh
generator. Its pictures (sample grids, reconstructions) come from a latent batch drawn once from
`seed`, so epochs compare, and are written by the `SampleGrids` callback the task brings along.
"""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig

from dlrun.callbacks.sample_grids import SampleGrids
from dlrun.datasets.base import DataInfo
from dlrun.tasks.base import Task


class GenerativeTask(Task):
    family = ""  # the model family this task trains (models declare it in dlrun.models.config)
    normalize = "unit"  # the dataset.normalize its networks' outputs match
    output = ""  # the output layer, for messages

    def __init__(self, cfg: DictConfig, info: DataInfo, sample_every_n_epochs: int, num_samples: int):
        super().__init__()
        self.info = info
        self.sample_every_n_epochs, self.num_samples = sample_every_n_epochs, num_samples
        self.seed = int(cfg.seed)

    # ---- config checks, before anything is built
    @classmethod
    def registered_name(cls) -> str:
        from dlrun.tasks.config import TASKS

        path = f"{cls.__module__}:{cls.__qualname__}"
        return next(n for n in TASKS.names() if TASKS.component(n).factory in (cls, path))

    # ---- what the loop and the pictures use
    def callbacks(self) -> list:
        return [SampleGrids(self.sample_every_n_epochs)] if self.sample_every_n_epochs else []

    def fixed_latent(self, n: int) -> torch.Tensor:
        """n latent vectors drawn from `seed` with a private generator (the training RNG is untouched)."""
        gen = torch.Generator().manual_seed(self.seed)
        return torch.randn(n, self.latent_dim, generator=gen).to(self.device)

    @property
    def latent_dim(self) -> int:
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """Classes the generator can be asked for (0: unconditional)."""
        return 0

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] from latent vectors (and class labels), in eval mode, without gradients."""
        raise NotImplementedError

    def pictures(self, example: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, tuple[torch.Tensor, int]]:
        """{name: (images in [0, 1], images per row)} drawn at the end of an epoch."""
        n = self.num_samples
        return {"samples": (self.generate(self.fixed_latent(n)), grid_columns(n))}

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Network output -> [0, 1] for pictures."""
        return ((x + 1) / 2 if self.normalize == "symmetric" else x).clamp(0, 1)


def grid_columns(n: int) -> int:
    """Images per row of a near-square grid of n images."""
    return max(1, math.ceil(math.sqrt(n)))
