"""MLflow tracking: one MLflow run per dlrun run, with MLflow's own client (`mlflow.tracking.MlflowClient`).

A run logs the flattened config as params, every epoch's numbers as metrics (step = epoch; `lr` too), the test
metrics and `best/*` at the end, and as artifacts metrics.json, history.csv, the plots (PNG), the resolved config
(config.yaml) and the best checkpoint. Tags: dlrun's version, the run directory, and the status (FAILED or
KILLED when the run raises or is interrupted: `end_open_runs_on_failure`).

Nesting: the folds of a K-fold run are child runs of the K-fold run (the parent puts its run id into each fold's
config: `logger.mlflow.parent_run_id`, so it travels to folds in other processes); the jobs of a sweep (`-m`)
are child runs of one parent run that `dlrun.hydra_app.SweepSummary` opens at the sweep's start and passes to
every job as the environment variable DLRUN_MLFLOW_PARENT_RUN through `hydra.job.env_set` (so it reaches jobs of
every launcher: basic, joblib, submitit).

MLflow is imported only when a run starts (it takes seconds); nothing here imports it at module level.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any

from dlrun.callbacks.base import Callback
from dlrun.errors import ConfigError, Preempted
from dlrun.loggers.config import MLflowConfig
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")

PARENT_RUN_ENV = "DLRUN_MLFLOW_PARENT_RUN"  # a sweep's parent run id, set in each job through hydra.job.env_set
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"  # MLflow's own variable: where runs go when logger.mlflow.tracking_uri=null
DEFAULT_DB = "mlflow.db"  # the default store: sqlite:///<current directory>/mlflow.db
ARTIFACTS_DIR = "mlartifacts"  # a SQLite store's artifacts: beside its file
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param's value (mlflow.utils.validation.MAX_PARAM_VAL_LENGTH)
PARAMS_PER_BATCH = 100  # MLflow's limit on params per log_batch call
METRICS_PER_BATCH = 1000

OPEN_RUNS: list[TrackedRun] = []  # runs this process started and has not ended yet, oldest first


def tracking_uri(configured: str | None) -> str:
    """The tracking URI: logger.mlflow.tracking_uri, else $MLFLOW_TRACKING_URI, else ./mlflow.db; a relative SQLite
    path is made absolute (jobs and folds in other directories or processes then find the same store)."""
    uri = configured or os.environ.get(TRACKING_URI_ENV) or f"sqlite:///{DEFAULT_DB}"
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite file (mlartifacts/), else the store's default."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and uri != prefix + ":memory:":
        return (Path(uri[len(prefix) :]).parent / ARTIFACTS_DIR).as_uri()
    return None


def param_key(key: str) -> str:
    """MLflow takes letters, digits and _ - . space / in names."""
    return re.sub(r"[^\w\-. /]", "_", key)[:250]


def run_name(run_dir: Path) -> str:
    """The run directory, relative to the current directory when it is below it."""
    path = Path(run_dir).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class TrackedRun:
    """One MLflow run, through MlflowClient (no global active run: in-process folds and sweep jobs never clash)."""

    def __init__(self, uri: str, experiment: str, name: str, tags: dict[str, str], resume: str | None = None):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        try:
            if resume is not None and self._reopen(resume, tags.get("dlrun.run_dir")):
                self.run_id = resume
            else:
                run = self.client.create_run(experiment_id(self.client, experiment, uri), run_name=name, tags=tags)
                self.run_id = run.info.run_id
        except Exception as exc:  # noqa: BLE001 - an unreachable or broken store is one line, before training
            raise ConfigError(f"logger.mlflow: cannot start a run at {uri}: {one_line(exc)}") from None
        OPEN_RUNS.append(self)

    def _reopen(self, run_id: str, run_dir: str | None) -> bool:
        """A run resumed in its own directory (trainer.resume=auto) continues its MLflow run; one resumed from
        another run's checkpoint (trainer.resume=PATH) starts a new one, as does a store that lacks the run."""
        try:
            found = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - another store, or the run was deleted: a new run then
            return False
        if found.data.tags.get("dlrun.run_dir") != run_dir:
            return False
        self.client.update_run(run_id, status="RUNNING")
        return True

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(param_key(k), str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        for i in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + PARAMS_PER_BATCH])

    def log_metrics(self, values: dict[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(param_key(k), float(v), now, step)
            for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ]
        for i in range(0, len(items), METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + METRICS_PER_BATCH])

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        if Path(path).is_file():
            self.client.log_artifact(self.run_id, str(path), folder)

    def log_text(self, text: str, name: str) -> None:
        self.client.log_text(self.run_id, text, name)

    def set_tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value[:5000])

    def end(self, status: str = "FINISHED") -> None:
        if self in OPEN_RUNS:
            OPEN_RUNS.remove(self)
        self.client.set_terminated(self.run_id, status=status)

    def fail(self, exc: BaseException) -> None:
        """End the run as FAILED (KILLED for a signal, Ctrl-C and exits: a preempted run resumes into the same
        MLflow run), the error as the tag dlrun.error."""
        status = "KILLED" if isinstance(exc, (KeyboardInterrupt, SystemExit, Preempted)) else "FAILED"
        try:
            self.set_tag("dlrun.error", one_line(exc))
            self.end(status)
        except Exception as error:  # noqa: BLE001 - the run's own error is the one to report
            log.warning("MLflow: could not mark run %s %s: %s", self.run_id, status, one_line(error))
            if self in OPEN_RUNS:
                OPEN_RUNS.remove(self)


def experiment_id(client, name: str, uri: str) -> str:
    """The experiment's id, made on first use (a parallel job may make it first: then it is read back)."""
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_root(uri))
        except Exception:  # noqa: BLE001 - created meanwhile by another process
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
    return found.experiment_id


def end_open_runs_on_failure(fn):
    """Decorate a function that starts MLflow runs (`dlrun.train.train`): the runs it leaves open when it raises
    (or is interrupted) end FAILED or KILLED, and the error goes on."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        depth = len(OPEN_RUNS)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            while len(OPEN_RUNS) > depth:
                OPEN_RUNS[-1].fail(exc)
            raise

    return wrapper


def base_tags(cfg: MLflowConfig, run_dir: Path | None) -> dict[str, str]:
    import dlrun

    tags = {"dlrun.version": dlrun.__version__, "mlflow.source.name": "dlrun", "mlflow.source.type": "JOB"}
    if run_dir is not None:
        tags["dlrun.run_dir"] = str(Path(run_dir).resolve())
    parent = cfg.parent_run_id or os.environ.get(PARENT_RUN_ENV)
    if parent:
        tags["mlflow.parentRunId"] = parent
    return {**tags, **{str(k): str(v) for k, v in cfg.tags.items()}}


def config_yaml(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


class MLflowLogger(Callback):
    """The run's MLflow run: params at the start, metrics every epoch, test metrics and artifacts at the end."""

    priority = 70

    def __init__(self, cfg: MLflowConfig, run_dir, name: str, config: dict, hparams: dict):
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.experiment = cfg.experiment or name
        self.config, self.hparams = config, hparams
        self.run: TrackedRun | None = None
        self.resume_id: str | None = None

    def start(self) -> TrackedRun:
        if self.run is None:
            uri = tracking_uri(self.cfg.tracking_uri)
            name = run_name(self.run_dir)
            self.run = TrackedRun(uri, self.experiment, name, base_tags(self.cfg, self.run_dir), self.resume_id)
            if self.run.run_id != self.resume_id:
                self.run.log_params(self.hparams)
                self.run.log_text(config_yaml(self.config), "config.yaml")
            log.info("MLflow: run %s in experiment '%s' at %s", self.run.run_id, self.experiment, uri)
        return self.run

    def on_fit_start(self, trainer):
        self.start()

    def on_epoch_end(self, trainer, epoch, logs):
        self.start().log_metrics({k: v for k, v in logs.items() if k != "epoch"}, epoch)

    def log_images(self, pictures: dict, step: int) -> None:
        for path in pictures.values():
            self.start().log_artifact(Path(path), "plots")

    def on_run_end(self, results: dict) -> None:
        """The test metrics and best/*, the run directory's files, and the run ended FINISHED."""
        run, files = self.start(), RunDir(self.run_dir)
        run.log_metrics(results, len(files.read_history()))
        run.log_artifact(files.metrics)
        run.log_artifact(files.history)
        if self.cfg.log_checkpoint:
            best = files.checkpoint("best")
            run.log_artifact(best if best.is_file() else files.checkpoint("last"), "checkpoints")
        run.end("FINISHED")
        self.run = None

    def state_dict(self) -> dict:
        return {"run_id": self.run.run_id if self.run is not None else self.resume_id}

    def load_state_dict(self, state: dict) -> None:
        self.resume_id = state.get("run_id")


# ------------------------------------------------------------------ K-fold parents and sweep parents


def start_parent(cfg: MLflowConfig, experiment: str, run_dir: Path, params: dict, config: dict) -> TrackedRun:
    """A K-fold run's own MLflow run: its folds are children (their config's logger.mlflow.parent_run_id)."""
    run = TrackedRun(
        tracking_uri(cfg.tracking_uri), cfg.experiment or experiment, run_name(run_dir), base_tags(cfg, run_dir)
    )
    run.log_params(params)
    run.log_text(config_yaml(config), "config.yaml")
    return run


def finish_kfold(run: TrackedRun, results: dict, run_dir: Path, curve_png: Path | None) -> None:
    """The K-fold aggregate: the averaged curve per epoch (cv/<key>), mean and std over folds, refit test metrics."""
    cv = results["cv"]
    for row in cv["curve"]:
        run.log_metrics({f"cv/{k}": v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))
    last = int(cv["curve"][-1]["epoch"]) if cv["curve"] else 0
    run.log_metrics(
        {
            **{f"cv/mean/{k}": v for k, v in cv["mean"].items()},
            **{f"cv/std/{k}": v for k, v in cv["std"].items()},
            **{f"test/{k}": v for k, v in results["test"].items()},
        },
        last,
    )
    run.log_artifact(RunDir(run_dir).metrics)
    if curve_png is not None:
        run.log_artifact(curve_png, "plots")
    run.end("FINISHED")


def start_sweep_parent(config) -> TrackedRun | None:
    """At a sweep's start (`dlrun train -m ... logger=mlflow`): the parent run of its jobs, and the Hydra overrides
    that hand its id (and the tracking URI) to every job through `hydra.job.env_set`."""
    from omegaconf import OmegaConf, read_write

    node = OmegaConf.select(config, "logger.mlflow")
    if node is None:
        return None
    cfg = MLflowConfig(**{k: v for k, v in OmegaConf.to_container(node, resolve=True).items()})
    uri = tracking_uri(cfg.tracking_uri)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    run = TrackedRun(uri, cfg.experiment or str(config.name), run_name(sweep_dir), base_tags(cfg, None))
    run.set_tag("dlrun.sweep_dir", str(sweep_dir.resolve()))
    env = {PARENT_RUN_ENV: run.run_id}
    if cfg.tracking_uri is None:
        env[TRACKING_URI_ENV] = uri
    with read_write(config.hydra.overrides):
        for key, value in env.items():
            config.hydra.overrides.hydra.append(f"++hydra.job.env_set.{key}={quoted(value)}")
    log.info("MLflow: sweep parent run %s at %s", run.run_id, uri)
    return run


def quoted(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
