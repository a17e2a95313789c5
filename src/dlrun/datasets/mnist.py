"""MNIST and Fashion-MNIST through torchvision's classes (IDX files, 60,000 train + 10,000 test images).

Looked for, in order: `<root>/<Class>/raw/` (torchvision's layout, plain or .gz files), `<root>/`, and for
Fashion-MNIST Debian's `/usr/share/datasets/fashion-mnist/`; then a download that gives up at once
when the host cannot be reached.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from torchvision import datasets as tvd

from dlrun.datasets.images import ImageData, data_root, try_download
from dlrun.rundir import atomic_open

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _has_all(folder: Path) -> bool:
    return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in FILES)


def _prepare(cls, root: Path, extra: list[Path]) -> bool:
    """Put the four files, uncompressed, where torchvision's class reads them. True when done."""
    raw = root / cls.__name__ / "raw"
    if all((raw / f).is_file() for f in FILES):
        return True
    for folder in [raw, root, root / cls.__name__, *extra]:
        if folder.is_dir() and _has_all(folder):
            raw.mkdir(parents=True, exist_ok=True)
            for f in FILES:
                if not (raw / f).is_file():
                    source = folder / f if (folder / f).is_file() else folder / f"{f}.gz"
                    _copy_atomic(source, raw / f)
            return True
    return False


def _copy_atomic(source: Path, target: Path) -> None:
    """Copy (gunzip) into a temp file, then rename: processes preparing the same folder at once (the ranks of a
    multi-process run) never read a half-written file."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as src, atomic_open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


def load_idx(cls, root: str, download: bool, extra: list[Path] | None = None) -> ImageData:
    folder = data_root(root)
    where = f"the four *-ubyte.gz files ({', '.join(FILES)}) under {folder / cls.__name__ / 'raw'}/"
    if not _prepare(cls, folder, extra or []):
        if not download:
            from dlrun.errors import DataError

            raise DataError(f"{cls.__name__} not found: place {where} (dataset.download=false)")
        try_download(cls.mirrors[0], lambda: cls(str(folder), train=True, download=True), cls.__name__, where)
    train = cls(str(folder), train=True, download=False)
    test = cls(str(folder), train=False, download=False)
    return ImageData(
        x=train.data.unsqueeze(1).contiguous(),
        y=train.targets.long(),
        class_names=list(train.classes),
        x_test=test.data.unsqueeze(1).contiguous(),
        y_test=test.targets.long(),
    )


def mnist(root, download) -> ImageData:
    """MNIST handwritten digits, 28x28 grey, 60,000 train / 10,000 test (torchvision)."""
    return load_idx(tvd.MNIST, root, download)


def fashion_mnist(root, download) -> ImageData:
    """Fashion-MNIST clothing images, 28x28 grey, 10 classes (also read from Debian's dataset-fashion-mnist)."""
    return load_idx(tvd.FashionMNIST, root, download, extra=[DEBIAN_FASHION])
