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
from contextlib import ExitStack
from pathlib import Path

from dlrun.config import conf_dir
from dlrun.errors import DlrunError, Preempted, raised_by_resolver
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")

_last_sweep: dict = {}  # what SweepSummary found at the end of the sweep (it runs in this process)


def run_hydra(args: list[str], fail: Callable[[DlrunError], None]) -> None:
    """A sweep (`-m`) or a question for Hydra (`--cfg job`, `--help`...), through Hydra's own entry point."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    @hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
    def entry(cfg: DictConfig) -> float | None:
        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:  # --cfg, --info... print and return before this; a plain run is run_once's
            return run_job_reporting(cfg, None, fail)
        try:
            return run_job_in(cfg, None)
        except Preempted as exc:  # a signal stops the whole sweep, not just this job
            fail(exc)
        except Exception as exc:  # noqa: BLE001 - one bad job must not end the sweep
            record_failure(Path(hc.runtime.output_dir), str(hc.job.num), list(hc.overrides.task), exc)
            return None

    from dlrun.plugins import load_entry_points

    try:
        load_entry_points()  # installed plugins' components are options of their groups (model=my_net)
    except DlrunError as exc:
        fail(exc)
    sys.argv = ["dlrun"] + args
    _last_sweep.clear()
    entry()
    if _last_sweep.get("jobs") and len(_last_sweep["failed"]) == _last_sweep["jobs"]:
        raise SystemExit(_last_sweep["failed"][0].get("exit_code", 1))


def run_once(overrides: list[str], fail: Callable[[DlrunError], None]) -> None:
    """One run, its config composed once: composed (with Hydra's node) and checked before Hydra makes the run
    directory, so bad input leaves nothing behind and takes well under a second; then the job runs in Hydra's
    own job runner (run directory, .hydra/ files, logging, callbacks) with the config already checked."""
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import configure_log, run_job
    from hydra.types import HydraContext, RunMode
    from omegaconf import open_dict

    from dlrun.config import explain_compose_error
    from dlrun.plugins import load_entry_points
    from dlrun.validate import validate

    GlobalHydra.instance().clear()
    held = ExitStack()  # the run directory's lock, from before Hydra writes into it to the end of the job
    hydra = Hydra.create_main_hydra2(task_name="train", config_search_path=create_config_search_path(str(conf_dir())))
    try:
        load_entry_points()  # installed plugins' components are options of their groups (model=my_net)
        try:
            cfg = hydra.compose_config("config", overrides, run_mode=RunMode.RUN)
        except Exception as exc:  # noqa: BLE001 - every Hydra failure becomes one clear line
            raise explain_compose_error(exc, overrides) from exc
        job_cfg = cfg.copy()
        with open_dict(job_cfg):
            del job_cfg["hydra"]
        checked = validate(job_cfg)
        held.enter_context(RunDir(run_dir_of(cfg)).lock())  # a second run into this directory stops here
    except DlrunError as exc:
        GlobalHydra.instance().clear()
        fail(exc)
        return
    with held:
        configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
        with open_dict(cfg):
            cfg.hydra.mode = RunMode.RUN
        callbacks = Callbacks(cfg)
        callbacks.on_run_start(config=cfg, config_name="config")
        result = run_job(
            hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
            task_function=lambda task_cfg: run_job_reporting(task_cfg, checked, fail),
            config=cfg,
            job_dir_key="hydra.run.dir",
            job_subdir_key=None,
        )
        callbacks.on_run_end(config=cfg, config_name="config", job_return=result)
        _ = result.return_value  # raises what the job raised (a DlrunError was reported and exited already)


def run_dir_of(cfg) -> str:
    """hydra.run.dir resolved (the user may set it with an interpolation): one line when it cannot be."""
    from omegaconf.errors import OmegaConfBaseException

    from dlrun.validate import interpolation_error

    try:
        return str(cfg.hydra.run.dir)
    except OmegaConfBaseException as exc:
        raise interpolation_error(exc, cfg) from None


def run_job_in(cfg, checked) -> float | None:
    """The job: start the workers (device.count > 1, not yet inside a distributed job) or train here."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    if needs_launch(cfg):
        return launch_workers(cfg, list(hc.overrides.task), hc.runtime.output_dir)
    from dlrun.train import train

    return train(cfg, hc.runtime.output_dir, checked=checked)


def run_job_reporting(cfg, checked, fail: Callable[[DlrunError], None]) -> float | None:
    """A single run's job: a DlrunError (or a lost peer, in a distributed job) is one line and its exit code."""
    try:
        return run_job_in(cfg, checked)
    except DlrunError as exc:
        fail(exc)
    except Exception as exc:
        from dlrun.device.distributed import lost_peer

        lost = lost_peer(exc)  # a worker whose peer died: one line; torchrun reports the cause
        if lost is None:
            raise
        fail(lost)
    return None


def one_line(exc: BaseException) -> str:
    """A failure's reason in one line: dlrun's own message, or the exception type and its first line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    return text if isinstance(exc, DlrunError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def record_failure(job_dir: Path, job: str, overrides: list[str], exc: BaseException) -> None:
    exc = raised_by_resolver(exc) or exc
    reason = one_line(exc)
    log.error("job %s failed: %s", job, reason, exc_info=None if isinstance(exc, DlrunError) else exc)
    record = {
        "job": job,
        "overrides": overrides,
        "error": reason,
        "type": type(exc).__name__,
        "exit_code": getattr(exc, "exit_code", 1),
    }
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
    """At the end of a sweep: how many jobs ran, which failed and why (from their failed.json). With
    logger=mlflow, the sweep's MLflow parent run is opened at the start (the jobs are its children) and ended here."""

    def __init__(self) -> None:
        self.started = 0.0
        self.mlflow_parent = None

    def on_multirun_start(self, config, **kwargs) -> None:
        self.started = time.time() - 1.0  # file times may be coarser than the clock
        from importlib.util import find_spec

        from omegaconf import OmegaConf

        if OmegaConf.select(config, "logger.mlflow") is not None and find_spec("mlflow") is not None:
            from dlrun.loggers.mlflow_logger import start_sweep_parent

            try:
                self.mlflow_parent = start_sweep_parent(config)
            except DlrunError as exc:  # each job reports the same store's trouble as its own failure
                log.warning("no MLflow parent run for the sweep: %s", exc)

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        jobs = job_dirs(sweep_dir, self.started)
        failed = [f for f in (RunDir(d).read_failure() for d in jobs) if f is not None]
        _last_sweep.update(jobs=len(jobs), failed=failed, dir=str(sweep_dir))
        if self.mlflow_parent is not None:
            self.mlflow_parent.set_tag("dlrun.jobs", f"{len(jobs) - len(failed)} of {len(jobs)} succeeded")
            self.mlflow_parent.end("FAILED" if jobs and len(failed) == len(jobs) else "FINISHED")
            self.mlflow_parent = None
        if not jobs:
            return
        print(
            f"sweep: {len(jobs) - len(failed)} of {len(jobs)} jobs succeeded in {sweep_dir}; "
            f"compare them with: dlrun report {sweep_dir}",
            flush=True,
        )
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
