"""The torch modules `dlrun export` traces: a supervised model with its post-processing, or a sampling path.

- `PredictionModule(task)`: the model, then the task's scores (sigmoid for one logit, softmax for several)
  and, for regression, the target scaling undone, so its output is what `task.predictions` returns:
  class probabilities, or values in the data's units.
- `SamplingModule(task)`: latent vectors (and class labels for a CGAN) -> images in [0, 1], as
  `task.generate` gives them: the VAE's decoder, or the GAN's generator and its output mapping.
"""

from __future__ import annotations

import torch
from torch import nn


class PredictionModule(nn.Module):
    def __init__(self, task):
        super().__init__()
        self.model = task.model
        self.scores = task.scores
        self.regression = task.info.kind == "regression"
        self.shift, self.scale = float(task.info.target_shift), float(task.info.target_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.scores(self.model(x).float())
        return scores * self.scale + self.shift if self.regression else scores


class SamplingModule(nn.Module):
    def __init__(self, task):
        super().__init__()
        self.family = task.family
        self.conditional = bool(task.num_classes)
        if self.family == "vae":
            self.net = task.vae
        else:
            self.net, self.to_pixels = task.generator, task.to_pixels

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.family == "vae":
            return self.net.decode(z).float()
        return self.to_pixels(self.net(z, labels if self.conditional else None).float())
