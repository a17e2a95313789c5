"""Callbacks: cross-cutting behaviour around the loop (early stopping, checkpoints, logging...).

The built-in ones are configured under `trainer` and `logger`; more come from the top-level
`callbacks:` list by registered name. Importing this package does not import torch.
"""

from dlrun.callbacks.base import CALLBACKS, Callback, build_extra_callbacks, check_extra_callbacks

__all__ = [
    "CALLBACKS",
    "Callback",
    "build_extra_callbacks",
    "check_extra_callbacks",
    "CSVLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "SchedulerStep",
]

_LAZY = {
    "CSVLogger": "csv_logger",
    "EarlyStopping": "early_stopping",
    "ModelCheckpoint": "checkpoint",
    "SchedulerStep": "lr_scheduler",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"dlrun.callbacks.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dlrun.callbacks' has no attribute '{name}'")
