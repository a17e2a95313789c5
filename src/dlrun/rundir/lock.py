"""One writer per run directory: an exclusive `fcntl.flock` on `.dlrun.lock`, taken without waiting.

The process that writes a run holds the lock while it runs; a second run started into the same directory is
refused with one line (`RunDirLocked`, exit 2) instead of interleaving its files with the first's. The OS
releases the lock when the process ends, however it ends (kill -9 included), so no stale lock survives it.

- Re-entrant in one process: a K-fold parent holds its directory, each fold its own `fold_N/`; `optimizer.lr=auto`
  trains into the directory it already holds.
- Processes the holder starts (dlrun's own torchrun workers, parallel folds) inherit the list of held
  directories in DLRUN_HELD_RUN_DIRS and do not lock those again; in a distributed job only rank 0 locks.
- Sweeps: every job has its own directory and its own lock.
Without fcntl (Windows) nothing is locked.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dlrun.errors import RunDirLocked

LOCK_FILE = ".dlrun.lock"
HELD_ENV = "DLRUN_HELD_RUN_DIRS"  # os.pathsep-separated: run directories a parent process holds for this one

_held: dict[str, list[int]] = {}  # resolved path -> [fd, depth]


@contextmanager
def hold_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold the run directory's lock while the block runs (making the directory); RunDirLocked when another
    process holds it."""
    path = Path(run_dir).resolve()
    key = str(path)
    inherited = key in os.environ.get(HELD_ENV, "").split(os.pathsep)
    if not _writes_files() or inherited or key in _held:
        if key in _held:
            _held[key][1] += 1
        try:
            yield
        finally:
            if key in _held:
                _held[key][1] -= 1
        return
    fd = _acquire(path)
    if fd is None:  # no fcntl on this platform
        yield
        return
    _held[key] = [fd, 1]
    _set_env()
    try:
        yield
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            del _held[key]
            _set_env()
            os.close(fd)  # releases the lock


def _writes_files() -> bool:
    """Not a rank other than 0 of a distributed job (the environment dlrun.device.distributed reads; no torch)."""
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return env["RANK"] == "0"
    if "SLURM_PROCID" in env and int(env.get("SLURM_NTASKS", "1")) > 1:
        return env["SLURM_PROCID"] == "0"
    return True


def _acquire(path: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        owner = _read_pid(lock)
        who = f"another dlrun process (pid {owner})" if owner else "another dlrun process"
        raise RunDirLocked(
            f"run directory {path} is in use by {who}; wait for it to end or choose another hydra.run.dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _read_pid(lock: Path) -> str:
    try:
        return lock.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _set_env() -> None:
    inherited = [p for p in os.environ.get(HELD_ENV, "").split(os.pathsep) if p and p not in _held]
    value = os.pathsep.join([*inherited, *_held])
    if value:
        os.environ[HELD_ENV] = value
    else:
        os.environ.pop(HELD_ENV, None)
