"""Checkpoint files: saved atomically, read with `torch.load(weights_only=True)`, chosen by name.

A checkpoint is a dict: "task" (weights, optimizer...), "trainer" (epoch, history, callbacks, RNG),
"config" (the resolved config), "data" ({"preprocessing", "info"}) and "dlrun_version".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from dlrun.errors import CheckpointError, ConfigError
from dlrun.rundir.atomic import atomic_open
from dlrun.rundir.layout import resolve_checkpoint

CHOICES = ("final", "best", "last")


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write `state` so that `path` is always either the previous file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        torch.save(state, f)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint without running code from it (torch.load(weights_only=True))."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means the file is unusable
        if not zipfile.is_zipfile(path):
            reason = "the file is corrupt or truncated (not a PyTorch checkpoint archive)"
        elif "Weights only load failed" in str(exc):
            reason = "it holds Python objects that are unsafe to load (checkpoints are read with weights_only=True)"
        else:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None
    if not isinstance(state, dict) or "task" not in state or "config" not in state:
        raise CheckpointError(f"{path} is not a dlrun checkpoint (no task state or config in it)")
    return state


def final_choice(trainer_config: dict) -> str:
    """Which checkpoint holds the weights a run ended with, from its trainer config: "best" when early
    stopping restored the best weights of the checkpoint's own monitor, else "last"."""
    stop = trainer_config["early_stopping"]
    restored = stop["patience"] is not None and stop["restore_best"]
    return "best" if restored and stop["monitor"] == trainer_config["checkpoint"]["monitor"] else "last"


def final_checkpoint(run_dir: str | Path) -> str:
    """`final_choice` for a run directory (read from its last checkpoint's config)."""
    return final_choice(load_checkpoint(resolve_checkpoint(run_dir, prefer="last"))["config"]["trainer"])


def open_checkpoint(path: str | Path, prefer: str = "final") -> tuple[Path, dict]:
    """The checkpoint file of a run directory (final, best or last) or a file, and its loaded state. `prefer` may
    also name a checkpoint file, absolute or inside the run directory (checkpoints/epoch=007-val_loss=0.2345.pt)."""
    if prefer not in CHOICES:
        named = Path(prefer) if Path(prefer).is_absolute() or not Path(path).is_dir() else Path(path) / prefer
        if prefer.endswith(".pt") and named.is_file():
            return named, load_checkpoint(named)
        raise ConfigError(f"--checkpoint must be final, best or last (or a checkpoint file), got '{prefer}'")
    if prefer == "final":
        prefer = final_checkpoint(path) if Path(path).is_dir() else "last"
    ckpt_path = resolve_checkpoint(path, prefer=prefer)
    return ckpt_path, load_checkpoint(ckpt_path)


def restore_task(task, state: dict, weights_only: bool, source) -> None:
    """Load a checkpoint's task state into `task` (`weights_only`: the model weights, not the optimizer
    and scheduler), or fail with one line when they do not match."""
    try:
        task.load_state_dict(state["task"], weights_only=weights_only)
    except (RuntimeError, KeyError, ValueError) as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise CheckpointError(f"checkpoint {source} does not match the configured model: {detail}") from None
