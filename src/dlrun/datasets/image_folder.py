"""Users' own images: one sub-folder per class (torchvision's ImageFolder), resized to one size."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import datasets as tvd
from torchvision import transforms as T

from dlrun.datasets.images import ImageData
from dlrun.errors import ConfigError, DataError


class _Mode:
    """PIL image -> 'L' (1 channel) or 'RGB' (3 channels); a class so DataLoader workers can pickle it."""

    def __init__(self, mode: str):
        self.mode = mode

    def __call__(self, image):
        return image.convert(self.mode)


def image_folder(path, image_size, channels) -> ImageData:
    """Your images, one sub-folder per class (torchvision ImageFolder), resized to image_size."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder} (expected one sub-folder of images per class)")
    if channels not in (1, 3):
        raise ConfigError(f"dataset.channels must be 1 or 3, got {channels}")
    if len(image_size) != 2 or min(image_size) < 1:
        raise ConfigError(f"dataset.image_size must be [height, width], got {list(image_size)}")
    transform = T.Compose([_Mode("L" if channels == 1 else "RGB"), T.Resize(tuple(image_size)), T.PILToTensor()])
    try:
        dataset = tvd.ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"cannot read image folder {folder}: {str(exc).splitlines()[0]}") from None
    return ImageData(
        x=None,
        y=torch.tensor(dataset.targets),
        class_names=list(dataset.classes),
        dataset=dataset,
        shape=(channels, *image_size),
    )
