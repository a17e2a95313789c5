"""Learning-rate schedulers: `conf/scheduler/NAME.yaml` names a scheduler declared in
`dlrun.schedulers.config`, built by `dlrun.schedulers.factories`. Importing this package does not import torch."""

from dlrun.schedulers.config import SCHEDULERS

__all__ = ["SCHEDULERS", "build_scheduler"]


def __getattr__(name: str):
    if name in ("build_scheduler", "Scheduler"):
        from dlrun.schedulers import factories

        return getattr(factories, name)
    raise AttributeError(f"module 'dlrun.schedulers' has no attribute '{name}'")
