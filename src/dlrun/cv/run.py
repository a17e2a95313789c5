"""The K-fold parent run: train every fold (one after another, or `cv.parallel` at once), aggregate
them into the parent's metrics.json, and optionally refit on all non-test rows and test once.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from dlrun.cv.aggregate import aggregate, log_tensorboard, plot_curve
from dlrun.errors import ConfigError, DlrunError, TrainingDiverged
from dlrun.fitted.folds import fold_baselines
from dlrun.loggers.hparams import flat_hparams
from dlrun.metrics import resolve_mode
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")

TrainOne = Callable[[DictConfig, Path, bool], "float | None"]  # dlrun.train.train


def cross_validate(cfg: DictConfig, checked, run_dir: str | Path, progress: bool, train: TrainOne) -> float | None:
    """Train the folds into run_dir/fold_N/ and write the aggregate; returns the mean monitored value.

    `checked` is the validated config; `train(cfg, run_dir, progress)` trains one run (`dlrun.train.train`,
    passed in so that this package does not import the module that imports it).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = RunDir(run_dir)
    started = time.perf_counter()
    cv, monitor = checked.cv, checked.trainer.checkpoint.monitor
    mode = resolve_mode(checked.trainer.checkpoint.mode, monitor, "trainer.checkpoint.mode")
    check_refit(cfg, cv.refit)

    dirs = [files.fold(k).path for k in range(cv.runs)]
    pruned = None
    tracked = track_folds(checked.logger, cfg, run_dir)  # logger=mlflow: this run's MLflow run, the folds its children
    configs = [fold_config(cfg, k, tracked.run_id if tracked else None) for k in range(cv.runs)]
    log.info(
        "%s: %d-fold cross-validation%s, %d model(s)%s",
        cfg.name,
        cv.folds,
        f" x {cv.repeats} repeats" if cv.repeats > 1 else "",
        cv.runs,
        f", {cv.parallel} at once" if cv.parallel > 1 else "",
    )
    if cv.parallel > 1:
        _train_parallel(configs, dirs, cv.parallel, train)
    else:
        reporter = fold_reporter()  # inside an Optuna sweep: the running mean over the folds finished
        for k, (fold_cfg, fold_dir) in enumerate(zip(configs, dirs, strict=False)):
            log.info("fold %d/%d -> %s", k + 1, cv.runs, fold_dir)
            _tagged(k, train, fold_cfg, fold_dir, progress)
            if reporter is not None and reporter.report(running_mean(dirs[: k + 1], monitor), k + 1):
                log.info("pruned by the Optuna study after fold %d/%d", k + 1, cv.runs)
                dirs, pruned = dirs[: k + 1], {"epoch": k + 1, "folds_done": k + 1}
                break
    folds = [RunDir(d).read_metrics() for d in dirs]
    summary = aggregate(folds, monitor, mode)
    summary["baselines"] = fold_baselines(folds)  # mean and std over the folds, beside the model's

    results: dict = {
        "cv": summary,
        "history": summary["curve"],
        "best": {monitor: summary["mean"][monitor]},
        "test": {},
    }
    if pruned is not None:
        results["pruned"] = pruned
    if cv.refit and pruned is None:
        parent = tracked.run_id if tracked else None
        results["refit"] = _refit(child_config(cfg, parent), summary, files.refit, progress, train)
        results["test"] = results["refit"].pop("test")
    results["wall_time_s"] = time.perf_counter() - started
    files.write_metrics(results)
    curve_png = plot_curve(summary, run_dir / "cv_curve.png", cv.plot_skip_first)
    if checked.logger.tensorboard is not None:
        log_tensorboard(summary, results["test"], flat_hparams(cfg), run_dir / "tensorboard")
    if tracked is not None:
        from dlrun.loggers.mlflow_logger import finish_kfold

        finish_kfold(tracked, results, run_dir, curve_png)
    print_cv_summary(results, run_dir)
    mean = summary["mean"][monitor]
    return float(mean) if math.isfinite(mean) else None


def fold_reporter():
    """This K-fold job's Optuna trial reporter (`dlrun.optuna_trial`), or None outside an Optuna sweep."""
    from dlrun.optuna_trial import TrialReporter, in_trial

    if not in_trial():
        return None
    reporter = TrialReporter.from_env()
    return reporter if reporter is not None and reporter.enabled else None


def running_mean(dirs: list[Path], monitor: str) -> float:
    """The mean of the monitored metric's best value over the folds finished so far."""
    values = [((RunDir(d).read_metrics() or {}).get("best") or {}).get(monitor) for d in dirs]
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else math.nan


def fold_config(cfg: DictConfig, k: int, mlflow_parent: str | None = None) -> DictConfig:
    """Fold k is a normal run whose config says which fold it is (so eval and resume rebuild its rows), and
    (logger=mlflow) whose MLflow run is a child of the K-fold run's."""
    fold = child_config(cfg, mlflow_parent)
    fold.cv.fold = k
    return fold


def child_config(cfg: DictConfig, mlflow_parent: str | None) -> DictConfig:
    """A copy of the config whose MLflow run (logger=mlflow) is a child of `mlflow_parent`."""
    child = copy.deepcopy(cfg)
    if mlflow_parent is not None:
        child.logger.mlflow.parent_run_id = mlflow_parent
    return child


def track_folds(loggers, cfg: DictConfig, run_dir: Path):
    """logger=mlflow: the K-fold run's own MLflow run (rank 0 only), else None."""
    from dlrun.device.distributed import env_world

    if loggers.mlflow is None or env_world()[0] != 0:
        return None
    from dlrun.loggers.mlflow_logger import start_parent

    plain = OmegaConf.to_container(cfg, resolve=True)
    return start_parent(loggers.mlflow, str(cfg.name), run_dir, flat_hparams(cfg), plain)


def check_refit(cfg: DictConfig, refit: bool) -> None:
    """The refit trains without validation rows: nothing in it may watch a val/ key but the checkpoint."""
    if not refit:
        return
    monitor = cfg.scheduler.get("monitor")
    if isinstance(monitor, str) and monitor.startswith("val/"):
        raise ConfigError(
            f"cv.refit trains without a validation split, so scheduler.monitor={monitor} has nothing "
            "to watch; use a train/ key or another scheduler"
        )


def refit_config(cfg: DictConfig, epochs: int) -> DictConfig:
    """All non-test rows train (no validation split) for `epochs` epochs; the test split is measured once."""
    refit = copy.deepcopy(cfg)
    with open_dict(refit):
        refit.cv.folds, refit.cv.repeats, refit.cv.refit, refit.cv.fold = 1, 1, False, None
        refit.dataset.split.val, refit.dataset.split.val_first_n = 0.0, None
        refit.trainer.max_epochs = epochs
        refit.trainer.early_stopping.patience = None
        refit.trainer.checkpoint.monitor, refit.trainer.checkpoint.mode = "train/loss", "min"
    return refit


def _refit(cfg: DictConfig, summary: dict, refit_dir: RunDir, progress: bool, train: TrainOne) -> dict:
    epochs = summary["best_epoch"]
    if epochs is None:
        raise DlrunError(f"cv.refit: the averaged {summary['monitor']} curve has no finite value to pick an epoch")
    log.info(
        "refit on all non-test rows for %d epochs (best epoch of the averaged curve) -> %s", epochs, refit_dir.path
    )
    train(refit_config(cfg, epochs), refit_dir.path, progress)
    metrics = refit_dir.read_metrics()
    return {
        "epochs": epochs,
        "dir": refit_dir.path.name,
        "train_rows": metrics["history"][-1]["train_samples"],
        "test": metrics["test"],
    }


def _tagged(k: int, fn, *args):
    """Run one fold; a divergence names the fold (other errors are the same for every fold)."""
    try:
        return fn(*args)
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"fold {k}: {exc}") from None


# ------------------------------------------------------------------ folds in separate processes


def _train_parallel(configs: list[DictConfig], dirs: list[Path], workers: int, train: TrainOne) -> None:
    """`workers` folds at once in spawned processes, each with an equal share of the CPU threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    workers = min(workers, len(configs))
    threads = max(1, torch.get_num_threads() // workers)
    plain = [OmegaConf.to_container(c, resolve=True) for c in configs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(threads,)
    ) as pool:
        futures = [
            pool.submit(_train_fold, train, k, c, str(d)) for k, (c, d) in enumerate(zip(plain, dirs, strict=False))
        ]
        for k, future in enumerate(futures):
            best = future.result()  # re-raises the fold's error here, with its fold number
            log.info("fold %d/%d done: best %s", k + 1, len(futures), best)


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _train_fold(train: TrainOne, k: int, plain: dict, fold_dir: str):
    cfg = OmegaConf.create(plain)
    OmegaConf.set_struct(cfg, True)
    Path(fold_dir).mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(Path(fold_dir) / "train.log")  # the fold's epochs, as a sequential run logs them
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
    logging.getLogger("dlrun").addHandler(handler)
    logging.getLogger("dlrun").setLevel(logging.INFO)
    try:  # the fold's summary table would interleave with the others': its metrics.json holds it all
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            return _tagged(k, train, cfg, fold_dir, False)
    finally:
        logging.getLogger("dlrun").removeHandler(handler)
        handler.close()


def print_cv_summary(results: dict, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    cv = results["cv"]
    monitor = cv["monitor"]
    table = Table(title=f"dlrun cross-validation ({cv['folds']} folds)", header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    for fold in cv["per_fold"]:
        value = fold.get(monitor, math.nan)
        table.add_row(f"fold {fold['fold']} best {monitor}", f"{value:.4f} (epoch {fold['epoch']})")
    table.add_row(f"mean ± std {monitor}", f"{cv['mean'][monitor]:.4f} ± {cv['std'][monitor]:.4f}")
    if cv["best_epoch"]:
        table.add_row("best epoch of the averaged curve", f"{cv['best_epoch']} ({cv['best'][monitor]:.4f})")
    if "refit" in results:
        table.add_row("refit", f"{results['refit']['epochs']} epochs on {results['refit']['train_rows']} rows")
    for key, value in results["test"].items():
        table.add_row(f"test {key}", f"{value:.4f}")
    table.add_row("run directory", str(run_dir))
    Console().print(table)
    if cv.get("baselines"):
        from dlrun.reporting import baseline_table

        found = cv["baselines"]
        Console().print(baseline_table(found["model"], {"split": f"mean of folds' {found['split']}", **found["mean"]}))
