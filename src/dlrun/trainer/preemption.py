"""Stopping a run cleanly on a signal, and continuing it where it stopped.

SIGTERM (what SLURM and Kubernetes send before killing a job), SIGINT (Ctrl-C) and SIGUSR1 (SLURM's
`--signal=USR1@90` warning) are handled alike: the handler only records the signal (`handle_signals()`
installs it for a whole run). The loop asks `Preemption.stop_mid_epoch` after each training step (at an
optimizer-step boundary: never inside an unfinished gradient-accumulation cycle) and
`Preemption.stop_after_epoch` after each epoch's callbacks. A stop mid-epoch writes checkpoints/last.pt with
the exact position (`Position`: the epoch, the steps done, the epoch's per-step sums, sizes and kept training
outputs, beside the usual RNG and callback states); a signal during validation lets the epoch finish and its
checkpoint be written; a signal during the last epoch's validation or the test lets the run finish. Then
`Preempted` (exit code 75, EX_TEMPFAIL, which cluster scripts requeue on) is raised with one line that says
how to resume (`trainer.resume=auto`). A second signal stops at once (KeyboardInterrupt: the last checkpoint
written is kept).

In a multi-process job every rank must stop after the same step: the ranks agree through a two-number
all-reduce every `trainer.log_every_n_steps` steps (where the loop reads the loss anyway) and after
each epoch, and a single process checks its flag after every step.
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dlrun.device import distributed
from dlrun.errors import Preempted
from dlrun.rundir import RunDir

REQUEUE_EXIT_CODE = Preempted.exit_code  # 75: EX_TEMPFAIL from sysexits.h, "try again later"
SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1")


@dataclass
class Position:
    """Where an epoch stopped, and what its training part had gathered so far (one per process)."""

    epoch: int
    step: int  # training steps done in the epoch
    lr: float  # the learning rate logged for the epoch (its value when the epoch started)
    steps: list[dict[str, torch.Tensor]] = field(default_factory=list)  # per-step scalars, as the loop keeps them
    sizes: list[int] = field(default_factory=list)
    outputs: list = field(default_factory=list)  # (predictions, targets) kept for the epoch's training metrics
    train_time_s: float = 0.0

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.lr,
            "steps": [{k: v.detach().cpu() for k, v in s.items()} for s in self.steps],
            "sizes": list(self.sizes),
            "outputs": [tuple(t.detach().cpu() for t in o) for o in self.outputs],
            "train_time_s": self.train_time_s,
        }

    @classmethod
    def from_state(cls, state: dict) -> Position:
        return cls(
            epoch=int(state["epoch"]),
            step=int(state["step"]),
            lr=float(state["lr"]),
            steps=list(state["steps"]),
            sizes=[int(n) for n in state["sizes"]],
            outputs=[tuple(o) for o in state["outputs"]],
            train_time_s=float(state["train_time_s"]),
        )

    def to(self, device: torch.device) -> Position:
        """The same position with its tensors on `device` (a checkpoint is loaded onto the CPU)."""
        self.steps = [{k: v.to(device) for k, v in s.items()} for s in self.steps]
        self.outputs = [tuple(t.to(device) for t in o) for o in self.outputs]
        return self


_received: list[str] = []  # the signals received while `handle_signals` is active, by name
_installed: dict = {}  # signal -> the handler it had before
_depth = [0]


@contextmanager
def handle_signals() -> Iterator[None]:
    """Record SIGTERM, SIGINT and SIGUSR1 instead of dying, while the block runs (a whole run: a K-fold run's
    folds nest, and share it). Only the main thread can install handlers; elsewhere this changes nothing."""
    outermost = _depth[0] == 0 and threading.current_thread() is threading.main_thread()
    if outermost:
        _received.clear()
        for name in SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None:
                _installed[sig] = signal.signal(sig, _handle)
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        if outermost:
            _restore()


def received() -> str | None:
    """The first signal recorded in this run, by name (None: none yet)."""
    return _received[0] if _received else None


def _restore() -> None:
    for sig, previous in _installed.items():
        signal.signal(sig, previous)
    _installed.clear()


def _handle(signum, frame) -> None:
    if _received:  # the second signal: stop now, without a checkpoint of this position
        _restore()
        raise KeyboardInterrupt
    _received.append(signal.Signals(signum).name)  # nothing else here: a handler may run inside any statement


class Preemption:
    """When the loop stops for a signal that `handle_signals` recorded."""

    def __init__(self, check_every: int = 20):
        self.agreed = False  # every process knows it must stop
        self.check_every = check_every
        self.signal: str | None = None  # the signal that stops the run, by name

    # ------------------------------------------------------------------ decisions
    def _agree(self, device: torch.device) -> bool:
        """Whether any process got a signal (a collective: every rank calls it at the same point)."""
        mine = received()
        if distributed.world() == 1:
            self.signal, self.agreed = mine, mine is not None
            return self.agreed
        number = signal.Signals[mine].value if mine else 0
        flags = torch.tensor([float(mine is not None), float(number)], device=device)
        got, numbers = distributed.all_reduce_sum(flags).tolist()
        if got:
            self.signal = mine or signal.Signals(round(numbers / got)).name
        self.agreed = got > 0
        return self.agreed

    def stop_mid_epoch(self, step: int, total: int, task, device: torch.device) -> bool:
        """After training step `step` of `total`: stop here? Never at the epoch's last step (the epoch
        then ends as usual) nor inside an unfinished gradient-accumulation cycle."""
        if not self.agreed and (distributed.world() == 1 or step % self.check_every == 0):
            self._agree(device)
        return self.agreed and step < total and not getattr(task, "accumulating", False)

    def stop_after_epoch(self, device: torch.device) -> bool:
        """After an epoch's callbacks (its checkpoint is written): stop here?"""
        return self.agreed or self._agree(device)


def resume_command(run_dir: Path) -> str:
    """The command that continues this run: its overrides, trainer.resume=auto and the run directory.

    Inside Hydra's job the overrides and the directory are Hydra's (the parent of a K-fold fold); otherwise
    they are read from .hydra/overrides.yaml of the run directory or of its parent."""
    overrides, top = None, Path(run_dir)
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            hc = HydraConfig.get()
            job_dir = Path(hc.runtime.output_dir).resolve()
            if Path(run_dir).resolve().is_relative_to(job_dir):  # this run is Hydra's job, or one of its folds
                overrides, top = list(hc.overrides.task), job_dir
    except (ImportError, ValueError):
        pass
    if overrides is None:
        for candidate in (Path(run_dir), Path(run_dir).parent):
            if RunDir(candidate).overrides.is_file():
                overrides, top = RunDir(candidate).read_overrides(), candidate
                break
    keep = [o for o in overrides or [] if not o.startswith(("trainer.resume=", "hydra.run.dir=", "hydra.sweep.dir="))]
    words = ["dlrun", "train", *keep, "trainer.resume=auto", f"hydra.run.dir={top.resolve()}"]
    return " ".join(shlex.quote(w) for w in words)


def stopped_line(signal_name: str, epoch: int, step: int | None, total: int, checkpoint: Path, command: str) -> str:
    where = f"at epoch {epoch}, step {step}/{total}" if step is not None else f"after epoch {epoch}"
    return (
        f"stopped by {signal_name} {where}; checkpoint {checkpoint} holds the position; "
        f"resume with: {command} (exit code {REQUEUE_EXIT_CODE})"
    )
