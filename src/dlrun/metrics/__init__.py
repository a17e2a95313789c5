"""Metrics by name (`task.metrics`); see `dlrun.metrics.config` and `dlrun.metrics.functions`."""

from dlrun.metrics.config import MAXIMIZED, METRICS, resolve_mode

__all__ = ["MAXIMIZED", "METRICS", "compute", "resolve_mode"]


def __getattr__(name: str):
    if name == "compute":
        from dlrun.metrics.functions import compute

        return compute
    raise AttributeError(f"module 'dlrun.metrics' has no attribute '{name}'")
