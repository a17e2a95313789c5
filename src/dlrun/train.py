"""One training run, from a composed config to a run directory. Reads like the recipe it is:
check the config, build data, task and callbacks, fit, test, write metrics.json.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

import dlrun
from dlrun.baselines import baselines
from dlrun.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, SchedulerStep, build_extra_callbacks
from dlrun.callbacks.diagnostics import Diagnostics
from dlrun.cv import cross_validate, fold_rows
from dlrun.datasets import build_data
from dlrun.device import apply_backend_flags, autocast_dtype, distributed, resolve_device, use_channels_last
from dlrun.find_lr import train_with_found_lr
from dlrun.fitted.models import fitted_baselines, settings_of
from dlrun.loggers import build_logger
from dlrun.loggers.mlflow_logger import end_open_runs_on_failure
from dlrun.lr_find import is_auto_lr
from dlrun.models.build import image_input_of, weights_from_checkpoint
from dlrun.models.summary import model_summary
from dlrun.plots import draw_run, image_grids
from dlrun.reporting import print_summary
from dlrun.rundir import RunDir
from dlrun.rundir.checkpoints import load_checkpoint, resolve_checkpoint, restore_task
from dlrun.sanity.labels import apply_sanity
from dlrun.tasks import build_task
from dlrun.tasks.threshold import choose_threshold
from dlrun.trainer import Trainer, debug
from dlrun.trainer.loop import seed_everything
from dlrun.trainer.preemption import handle_signals
from dlrun.trainer.profiling import Profile
from dlrun.validate import Checked, validate

log = logging.getLogger("dlrun")


@end_open_runs_on_failure  # an MLflow run of a run that fails or is interrupted ends FAILED or KILLED
def train(cfg: DictConfig, run_dir: str | Path, progress: bool = True, checked: Checked | None = None) -> float | None:
    """Train as `cfg` says, writing into `run_dir`. Returns the best value of the checkpoint monitor
    (for K-fold, its mean over the folds: what a sweeper optimizes). `checked` is `validate(cfg)` when the
    caller has it already (`dlrun train` checks before making the run directory); otherwise it is checked here.

    In a multi-process job every process runs this; only rank 0 writes files (and holds the directory's lock).
    SIGTERM, SIGINT and SIGUSR1 stop the run at a checkpoint of its position (`dlrun.trainer.preemption`).
    """
    with RunDir(run_dir).lock(), handle_signals():
        return train_locked(cfg, run_dir, progress, checked)


def train_locked(cfg: DictConfig, run_dir: str | Path, progress: bool, checked: Checked | None) -> float | None:
    """`train` inside the run directory's lock and the signal handlers."""
    run_dir = Path(run_dir)
    checked = checked or validate(cfg)
    if is_auto_lr(cfg):  # optimizer.lr=auto: the range test picks the rate, then this trains with it
        return train_with_found_lr(cfg, checked, run_dir, progress, train)
    if checked.cv.is_parent:  # K-fold: one run per fold in run_dir/fold_N, then the aggregate
        return cross_validate(cfg, checked, run_dir, progress, train)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tcfg = debug.effective(checked.trainer)
    if tcfg.overfit_batches > 0:
        cfg = debug.without_regularization(cfg)
    device = join_processes(checked.device)
    main = distributed.is_main()
    seed_everything(cfg.seed)
    if main and debug.describe(tcfg):
        log.info("%s", debug.describe(tcfg))
    resume = _resume_state(tcfg.resume, run_dir)

    preprocessing = resume["data"]["preprocessing"] if resume else None
    model_input = image_input_of(cfg.model) if preprocessing is None else None  # what the model asks of images
    data = build_data(cfg, preprocessing, rows=fold_rows(checked.cv), model_input=model_input).to(device)
    data = apply_sanity(cfg, data)  # sanity.shuffle_labels: the random-label experiment
    with weights_from_checkpoint() if resume else contextlib.nullcontext():  # resumed: no pretrained/init_from read
        task = build_task(cfg, data.info)
    task.setup(device, tcfg.grad_clip, autocast_dtype(checked.device, device))
    channels_last = use_channels_last(checked.device, device, task.models, task.autocast_dtype)
    if channels_last and data.transform is not None:
        data.transform.memory_format = torch.channels_last
    log.info(
        "%s on %s x %d: %s, %d parameters, %d/%d/%d train/val/test rows",
        cfg.name,
        device,
        distributed.world(),
        type(task).__name__,
        task.parameter_count(),
        len(data.train),
        len(data.val or []),
        len(data.test or []),
    )

    if main:
        summary = model_summary(dict(task.models), task.summary_inputs(next(iter(data.batches("train", 2)))[0]))
        log.info("%s", summary)
        RunDir(run_dir).write_model_summary(summary)
        if isinstance(data.preprocessing, dict) and data.preprocessing.get("schema"):  # dataset=csv
            RunDir(run_dir).write_table_schema(data.preprocessing["schema"])

    ckpt = tcfg.checkpoint
    checkpoint = ModelCheckpoint(ckpt.monitor, ckpt.mode, main, ckpt.save_top_k, ckpt.every_n_epochs)
    callbacks = [SchedulerStep(), checkpoint, *task.callbacks(), *build_extra_callbacks(_plain(cfg.callbacks))]
    averaging = weight_averaging(tcfg, data, main)
    callbacks += averaging
    if tcfg.early_stopping.patience is not None:
        callbacks.append(EarlyStopping(**asdict(tcfg.early_stopping)))
    logger = build_logger(checked.logger, run_dir, cfg) if main else None
    callbacks += [CSVLogger(), *(logger or [])] if main else []
    if main and tcfg.diagnostics.enabled:  # rank 0 only: it records from its own view (docs/debugging.md)
        callbacks.append(Diagnostics.from_config(tcfg.diagnostics, data, checked.plots))
    if debug.profile_steps(tcfg):
        callbacks.append(Profile(debug.profile_steps(tcfg), save=main))
    pruning = optuna_pruning(cfg, tcfg.checkpoint.monitor) if main else None
    callbacks += [pruning] if pruning is not None else []

    meta = {
        "config": _plain(cfg),
        "data": {"preprocessing": data.preprocessing, "info": asdict(data.info)},
        "dlrun_version": dlrun.__version__,
    }
    trainer = Trainer(tcfg, run_dir, cfg.seed, [c for c in callbacks if c is not None], meta=meta, progress=progress)
    trainer.keep_global_batch = checked.device.keep_global_batch
    plan_steps(task, trainer, data)
    if resume:
        restore_task(task, resume, weights_only=False, source=resume["_path"])
        trainer.load_state_dict(resume["trainer"])
        inside = f" and {trainer.position.step} steps of epoch {trainer.position.epoch}" if trainer.position else ""
        log.info("resumed from %s after epoch %d%s", resume["_path"], trainer.epoch, inside)
        if main and (RunDir(run_dir).read_failure() or {}).get("type") == "Preempted":
            RunDir(run_dir).clear_failure()
    elif distributed.world() > 1:
        torch.manual_seed(cfg.seed + 1_000 * distributed.rank())  # different dropout masks on each rank
    task.speed_up(checked.device.compile, channels_last)
    if distributed.world() > 1:
        task.wrap_ddp()

    images = data.transform is not None and data.info.kind == "classification"
    if images and main:
        image_grids.log_inputs(data, run_dir, logger)
    with debug.anomaly_detection(tcfg.detect_anomaly, trainer):
        history = trainer.fit(task, data)
    threshold = choose_threshold(
        task, data, trainer.eval_batch_size, tcfg.checkpoint.monitor, run_dir if main else None
    )
    test_batches = debug.test_batches(tcfg, data.batches("test", trainer.eval_batch_size))
    test = task.evaluate(test_batches) if data.test is not None else {}
    shown = "test" if data.test is not None else "val"  # the split the pictures show
    predicted = (
        task.predict(data.batches(shown, trainer.eval_batch_size))
        if hasattr(task, "predict") and data.split(shown)
        else None
    )
    fitted, fits = fitted_baselines(task, data, cfg.seed, settings_of(cfg)) if main else ({}, {})
    results = {
        "history": history,
        "best": checkpoint.best(),
        "test": test,
        "baselines": baselines(task, data, cfg.seed),
        "wall_time_s": time.perf_counter() - started,
    }
    results["parameters"] = task.parameter_count()
    if shown == "test" and predicted is not None and hasattr(task, "per_class"):
        results["test_per_class"] = task.per_class(predicted)
    if threshold is not None:
        results["threshold"] = threshold
    if fitted:
        results["baselines"].update(fitted)
        results["baseline_fits"] = fits
    if pruning is not None and pruning.pruned_at is not None:
        results["pruned"] = {"epoch": pruning.pruned_at}
    if checkpoint.listing():
        results["checkpoints"] = checkpoint.listing()
    if averaging:
        results["weight_averaging"] = averaging[0].summary()
    if main:
        RunDir(run_dir).write_metrics(results)
        pictures = draw_run(checked.plots, run_dir, results, task, data, shown, predicted)
        if images and predicted is not None and shown == "test":
            image_grids.log_worst(task.scores(predicted[0]), predicted[1], data, run_dir, logger)
        if logger is not None:
            logger.log_images(pictures, trainer.epoch)
            logger.on_run_end({**{f"test/{k}": v for k, v in test.items()}, **_best_scalar(results["best"])})
        print_summary(results, run_dir, tcfg.checkpoint.monitor)
        if tcfg.overfit_batches > 0:
            log.info("%s", debug.overfit_verdict(history, tcfg.overfit_batches)["line"])
    distributed.shutdown()
    best = results["best"].get(tcfg.checkpoint.monitor)
    return float(best) if best is not None and math.isfinite(best) else None


def join_processes(device_cfg) -> torch.device:
    """The device of this process; in a multi-process job, join the group and share the CPU threads."""
    device = resolve_device(device_cfg)
    apply_backend_flags(device_cfg)
    if distributed.launched():
        distributed.init(device.type, device_cfg.timeout_s)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        else:
            local = int(os.environ.get("LOCAL_WORLD_SIZE", distributed.world()))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        if not distributed.is_main():
            logging.getLogger().setLevel(logging.WARNING)  # one console summary: rank 0's
    if device_cfg.threads is not None:
        torch.set_num_threads(device_cfg.threads)
    return device


def plan_steps(task, trainer: Trainer, data) -> None:
    """Tell the task its gradient accumulation and the run's optimizer steps (per-step schedulers need them)."""
    accumulate = trainer.cfg.accumulate_grad_batches
    batches = trainer.batches_per_epoch(data)
    steps = task.plan_steps(batches, accumulate, trainer.cfg.max_epochs)
    if accumulate > 1 or distributed.world() > 1:
        log.info(
            "effective batch %d (batch_size %d x %d accumulated x %d processes): %d optimizer step%s per epoch",
            trainer.batch_size * accumulate * distributed.world(),
            trainer.batch_size,
            accumulate,
            distributed.world(),
            steps,
            "" if steps == 1 else "s",
        )


def weight_averaging(tcfg, data, main: bool) -> list:
    """The trainer.ema / trainer.swa callback (dlrun.callbacks.weight_averaging), or none."""
    if tcfg.ema:
        from dlrun.callbacks.weight_averaging import EMA

        return [EMA(tcfg.ema_decay)]
    if tcfg.swa:
        from dlrun.callbacks.weight_averaging import SWA

        start = tcfg.swa_start if isinstance(tcfg.swa_start, int) else int(tcfg.swa_start * tcfg.max_epochs) + 1
        batches = lambda: data.batches("train", tcfg.batch_size)  # noqa: E731 - update_bn's pass over the data
        return [SWA(start, batches, save=main, lr=tcfg.swa_lr, anneal_epochs=tcfg.swa_anneal_epochs)]
    return []


def _resume_state(resume: str | None, run_dir: Path) -> dict | None:
    if resume is None:
        return None
    if resume == "auto":
        path = RunDir(run_dir).checkpoint("last")
        if not path.is_file():
            log.info("trainer.resume=auto: no checkpoint in %s yet, starting from scratch", run_dir)
            return None
    else:
        path = resolve_checkpoint(resume, prefer="last")
    state = load_checkpoint(path)
    state["_path"] = str(path)
    return state


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def optuna_pruning(cfg, monitor: str):
    """The callback reporting to this job's Optuna trial (inside an Optuna sweep; not in a K-fold's folds,
    whose parent reports the running mean over the folds)."""
    from dlrun.optuna_trial import TrialReporter, in_trial

    if not in_trial() or cfg.cv.get("fold") is not None:
        return None
    from dlrun.callbacks.optuna_pruning import OptunaPruning

    reporter = TrialReporter.from_env()
    return OptunaPruning(monitor, reporter) if reporter is not None and reporter.enabled else None


def _best_scalar(best: dict) -> dict:
    return {f"best/{k}": float(v) for k, v in best.items()}
