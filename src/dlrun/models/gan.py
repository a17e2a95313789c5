"""GAN networks: a generator and a discriminator, built as a pair from one model config.

Every GAN model factory returns a `GanPair`. The generator maps a latent batch (and, when
`conditional`, class labels) to images in [-1, 1] (tanh: the data must be normalized with
`dataset.normalize=symmetric`); the discriminator maps images (and labels) to one logit per image
(the sigmoid is in the loss, BCE-with-logits, for numerical stability: D(x) = sigmoid(logit)).
A conditional model embeds the label and concatenates it to the inputs of both networks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError
from dlrun.models.layers import activation as make_activation
from dlrun.models.vae import image_shape


class GanPair(nn.Module):
    """The two networks of a GAN; the task trains them as `models["generator"]` and `models["discriminator"]`."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator


class Generator(nn.Module):
    """Base of every generator: `forward(z, labels=None)` -> images in [-1, 1] shaped like the data."""

    output_range = "symmetric"  # tanh output

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int, num_classes: int, embedding_dim: int):
        super().__init__()
        self.image_shape, self.latent_dim, self.num_classes = tuple(image_shape), latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, embedding_dim) if num_classes else None

    @property
    def conditional(self) -> bool:
        return self.embed is not None

    def inputs(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        if labels is None:
            raise ValueError("a conditional generator needs class labels")
        return torch.cat([z, self.embed(labels)], dim=1)


class MLPGenerator(Generator):
    def __init__(self, image_shape, latent_dim, hidden, activation, num_classes=0, embedding_dim=0):
        super().__init__(image_shape, latent_dim, num_classes, embedding_dim)
        layers: list[nn.Module] = []
        width = latent_dim + (embedding_dim if num_classes else 0)
        for size in hidden:
            layers += [nn.Linear(width, size), make_activation(activation, "model.generator_activation")]
            width = size
        layers += [nn.Linear(width, math.prod(image_shape)), nn.Tanh(), nn.Unflatten(1, self.image_shape)]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        return self.net(self.inputs(z, labels))


class MLPDiscriminator(nn.Module):
    def __init__(self, image_shape, hidden, activation, dropout, num_classes=0, embedding_dim=0):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embedding_dim) if num_classes else None
        layers: list[nn.Module] = []
        width = math.prod(image_shape) + (embedding_dim if num_classes else 0)
        for size in hidden:
            layers += [nn.Linear(width, size), make_activation(activation, "model.discriminator_activation")]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x, labels=None):
        x = x.flatten(1)
        if self.embed is not None:
            x = torch.cat([x, self.embed(labels)], dim=1)
        return self.net(x).squeeze(1)


def check_gan_keys(latent_dim: int, num_classes: int, conditional: bool, embedding_dim: int) -> None:
    if latent_dim < 1:
        raise ConfigError(f"model.latent_dim must be >= 1, got {latent_dim}")
    if conditional and embedding_dim < 1:
        raise ConfigError(f"model.embedding_dim must be >= 1 for a conditional model, got {embedding_dim}")
    if conditional and num_classes < 2:
        raise ConfigError("model.conditional=true needs a data set with class labels")


def _mlp_pair(
    info: DataInfo,
    name: str,
    latent_dim: int,
    generator_hidden,
    discriminator_hidden,
    generator_activation: str,
    discriminator_activation: str,
    discriminator_dropout: float,
    conditional: bool,
    embedding_dim: int,
) -> GanPair:
    check_gan_keys(latent_dim, info.num_classes, conditional, embedding_dim)
    if any(h < 1 for h in [*generator_hidden, *discriminator_hidden]):
        raise ConfigError("model.generator_hidden and model.discriminator_hidden widths must be >= 1")
    if not 0.0 <= discriminator_dropout < 1.0:
        raise ConfigError(f"model.discriminator_dropout must be in [0, 1), got {discriminator_dropout}")
    shape = image_shape(info, name)
    classes = info.num_classes if conditional else 0
    return GanPair(
        MLPGenerator(shape, latent_dim, list(generator_hidden), generator_activation, classes, embedding_dim),
        MLPDiscriminator(
            shape, list(discriminator_hidden), discriminator_activation, discriminator_dropout, classes, embedding_dim
        ),
    )


def gan_mlp(
    info: DataInfo,
    latent_dim,
    generator_hidden,
    discriminator_hidden,
    generator_activation,
    discriminator_activation,
    discriminator_dropout,
    conditional,
    embedding_dim,
) -> nn.Module:
    """The books' MLP GAN: G 64-256-256-784 ReLU, tanh; D 784-256-256-1 LeakyReLU(0.2) (task gan)."""
    return _mlp_pair(
        info,
        "gan_mlp",
        latent_dim,
        generator_hidden,
        discriminator_hidden,
        generator_activation,
        discriminator_activation,
        discriminator_dropout,
        conditional,
        embedding_dim,
    )


def cgan_mlp(
    info: DataInfo,
    latent_dim,
    generator_hidden,
    discriminator_hidden,
    generator_activation,
    discriminator_activation,
    discriminator_dropout,
    conditional,
    embedding_dim,
) -> nn.Module:
    """The books' conditional MLP GAN: label embedding (10) concatenated to z and to the image (task cgan)."""
    return _mlp_pair(
        info,
        "cgan_mlp",
        latent_dim,
        generator_hidden,
        discriminator_hidden,
        generator_activation,
        discriminator_activation,
        discriminator_dropout,
        conditional,
        embedding_dim,
    )
