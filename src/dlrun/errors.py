"""Errors that reach the user as one line and an exit code, never as a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DlrunError(Exception):
    """A problem the user can fix (bad config, missing file...). Exit code 2."""

    exit_code = 2
    label = "error: "  # how the command line's one line starts after "dlrun: "


class ConfigError(DlrunError):
    """A config key, value or component name is wrong."""


class DataError(DlrunError):
    """A data file or column is missing or malformed."""


class CheckpointError(DlrunError):
    """A checkpoint is missing, corrupt or does not match the config."""


class TrainingDiverged(DlrunError):
    """The loss became NaN or infinite. Exit code 3: the input was valid, the run was not."""

    exit_code = 3


class PeerLost(DlrunError):
    """Another process of a multi-process job ended during a collective operation. Exit code 1: torchrun
    reports (and may restart) the process that really failed."""

    exit_code = 1


class Preempted(DlrunError):
    """A signal (SIGTERM, SIGINT, SIGUSR1) stopped the run after a checkpoint of its position. Exit code 75
    (EX_TEMPFAIL, "try again later"): a cluster script requeues the job, and `trainer.resume=auto` continues it."""

    exit_code = 75
    label = ""  # the command line prints "dlrun: stopped by ...", not "dlrun: error: ..."


class DiskFull(DlrunError):
    """No space left on the device (ENOSPC) or the disk quota is exceeded (EDQUOT) while writing a run's file."""


class RunDirLocked(DlrunError):
    """Another process is writing into the same run directory."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" for the closest candidate, or an empty string.

    Dotted keys are compared by their last part among siblings (`optimizer.momentum` is not close to
    `optimizer.name` just because both start with `optimizer.`).
    """
    name, candidates = str(name), list(candidates)
    parent, _, leaf = name.rpartition(".")
    siblings = {c.rpartition(".")[2]: c for c in candidates if c.rpartition(".")[0] == parent}
    if parent and siblings:
        match = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)
        return f" Did you mean '{siblings[match[0]]}'?" if match else ""
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


def raised_by_resolver(exc: BaseException) -> DlrunError | None:
    """The DlrunError a config resolver raised (`${dlrun.data:NAME}`...), which OmegaConf hands on wrapped
    in an InterpolationResolutionError with the key appended; None for any other exception."""
    from omegaconf.errors import InterpolationResolutionError

    if not isinstance(exc, InterpolationResolutionError):
        return None
    seen: set[int] = set()
    inner: BaseException | None = exc
    while inner is not None and id(inner) not in seen:
        if isinstance(inner, DlrunError):
            return inner
        seen.add(id(inner))
        inner = inner.__cause__ or inner.__context__
    return None
