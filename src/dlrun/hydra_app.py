"""The Hydra entry point behind `dlrun train`: Hydra makes the run directory, logging and sweeps.

In a sweep (`-m`) a job that fails (a bad value, divergence, any exception) writes `failed.json` into
its directory and returns None, so the other jobs go on. `SweepSummary` (a Hydra callback) lists the
failed jobs at the end, and the command exits non-zero only when every job failed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dlrun.config import conf_dir
from dlrun.errors import DlrunError, raised_by_resolver
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")

_last_sweep: dict = {}  # what SweepSummary found at the end of the sweep (it runs in this process)


def run_hydra(args: list[str], fail: Callable[[DlrunError], None]) -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    @hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
    def entry(cfg: DictConfig) -> float | None:
        from dlrun.train import train

        hc = HydraConfig.get()

        def run() -> float | None:
            if needs_launch(cfg):  # device.count > 1 and not yet inside a distributed job: start the workers
                return launch_workers(cfg, list(hc.overrides.task), hc.runtime.output_dir)
            return train(cfg, hc.runtime.output_dir)

        if hc.mode != RunMode.MULTIRUN:
            try:
                return run()
            except DlrunError as exc:
                fail(exc)
            except Exception as exc:
                from dlrun.device.distributed import lost_peer

                lost = lost_peer(exc)  # a worker whose peer died: one line; torchrun reports the cause
                if lost is None:
                    raise
                fail(lost)
        try:
            return run()
        except Exception as exc:  # noqa: BLE001 - one bad job must not end the sweep
            record_failure(Path(hc.runtime.output_dir), str(hc.job.num), list(hc.overrides.task), exc)
            return None

    sys.argv = ["dlrun"] + args
    _last_sweep.clear()
    entry()
    if _last_sweep.get("jobs") and len(_last_sweep["failed"]) == _last_sweep["jobs"]:
        raise SystemExit(_last_sweep["failed"][0].get("exit_code", 1))


def one_line(exc: BaseException) -> str:
    """A failure's reason in one line: dlrun's own message, or the exception type and its first line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return text if isinstance(exc, DlrunError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def record_failure(job_dir: Path, job: str, overrides: list[str], exc: BaseException) -> None:
    exc = raised_by_resolver(exc) or exc
    reason = one_line(exc)
    log.error("job %s failed: %s", job, reason, exc_info=None if isinstance(exc, DlrunError) else exc)
    record = {"job": job, "overrides": overrides, "error": reason, "type": type(exc).__name__,
              "exit_code": getattr(exc, "exit_code", 1)}
    RunDir(job_dir).write_failure(record)


def job_dirs(sweep_dir: Path, since: float = 0.0) -> list[Path]:
    """The job directories of a sweep (those Hydra wrote a .hydra/ into), oldest job number first."""
    found = [d for d in sweep_dir.iterdir() if RunDir(d).config.is_file()] if sweep_dir.is_dir() else []
    found = [d for d in found if RunDir(d).config.stat().st_mtime >= since]
    return sorted(found, key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))


try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra-core is a dependency
    _HydraCallback = object


class SweepSummary(_HydraCallback):
    """At the end of a sweep: how many jobs ran, which failed and why (from their failed.json)."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_multirun_start(self, config, **kwargs) -> None:
        self.started = time.time() - 1.0  # file times may be coarser than the clock

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = job_dirs(sweep_dir, self.started)
        failed = [f for f in (RunDir(d).read_failure() for d in jobs) if f is not None]
        _last_sweep.update(jobs=len(jobs), failed=failed, dir=str(sweep_dir))
        if not jobs:
            return
        print(f"sweep: {len(jobs) - len(failed)} of {len(jobs)} jobs succeeded in {sweep_dir}; "
              f"compare them with: dlrun report {sweep_dir}", flush=True)
        if failed:
            lines = [f"  job {f['job']} ({' '.join(f['overrides']) or 'no overrides'}): {f['error']}" for f in failed]
            print(f"failed jobs ({len(failed)}):\n" + "\n".join(lines), file=sys.stderr, flush=True)


def needs_launch(cfg) -> bool:
    from dlrun.device import distributed

    count = cfg.device.count
    return (count == "all" or int(count) > 1 or int(cfg.device.nodes) > 1) and not distributed.launched()


def launch_workers(cfg, overrides: list[str], run_dir: str) -> float | None:
    """Run the job in device.count processes; return the monitored value rank 0 wrote to metrics.json."""
    from omegaconf import OmegaConf

    from dlrun.device import DeviceConfig
    from dlrun.device.launch import launch

    dev = DeviceConfig(**OmegaConf.to_container(cfg.device, resolve=True))
    nprocs = dev.processes()
    log.info("starting %d training processes per node on %d node(s)", nprocs, dev.nodes)
    launch(overrides, run_dir, nprocs, dev.nodes, dev.rdzv_endpoint, dev.max_restarts)
    metrics = RunDir(run_dir).read_metrics()
    best = metrics.get("best", {}) if metrics is not None else {}
    value = best.get(cfg.trainer.checkpoint.monitor)
    return float(value) if value is not None else None
