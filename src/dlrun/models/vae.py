"""Variational autoencoders: the books' MLP VAE and a convolutional one.

Both encode an image to the mean and log-variance of a diagonal Gaussian over the latent space and
decode a latent vector to per-pixel Bernoulli logits (`decode` applies the sigmoid, so pictures are
in [0, 1]: the data must be normalized with `dataset.normalize=unit`). Sizes come from the data.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError


class VAE(nn.Module):
    """Encoder -> (mu, log_var); z = mu + exp(log_var / 2) * eps; decoder -> pixel logits."""

    output_range = "unit"  # decode() ends in a sigmoid: pixels in [0, 1]

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int):
        super().__init__()
        self.image_shape, self.latent_dim = tuple(image_shape), latent_dim

    # subclasses build `encoder`, the `mu` and `log_var` heads, and `decoder`
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.log_var(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], shaped like the inputs."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None):
        """(pixel logits, mu, log_var); `eps` (standard normal, shaped like mu) defaults to fresh noise."""
        mu, log_var = self.encode(x)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + torch.exp(0.5 * log_var) * eps
        return self.decode_logits(z), mu, log_var


class MLPVAE(VAE):
    def __init__(self, image_shape, latent_dim: int, hidden: list[int]):
        super().__init__(image_shape, latent_dim)
        pixels = int(torch.tensor(image_shape).prod())
        layers: list[nn.Module] = [nn.Flatten()]
        width = pixels
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.encoder = nn.Sequential(*layers)
        self.mu, self.log_var = nn.Linear(width, latent_dim), nn.Linear(width, latent_dim)
        layers, width = [], latent_dim
        for size in reversed(hidden):
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers += [nn.Linear(width, pixels), nn.Unflatten(1, self.image_shape)]
        self.decoder = nn.Sequential(*layers)


class ConvVAE(VAE):
    def __init__(self, image_shape, latent_dim: int, channels: list[int], hidden: int):
        super().__init__(image_shape, latent_dim)
        c, h, w = image_shape
        scale = 2 ** len(channels)
        self.feature_shape = (channels[-1], h // scale, w // scale)
        layers: list[nn.Module] = []
        width = c
        for size in channels:  # each conv halves the image
            layers += [nn.Conv2d(width, size, 4, 2, 1), nn.ReLU()]
            width = size
        flat = channels[-1] * (h // scale) * (w // scale)
        layers += [nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU()]
        self.encoder = nn.Sequential(*layers)
        self.mu, self.log_var = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        layers = [
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, flat),
            nn.ReLU(),
            nn.Unflatten(1, self.feature_shape),
        ]
        outs = [*reversed(channels[:-1]), c]
        width = channels[-1]
        for i, size in enumerate(outs):  # each transposed conv doubles it back
            layers.append(nn.ConvTranspose2d(width, size, 4, 2, 1))
            if i < len(outs) - 1:
                layers.append(nn.ReLU())
            width = size
        self.decoder = nn.Sequential(*layers)


def image_shape(info: DataInfo, model: str) -> tuple[int, int, int]:
    if len(info.input_shape) != 3:
        raise ConfigError(
            f"model {model} needs images (channels, height, width); this data set gives shape {info.input_shape}"
        )
    return tuple(info.input_shape)


def _check_latent(latent_dim: int) -> None:
    if latent_dim < 1:
        raise ConfigError(f"model.latent_dim must be >= 1, got {latent_dim}")


def vae_mlp(info: DataInfo, latent_dim, hidden) -> nn.Module:
    """The books' MLP VAE: 784-400 ReLU -> mu, log_var (20) -> 400 ReLU -> 784 sigmoid (task vae)."""
    _check_latent(latent_dim)
    if any(h < 1 for h in hidden):
        raise ConfigError(f"model.hidden widths must be >= 1, got {list(hidden)}")
    return MLPVAE(image_shape(info, "vae_mlp"), latent_dim, list(hidden))


def vae_conv(info: DataInfo, latent_dim, channels, hidden) -> nn.Module:
    """Convolutional VAE: stride-2 convs -> dense -> mu, log_var; transposed convs back (task vae)."""
    _check_latent(latent_dim)
    if not channels or any(c < 1 for c in channels) or hidden < 1:
        raise ConfigError(
            f"model.channels must be a non-empty list of widths >= 1 and model.hidden >= 1, got "
            f"{list(channels)}, {hidden}"
        )
    shape = image_shape(info, "vae_conv")
    scale = 2 ** len(channels)
    if shape[1] % scale or shape[2] % scale:
        raise ConfigError(
            f"model vae_conv halves the image {len(channels)} times (one per model.channels entry): "
            f"{shape[1]}x{shape[2]} images are not divisible by {scale}"
        )
    return ConvVAE(shape, latent_dim, list(channels), hidden)
