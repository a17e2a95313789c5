"""Checkpoint files: written atomically (temp file + rename), read with weights_only=True."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import torch

from dlrun.errors import CheckpointError


def save_atomic(state: dict, path: Path) -> None:
    """Write `state` so that `path` is always either the previous file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_checkpoint(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint file, or the `checkpoints/{prefer}.pt` (then last.pt) of a run directory."""
    path = Path(path)
    if path.is_dir():
        for name in (prefer, "last", "best"):
            candidate = path / "checkpoints" / f"{name}.pt"
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"no checkpoint in run directory {path} (expected checkpoints/{prefer}.pt)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    return path


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
