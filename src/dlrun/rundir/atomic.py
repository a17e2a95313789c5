"""Atomic file writes: a temp file in the same folder, flushed and fsynced, then renamed over the target.

A reader (or a crash) sees either the previous file or the complete new one, never a partial write.
Every file dlrun writes into a run directory goes through `atomic_open`. A full disk (ENOSPC) or an exceeded
quota (EDQUOT) while writing is `DiskFull`: one line naming the file and the cause, the temp file removed,
the previous file left as it was.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dlrun.errors import DiskFull

FULL = {errno.ENOSPC: "ENOSPC"} | ({errno.EDQUOT: "EDQUOT"} if hasattr(errno, "EDQUOT") else {})


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temp file beside `path` for writing (`mode` "w" or "wb"); on a clean exit it replaces `path`.

    If the body raises, the temp file is removed and `path` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600 files; a run's files are as shareable as open() makes them
        text = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        full = disk_full(exc)
        if full is None:
            raise
        kept = "the previous file is intact" if path.exists() else "nothing was written"
        name = FULL[full.errno]
        raise DiskFull(f"cannot write {path}: {os.strerror(full.errno)} ({name}); {kept}") from None


def disk_full(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError behind `exc` (itself, or what it was raised from), or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno in FULL:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def write_text(path: str | Path, text: str) -> None:
    """`text` as UTF-8, atomically."""
    with atomic_open(path) as f:
        f.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    """`obj` as indented JSON plus a newline (NaN and Infinity allowed, as Python writes them), atomically."""
    with atomic_open(path) as f:
        json.dump(obj, f, indent=2, allow_nan=True)
        f.write("\n")


def write_csv(path: str | Path, rows: list[dict[str, Any]], fieldnames: list[str]) -> None:
    """A CSV with a header row and one line per dict, atomically."""
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
