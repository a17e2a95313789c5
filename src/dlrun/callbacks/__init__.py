"""Callbacks: cross-cutting behaviour around the loop (early stopping, checkpoints, logging...).

The built-in ones are configured under `trainer` and `logger`; more come from the top-level
`callbacks:` list by registered name.
"""

from dlrun.callbacks.base import CALLBACKS, Callback, build_extra_callbacks
from dlrun.callbacks.checkpoint import ModelCheckpoint
from dlrun.callbacks.csv_logger import CSVLogger
from dlrun.callbacks.early_stopping import EarlyStopping
from dlrun.callbacks.lr_scheduler import SchedulerStep

__all__ = ["CALLBACKS", "Callback", "build_extra_callbacks", "CSVLogger", "EarlyStopping", "ModelCheckpoint",
           "SchedulerStep"]
