"""The files of a run directory: where each one lives, writing them atomically, reading them back.

Layout of a run directory (`RunDir(path)` names every path; the constants are the file names)::

    metrics.json          results: history, best, test, baselines, wall_time_s (K-fold: cv, refit)
    history.csv           one row per epoch, rewritten after every epoch
    diagnostics.csv       training-health signals per epoch and layer (DIAGNOSTICS_COLUMNS)
    diagnostics.png       those signals over epochs, one panel per signal, one line per layer
    profile/              debug=profile: top_ops.txt (top operators) and trace.pt.trace.json (Chrome trace)
    explain/METHOD/       dlrun explain: summary.json and, by kind of data, columns.csv/.png, images.png,
                          tokens.csv/.md and class_tokens.csv, steps.csv/.png
    lr_find.json/.png     the learning-rate range test's curve and suggestion (dlrun lr-find, optimizer.lr=auto)
    model_summary.txt     the model table printed at the start
    checkpoints/last.pt   written every epoch (resume from it)
    checkpoints/best.pt   written when the checkpoint monitor improves
    checkpoints/epoch=NNN-<monitor>=<value>.pt   the k best epochs (trainer.checkpoint.save_top_k)
    checkpoints/epoch=NNN.pt                     every n-th epoch (trainer.checkpoint.every_n_epochs)
    failed.json           a sweep job that failed: job, overrides, error, type, exit_code; a run stopped by a
                          signal: type Preempted, exit_code 75, signal, epoch, step (removed when it resumes)
    .dlrun.lock           flock'ed by the process writing the run (dlrun.rundir.lock): a second one is refused
    export/<format>/      dlrun export: model.onnx or model.pt, signature.json, vocabulary.txt (dlrun.rundir.exports)
    .hydra/config.yaml    the composed config (Hydra writes it; every checkpoint holds it resolved)
    .hydra/overrides.yaml the command-line overrides
    fold_N/ refit/        the fold runs and the refit run of a K-fold parent (each a run directory)

API (light: importing `dlrun.rundir` does not import torch)::

    RunDir(path)                          .metrics .history .model_summary .failed .config .overrides
                                          .checkpoint(name) .fold(k) .refit .is_run()
                                          .epoch_checkpoint(epoch, monitor, value) .epoch_checkpoints()
                                          .remove(path)
                                          .read_metrics() .read_history() .read_config() .read_overrides()
                                          .read_failure() .read_diagnostics() .read_lr_find()
                                          .lr_find .lr_find_plot .write_lr_find(result)
                                          .write_metrics(results) .write_history(rows) .write_model_summary(text)
                                          .write_failure(record) .clear_failure() .write_diagnostics(rows)
                                          .lock() (a context manager: hold the run directory's lock)
                                          .explain(method) .tensorboard
                                          .diagnostics_plot .write_diagnostics_plot(figure, dpi)
    atomic_open(path, mode="w")           context manager: a temp file in the same folder, fsync, os.replace;
                                          a full disk (ENOSPC, EDQUOT) is DiskFull: one line, temp file removed
    write_text(path, text)  write_json(path, obj)  write_csv(path, rows, fieldnames)

Checkpoints (`dlrun.rundir.checkpoints`, imports torch; the names are also importable from here)::

    save_checkpoint(state, path)          atomic
    load_checkpoint(path) -> dict         torch.load(weights_only=True); CheckpointError with one line
    resolve_checkpoint(path, prefer)      a file, or checkpoints/{prefer}.pt (then last, best) of a run
    final_choice(trainer_config) -> str   "best" when early stopping restored the best weights, else "last"
    final_checkpoint(run_dir) -> str      final_choice of a run directory
    open_checkpoint(path, prefer="final") (file, state); prefer is final, best, last or a checkpoint file
    restore_task(task, state, weights_only, source)   load the task state; one line when it does not fit

Rebuilding a trained task from a checkpoint (weights, DataInfo, preprocessing, config) needs the task,
data and plugin registries, which write their files through this package, so it lives one layer up,
in `dlrun.saved_run` (`load_run`, `open_run`).
"""

from __future__ import annotations

from dlrun.rundir.atomic import atomic_open, write_csv, write_json, write_text
from dlrun.rundir.layout import (
    CHECKPOINT_NAMES,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    DIAGNOSTICS_COLUMNS,
    DIAGNOSTICS_FILE,
    DIAGNOSTICS_PLOT_FILE,
    EXPLAIN_CLASS_TOKENS_FILE,
    EXPLAIN_COLUMNS_FILE,
    EXPLAIN_COLUMNS_PLOT_FILE,
    EXPLAIN_DIR,
    EXPLAIN_IMAGES_FILE,
    EXPLAIN_STEPS_FILE,
    EXPLAIN_STEPS_PLOT_FILE,
    EXPLAIN_SUMMARY_FILE,
    EXPLAIN_TOKENS_FILE,
    EXPLAIN_TOKENS_MD_FILE,
    EXPORT_DIR,
    EXPORT_MODEL_FILES,
    FAILED_FILE,
    HISTORY_FILE,
    LR_FIND_FILE,
    LR_FIND_PLOT_FILE,
    METRICS_FILE,
    MODEL_SUMMARY_FILE,
    OPTUNA_STUDY_FILE,
    OVERRIDES_FILE,
    PARETO_PLOT_FILE,
    PROFILE_DIR,
    PROFILE_TABLE_FILE,
    PROFILE_TRACE_FILE,
    REFIT_DIR,
    SIGNATURE_FILE,
    TENSORBOARD_DIR,
    VOCABULARY_FILE,
    RunDir,
    resolve_checkpoint,
)

_CHECKPOINT_API = (
    "save_checkpoint",
    "load_checkpoint",
    "final_choice",
    "final_checkpoint",
    "open_checkpoint",
    "restore_task",
)

__all__ = [
    "RunDir",
    "atomic_open",
    "write_csv",
    "write_json",
    "write_text",
    "CHECKPOINT_NAMES",
    "CHECKPOINTS_DIR",
    "DIAGNOSTICS_COLUMNS",
    "DIAGNOSTICS_FILE",
    "DIAGNOSTICS_PLOT_FILE",
    "CONFIG_FILE",
    "FAILED_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_SUMMARY_FILE",
    "OVERRIDES_FILE",
    "REFIT_DIR",
    "LR_FIND_FILE",
    "LR_FIND_PLOT_FILE",
    "resolve_checkpoint",
    "PROFILE_DIR",
    "PROFILE_TABLE_FILE",
    "PROFILE_TRACE_FILE",
    "EXPLAIN_CLASS_TOKENS_FILE",
    "EXPLAIN_COLUMNS_FILE",
    "EXPLAIN_COLUMNS_PLOT_FILE",
    "EXPLAIN_DIR",
    "EXPLAIN_IMAGES_FILE",
    "EXPLAIN_STEPS_FILE",
    "EXPLAIN_STEPS_PLOT_FILE",
    "EXPLAIN_SUMMARY_FILE",
    "EXPLAIN_TOKENS_FILE",
    "EXPLAIN_TOKENS_MD_FILE",
    "TENSORBOARD_DIR",
    "EXPORT_DIR",
    "EXPORT_MODEL_FILES",
    "SIGNATURE_FILE",
    "VOCABULARY_FILE",
    "OPTUNA_STUDY_FILE",
    "PARETO_PLOT_FILE",
    *_CHECKPOINT_API,
]


def __getattr__(name: str):
    """The checkpoint functions, imported (with torch) on first use."""
    if name in _CHECKPOINT_API:
        from dlrun.rundir import checkpoints

        return getattr(checkpoints, name)
    raise AttributeError(f"module 'dlrun.rundir' has no attribute '{name}'")
