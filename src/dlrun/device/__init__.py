"""Devices: the `device` config (`dlrun.device.config`), torch placement and flags (`placement`), several
processes (`distributed`, `launch`). Importing this package does not import torch."""

from dlrun.device.config import DeviceConfig

__all__ = ["DeviceConfig", "apply_backend_flags", "autocast_dtype", "resolve_device", "use_channels_last"]


def __getattr__(name: str):
    if name in ("apply_backend_flags", "autocast_dtype", "resolve_device", "use_channels_last"):
        from dlrun.device import placement

        return getattr(placement, name)
    raise AttributeError(f"module 'dlrun.device' has no attribute '{name}'")
