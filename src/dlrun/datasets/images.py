"""Image data sets: MNIST, Fashion-MNIST, CIFAR-10 (torchvision's classes) and users' image folders.

Images are kept as uint8 tensors (N, C, H, W). Data that fits in memory is decoded once, moved to
the training device and batched by indexing (`loader: memory`); a `BatchTransform` then normalizes
and augments whole batches on the device. Large folders stream through a DataLoader with workers.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dlrun.datasets.base import resized_size
from dlrun.downloads import unreachable
from dlrun.errors import ConfigError, DataError

log = logging.getLogger("dlrun")

NORMALIZE = ("standard", "unit", "symmetric")


@dataclass
class ImageData:
    """What an image factory returns: uint8 images in memory, or a Dataset of (uint8 image, label)."""

    x: torch.Tensor | None
    y: torch.Tensor
    class_names: list[str]
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    dataset: Any = None  # file-based: a torch Dataset over all non-test rows, labels in `y`
    shape: tuple[int, int, int] | None = None  # (C, H, W) of file-based images


class BatchTransform:
    """uint8 batch -> float: scale to [0,1], augment (training only), normalize. Runs on the batch's device.

    normalize: standard (per-channel mean/std of the training images), unit ([0,1], the books'
    x/255) or symmetric ([-1,1], for tanh generators).
    """

    def __init__(
        self,
        mean: list[float],
        std: list[float],
        crop_padding: int = 0,
        hflip: bool = False,
        model_input: dict | None = None,
    ):
        self.mean, self.std = mean, std
        self.crop_padding, self.hflip = crop_padding, hflip
        self.model_input = model_input or {}  # channels, resize, crop the model asked for (fit_to_model)
        self.memory_format = torch.contiguous_format  # device.channels_last sets torch.channels_last
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._stats:
            shape = (1, len(self.mean), 1, 1)
            self._stats[device] = (
                torch.tensor(self.mean, device=device).view(shape),
                torch.tensor(self.std, device=device).view(shape),
            )
        return self._stats[device]

    def __call__(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float().clone()
        if self.model_input:
            x = fit_to_model(x, self.model_input)
        if train and self.crop_padding:
            x = random_crop(x, self.crop_padding)
        if train and self.hflip:
            flip = torch.rand(len(x), device=x.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        if not self.identity:  # normalize=unit: [0,1] already
            mean, std = self._on(x.device)
            x = x.sub_(mean).div_(std)
        return x.contiguous(memory_format=self.memory_format)

    @property
    def identity(self) -> bool:
        return all(m == 0 for m in self.mean) and all(s == 1 for s in self.std)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Back to [0,1] for pictures."""
        mean, std = self._on(x.device)
        return (x * std + mean).clamp(0, 1)


def fit_to_model(x: torch.Tensor, prep: dict) -> torch.Tensor:
    """Float images (B, C, H, W) as the model asked (`model=torchvision`, from its weights' own transforms):
    grey repeated to `channels`, resized (`resize`: [h, w], or [n] for the shorter side; antialiased, as
    torchvision's Resize), then cropped at the centre to `crop`. Keys absent: that step is skipped."""
    channels = prep.get("channels")
    if channels and x.shape[1] != channels:
        if x.shape[1] != 1:
            raise DataError(f"the model takes {channels}-channel images; these have {x.shape[1]} channels")
        x = x.repeat(1, channels, 1, 1)
    if prep.get("resize"):
        size = resized_size(x.shape[2], x.shape[3], prep["resize"])
        if size != tuple(x.shape[2:]):
            mode = prep.get("interpolation", "bilinear")
            smooth = mode in ("bilinear", "bicubic")
            x = F.interpolate(x, size=size, mode=mode, antialias=smooth, **({"align_corners": False} if smooth else {}))
            if mode == "bicubic":
                x = x.clamp_(0, 1)
    if prep.get("crop"):
        crop = prep["crop"]
        ch, cw = (crop[0], crop[0]) if len(crop) == 1 else (crop[0], crop[1])
        h, w = x.shape[2:]
        if h < ch or w < cw:  # as torchvision's center_crop: pad with zeros first
            ph, pw = max(ch - h, 0), max(cw - w, 0)
            x = F.pad(x, (pw // 2, (pw + 1) // 2, ph // 2, (ph + 1) // 2))
            h, w = x.shape[2:]
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
        x = x[:, :, top : top + ch, left : left + cw]
    return x.contiguous()


def random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    """A different random crop of each image after zero padding by `pad` pixels (same size out)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device)
    rows = (oy + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    cols = (ox + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    chan = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, chan, rows, cols]


def channel_stats(images: torch.Tensor | Any, normalize: str, sample: int = 10_000) -> tuple[list[float], list[float]]:
    """Per-channel mean and std for `normalize`, from (a sample of) the training images only."""
    if normalize not in NORMALIZE:
        raise ConfigError(f"dataset.normalize must be one of {', '.join(NORMALIZE)}, got '{normalize}'")
    channels = images.shape[1] if isinstance(images, torch.Tensor) else images[0][0].shape[0]
    if normalize == "unit":
        return [0.0] * channels, [1.0] * channels
    if normalize == "symmetric":
        return [0.5] * channels, [0.5] * channels
    if isinstance(images, torch.Tensor):
        total = torch.zeros(channels, dtype=torch.float64)
        square = torch.zeros(channels, dtype=torch.float64)
        count = 0
        for lo in range(0, len(images), 4096):  # in chunks: a float copy of all of CIFAR would be 600 MB
            chunk = images[lo : lo + 4096].double() / 255.0
            total += chunk.sum(dim=(0, 2, 3))
            square += chunk.pow(2).sum(dim=(0, 2, 3))
            count += chunk.numel() // channels
    else:  # a Dataset: an evenly spaced sample of the training images
        step = max(1, len(images) // sample)
        chunk = torch.stack([images[i][0] for i in range(0, len(images), step)]).double() / 255.0
        total, square, count = chunk.sum(dim=(0, 2, 3)), chunk.pow(2).sum(dim=(0, 2, 3)), chunk.numel() // channels
    mean = total / count
    std = (square / count - mean.pow(2)).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


# ------------------------------------------------------------------ finding the files


def data_root(root: str) -> Path:
    return Path(root).expanduser()


def offline_error(what: str, where: str, reason: str) -> DataError:
    return DataError(f"{what} not found: place {where} (download failed: {reason})")


def try_download(url: str, fetch, what: str, where: str, timeout: float = 4.0) -> None:
    """Run `fetch()` only if the host answers within `timeout` seconds; otherwise fail at once."""
    reason = unreachable(url, timeout)
    if reason is not None:
        raise offline_error(what, where, reason)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        fetch()
    except Exception as exc:  # noqa: BLE001 - any download failure becomes the same one-line message
        raise offline_error(
            what, where, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
