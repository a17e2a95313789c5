"""The `lr_find` config group's schema (`conf/lr_find/default.yaml` is written from it), and the rules for
`optimizer.lr=auto`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dlrun.errors import ConfigError
from dlrun.schema import option

AUTO = "auto"


@dataclass
class LRFindConfig:
    """Learning-rate range test (`dlrun lr-find`; `optimizer.lr=auto` runs it before training)."""

    min_lr: float = option(1e-7, "learning rate of the first step", gt=0)
    max_lr: float = option(10.0, "learning rate of the last step", gt=0)
    num_steps: int = option(100, "training steps (batches, cycling the training split) from min_lr to max_lr", ge=2)
    smoothing: float = option(0.98, "exponential smoothing factor (beta) of the loss curve; 0 = raw losses", ge=0, lt=1)
    diverge_factor: float = option(4.0, "stop when the smoothed loss exceeds this many times its lowest value", gt=1)
    suggestion: Literal["minimum", "steepest"] = option(
        "minimum", "minimum = the rate at the lowest smoothed loss / 10; steepest = the steepest descent of the curve"
    )
    skip_start: int = option(10, "steps left out at the start of the curve when suggesting", ge=0)
    skip_end: int = option(1, "steps left out at the end of the curve when suggesting", ge=0)

    def __post_init__(self):
        if self.min_lr >= self.max_lr:
            raise ConfigError(f"lr_find.min_lr must be < lr_find.max_lr, got {self.min_lr} >= {self.max_lr}")
        if self.skip_start + self.skip_end >= self.num_steps - 1:
            raise ConfigError(
                f"lr_find.skip_start + lr_find.skip_end must leave at least 2 of lr_find.num_steps={self.num_steps} "
                f"steps, got {self.skip_start} + {self.skip_end}"
            )


def is_auto_lr(cfg: Any) -> bool:
    """Whether the config asks for `optimizer.lr=auto` (a range test picks the rate before training)."""
    optimizer = cfg.get("optimizer") if hasattr(cfg, "get") else None
    return optimizer is not None and optimizer.get("lr") == AUTO


def check_auto_lr(plain: dict) -> None:
    """`lr=auto` only where the range test can run: the task's single optimizer, in one process."""
    task = plain.get("task") or {}
    for key, node in task.items():
        if isinstance(node, dict) and node.get("lr") == AUTO:
            raise ConfigError(
                f"task.{key}.lr=auto is not supported: the range test tunes the one optimizer of a single-optimizer "
                "task (optimizer.lr)"
            )
    if plain.get("optimizer", {}).get("lr") != AUTO:
        return
    device = plain.get("device") or {}
    count, nodes = device.get("count", 1), device.get("nodes", 1)
    if count == "all" or int(count) > 1 or int(nodes) > 1:
        raise ConfigError(
            "optimizer.lr=auto runs in one process: run `dlrun lr-find` first and set optimizer.lr to its "
            "suggestion for a multi-process run (device.count > 1)"
        )
