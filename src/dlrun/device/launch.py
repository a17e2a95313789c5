"""Start N training processes with torch.distributed's elastic agent (what torchrun runs), from dlrun.

The user keeps typing `dlrun train ... device.count=2`; each worker re-runs the same job in the same
run directory with RANK/WORLD_SIZE set, so it trains instead of launching again.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid

from dlrun.errors import DlrunError


class WorkerFailed(DlrunError):
    """A training process failed; its own one-line error is already on the console."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stopped(run_dir: str, since: float) -> None:
    """When rank 0 stopped the run at a checkpoint for a signal (the failed.json it wrote after `since` says so),
    end this process with the same requeue code; rank 0 printed the line already."""
    from dlrun.rundir import RunDir

    files = RunDir(run_dir)
    record = files.read_failure() or {}
    if record.get("type") == "Preempted" and files.failed.stat().st_mtime >= since - 1.0:
        raise SystemExit(record.get("exit_code", 75))


def launch(
    overrides: list[str], run_dir: str, nprocs: int, nodes: int, rdzv_endpoint: str | None, max_restarts: int
) -> None:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=nodes,
        max_nodes=nodes,
        nproc_per_node=nprocs,
        run_id=os.environ.get("DLRUN_RUN_ID", uuid.uuid4().hex[:8]),
        rdzv_backend="c10d",
        rdzv_endpoint=rdzv_endpoint or f"127.0.0.1:{free_port()}",
        max_restarts=max_restarts,
        monitor_interval=0.2,
        start_method="spawn",
        # SIGUSR1 too (SLURM's --signal=USR1@90): the agent passes the signal it got on to the workers, which
        # stop at a checkpoint (dlrun.trainer.preemption) before it kills them
        signals_to_handle="SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1",
    )
    keep = [o for o in overrides if not o.startswith(("hydra.run.dir=", "hydra.sweep.dir="))]
    args = ["-m", "dlrun", "train", *keep, f"hydra.run.dir={run_dir}"]
    started = time.time()
    try:
        elastic_launch(config, sys.executable)(*args)
    except SignalException:
        stopped(run_dir, started)
        raise WorkerFailed("the training processes were stopped by a signal", 1) from None
    except ChildFailedError as exc:
        stopped(run_dir, started)
        # the root cause: a process that exited with an error code, not one the agent then terminated
        real = {r: f for r, f in exc.failures.items() if f.exitcode and f.exitcode > 0} or exc.failures
        rank, failure = min(real.items(), key=lambda item: (item[1].timestamp, item[0]))
        code = failure.exitcode if failure.exitcode and failure.exitcode > 0 else 1
        raise WorkerFailed(
            f"training process of rank {rank} failed with exit code {failure.exitcode} (its error is printed above)",
            code,
        ) from None
