"""Data sets: `conf/dataset/NAME.yaml` names a data set declared in `dlrun.datasets.config`.

A factory returns `RawData` (features, targets, kind); `build_data` splits it, fits the preprocessing on the
training split only and returns a `DataBundle` of tensors. Importing this package does not import torch.
"""

from dlrun.datasets.config import DATASETS

__all__ = ["DATASETS", "DataBundle", "DataInfo", "Preprocessor", "RawData", "build_data"]

_LAZY = {"DataBundle": "base", "DataInfo": "base", "Preprocessor": "base", "RawData": "base", "build_data": "build"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"dlrun.datasets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dlrun.datasets' has no attribute '{name}'")
