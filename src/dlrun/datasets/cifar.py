"""CIFAR-10 through torchvision's class (the pickled `cifar-10-batches-py` layout), 50,000 + 10,000 images."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import datasets as tvd

from dlrun.datasets.images import ImageData, data_root, try_download
from dlrun.errors import DataError


def _present(root: Path) -> bool:
    folder = root / tvd.CIFAR10.base_folder
    names = [name for name, _ in tvd.CIFAR10.train_list + tvd.CIFAR10.test_list] + [tvd.CIFAR10.meta["filename"]]
    return all((folder / name).is_file() for name in names)


class _CIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10, checking that the batch files exist rather than their checksums."""

    train_list = [[name, None] for name, _ in tvd.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in tvd.CIFAR10.test_list]
    meta = {**tvd.CIFAR10.meta, "md5": None}


def cifar10(root, download) -> ImageData:
    """CIFAR-10, 32x32 colour images in 10 classes (torchvision; pickled python batches)."""
    folder = data_root(root)
    where = f"the extracted cifar-10-batches-py/ folder (data_batch_1..5, test_batch, batches.meta) under {folder}/"
    if not _present(folder):
        if not download:
            raise DataError(f"CIFAR-10 not found: place {where} (dataset.download=false)")
        try_download(_CIFAR10.url, lambda: tvd.CIFAR10(str(folder), train=True, download=True), "CIFAR-10", where)
    train = _CIFAR10(str(folder), train=True, download=False)
    test = _CIFAR10(str(folder), train=False, download=False)
    as_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731  HWC -> CHW
    return ImageData(
        x=as_tensor(train.data),
        y=torch.tensor(train.targets),
        class_names=list(train.classes),
        x_test=as_tensor(test.data),
        y_test=torch.tensor(test.targets),
    )
