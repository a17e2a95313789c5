"""DCGAN (Radford et al.): a transposed-convolution generator and a convolutional discriminator.

The image is halved (discriminator) and doubled back (generator) `stages` times, computed from the
data: as often as the height and width divide and stay at least 4 pixels (28x28 -> 7x7 in 2 stages,
32x32 -> 4x4 in 3, 64x64 -> 4x4 in 4). Batch norm everywhere except the generator's output and the
discriminator's input layer, ReLU in the generator, LeakyReLU(0.2) in the discriminator, weights
drawn from N(0, 0.02) as in the paper. With `conditional`, the generator takes a label embedding
beside z and the discriminator an extra input channel holding an embedding of the label.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.errors import ConfigError
from dlrun.models.gan import GanPair, Generator, check_gan_keys
from dlrun.models.vae import image_shape


def stages_for(height: int, width: int, most: int = 4) -> int:
    stages = 0
    while (
        stages < most
        and height % 2 ** (stages + 1) == 0
        and width % 2 ** (stages + 1) == 0
        and min(height, width) // 2 ** (stages + 1) >= 4
    ):
        stages += 1
    return stages


class DCGenerator(Generator):
    def __init__(self, image_shape, latent_dim, width, stages, num_classes=0, embedding_dim=0):
        super().__init__(image_shape, latent_dim, num_classes, embedding_dim)
        c, h, w = image_shape
        top = width * 2 ** (stages - 1)
        start = (top, h // 2**stages, w // 2**stages)
        units = top * start[1] * start[2]
        inputs = latent_dim + (embedding_dim if num_classes else 0)
        layers: list[nn.Module] = [
            nn.Linear(inputs, units, bias=False),
            nn.BatchNorm1d(units),
            nn.ReLU(True),
            nn.Unflatten(1, start),
        ]
        channels = top
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        return self.net(self.inputs(z, labels))


class DCDiscriminator(nn.Module):
    def __init__(self, image_shape, width, stages, num_classes=0):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = tuple(image_shape)
        self.embed = nn.Embedding(num_classes, h * w) if num_classes else None  # the label as one more channel
        layers: list[nn.Module] = [nn.Conv2d(c + (1 if num_classes else 0), width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        channels = width
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2, True),
            ]
            channels *= 2
        layers += [nn.Flatten(), nn.Linear(channels * (h // 2**stages) * (w // 2**stages), 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x, labels=None):
        if self.embed is not None:
            x = torch.cat([x, self.embed(labels).view(len(x), 1, *self.image_shape[1:])], dim=1)
        return self.net(x).squeeze(1)


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def dcgan(info: DataInfo, latent_dim, generator_width, discriminator_width, conditional, embedding_dim) -> nn.Module:
    """DCGAN: transposed-conv generator, conv discriminator, batch norm, N(0, 0.02) init (task gan or cgan)."""
    check_gan_keys(latent_dim, info.num_classes, conditional, embedding_dim)
    if generator_width < 1 or discriminator_width < 1:
        raise ConfigError(
            f"model.generator_width and model.discriminator_width must be >= 1, got "
            f"{generator_width}, {discriminator_width}"
        )
    shape = image_shape(info, "dcgan")
    stages = stages_for(shape[1], shape[2])
    if stages == 0:
        raise ConfigError(
            f"model dcgan needs images whose height and width are even and at least 8 pixels, got {shape[1]}x{shape[2]}"
        )
    classes = info.num_classes if conditional else 0
    pair = GanPair(
        DCGenerator(shape, latent_dim, generator_width, stages, classes, embedding_dim),
        DCDiscriminator(shape, discriminator_width, stages, classes),
    )
    dcgan_init(pair)
    return pair
