"""Where each file of a run directory lives, and reading and writing the plain (non-checkpoint) ones."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.errors import CheckpointError
from dlrun.rundir.atomic import write_csv, write_json, write_text
from dlrun.rundir.lock import LOCK_FILE, hold_run_dir

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
MODEL_SUMMARY_FILE = "model_summary.txt"
FAILED_FILE = "failed.json"  # also a run stopped by a signal (type Preempted, exit_code 75)
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_NAMES = ("last", "best")
CONFIG_FILE = ".hydra/config.yaml"  # the composed config, as Hydra saves it (checkpoints hold it resolved)
OVERRIDES_FILE = ".hydra/overrides.yaml"
REFIT_DIR = "refit"
# training-health signals, one row per (epoch, layer); written by the diagnostics callback, read by `dlrun diagnose`
DIAGNOSTICS_FILE = "diagnostics.csv"
DIAGNOSTICS_COLUMNS = (
    "epoch",
    "layer",
    "kind",
    "params",
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "dead_fraction",
    "act_mean",
    "act_std",
)
DIAGNOSTICS_PLOT_FILE = "diagnostics.png"  # one panel per signal over epochs, one line per layer

# the learning-rate range test (`dlrun lr-find`, optimizer.lr=auto): the curve and the suggestion, and its picture
LR_FIND_FILE = "lr_find.json"
LR_FIND_PLOT_FILE = "lr_find.png"

# debug=profile: the top-operators table and a Chrome trace (TensorBoard's profiler reads *.pt.trace.json)
PROFILE_DIR = "profile"
PROFILE_TABLE_FILE = "profile/top_ops.txt"
PROFILE_TRACE_FILE = "profile/trace.pt.trace.json"

# `dlrun explain`: one folder per attribution method under explain/ (or the folder -o names), and TensorBoard's
EXPLAIN_DIR = "explain"
EXPLAIN_SUMMARY_FILE = "summary.json"  # method, split, examples, rankings, files written
EXPLAIN_COLUMNS_FILE = "columns.csv"  # tables: per original column, attribution and permutation importance, ranked
EXPLAIN_COLUMNS_PLOT_FILE = "columns.png"  # the ranked bar charts of both
EXPLAIN_IMAGES_FILE = "images.png"  # images: input | heat map overlaid, true and predicted class
EXPLAIN_TOKENS_FILE = "tokens.csv"  # text: one row per (example, token) with its attribution
EXPLAIN_TOKENS_MD_FILE = "tokens.md"  # text: each example's text with the tokens that pushed its prediction
EXPLAIN_CLASS_TOKENS_FILE = "class_tokens.csv"  # text: the most influential tokens per predicted class
EXPLAIN_STEPS_FILE = "steps.csv"  # series: attribution per time step of the window (and per input feature)
EXPLAIN_STEPS_PLOT_FILE = "steps.png"
TENSORBOARD_DIR = "tensorboard"  # the TensorBoard logger's event files (dlrun tensorboard RUN)

# `dlrun export`: export/<format>/ holds the model file, its signature.json and (text) the vocabulary
EXPORT_DIR = "export"
EXPORT_MODEL_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}
SIGNATURE_FILE = "signature.json"
VOCABULARY_FILE = "vocabulary.txt"

# an Optuna sweep's folder (hparams_search=optuna): the study, and the Pareto front of a multi-objective one
OPTUNA_STUDY_FILE = "optuna.db"
PARETO_PLOT_FILE = "pareto_front.png"
TABLE_SCHEMA_FILE = "table_schema.csv"  # dataset=csv: column, kind, missing, levels or range (as inferred)


@dataclass(frozen=True)
class RunDir:
    """One run directory. Paths are properties; `read_*` return None (or []) when the file is not there."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def __str__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ layout
    @property
    def metrics(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def history(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def model_summary(self) -> Path:
        return self.path / MODEL_SUMMARY_FILE

    @property
    def diagnostics(self) -> Path:
        return self.path / DIAGNOSTICS_FILE

    @property
    def diagnostics_plot(self) -> Path:
        return self.path / DIAGNOSTICS_PLOT_FILE

    @property
    def lr_find(self) -> Path:
        return self.path / LR_FIND_FILE

    @property
    def lr_find_plot(self) -> Path:
        return self.path / LR_FIND_PLOT_FILE

    @property
    def failed(self) -> Path:
        return self.path / FAILED_FILE

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def overrides(self) -> Path:
        return self.path / OVERRIDES_FILE

    def checkpoint(self, name: str) -> Path:
        """checkpoints/{name}.pt (name: last or best)."""
        return self.path / CHECKPOINTS_DIR / f"{name}.pt"

    def epoch_checkpoint(self, epoch: int, monitor: str | None = None, value: float | None = None) -> Path:
        """A kept epoch's checkpoint: checkpoints/epoch=007-val_loss=0.2345.pt (trainer.checkpoint.save_top_k, the
        monitor's '/' written '_') or checkpoints/epoch=010.pt (trainer.checkpoint.every_n_epochs)."""
        name = f"epoch={epoch:03d}"
        if monitor is not None:
            name += f"-{monitor.replace('/', '_')}={value:.4f}"
        return self.path / CHECKPOINTS_DIR / f"{name}.pt"

    def epoch_checkpoints(self) -> list[Path]:
        """The kept epochs' checkpoint files (checkpoints/epoch=*.pt), sorted by name."""
        folder = self.path / CHECKPOINTS_DIR
        return sorted(folder.glob("epoch=*.pt")) if folder.is_dir() else []

    def remove(self, path: Path) -> None:
        """Delete a file of this run directory (a checkpoint that fell out of the top k); gone already is fine."""
        if Path(path).resolve().is_relative_to(self.path.resolve()):
            Path(path).unlink(missing_ok=True)

    def fold(self, k: int) -> RunDir:
        """Fold k of a K-fold parent run: fold_{k}/."""
        return RunDir(self.path / f"fold_{k}")

    @property
    def refit(self) -> RunDir:
        """The refit run of a K-fold parent run (cv.refit=true): refit/."""
        return RunDir(self.path / REFIT_DIR)

    def is_run(self) -> bool:
        """Finished (metrics.json), failed (failed.json) or at least started by Hydra (.hydra/config.yaml)."""
        return any(p.exists() for p in (self.metrics, self.failed, self.config))

    # ------------------------------------------------------------------ reading
    def read_metrics(self) -> dict | None:
        return _read_json(self.metrics)

    def read_failure(self) -> dict | None:
        return _read_json(self.failed)

    def read_history(self) -> list[dict[str, float]]:
        """history.csv's rows as numbers (empty cells, for keys an epoch did not log, left out)."""
        if not self.history.is_file():
            return []
        with open(self.history, newline="", encoding="utf-8") as f:
            return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]

    def read_diagnostics(self) -> list[dict[str, Any]]:
        """diagnostics.csv's rows: `layer` and `kind` as text, `epoch` and `params` as int, the other columns as
        floats, None where empty (dead_fraction of a layer not followed by a ReLU)."""
        if not self.diagnostics.is_file():
            return []
        with open(self.diagnostics, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        out = []
        for row in rows:
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                if key in ("layer", "kind"):
                    parsed[key] = value
                elif key in ("epoch", "params"):
                    parsed[key] = int(value)
                else:
                    parsed[key] = float(value) if value not in ("", None) else None
            out.append(parsed)
        return out

    def read_lr_find(self) -> dict | None:
        """lr_find.json: lrs, losses, smoothed, suggestion, stopped, steps, settings..."""
        return _read_json(self.lr_find)

    def read_config(self) -> dict | None:
        """The composed config Hydra saved in .hydra/config.yaml (unresolved interpolations stay as text)."""
        return _read_yaml(self.config)

    def read_overrides(self) -> list[str]:
        """The command-line overrides of the run (.hydra/overrides.yaml)."""
        return [str(item) for item in _read_yaml(self.overrides) or []]

    # ------------------------------------------------------------------ writing (atomic)
    def write_metrics(self, results: dict) -> None:
        write_json(self.metrics, results)

    def write_history(self, history: list[dict[str, Any]]) -> None:
        """All epochs so far; the header is every key in first-seen order."""
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]
        write_csv(self.history, history, keys)

    def write_diagnostics(self, rows: list[dict[str, Any]]) -> None:
        """All (epoch, layer) rows so far, columns DIAGNOSTICS_COLUMNS (None written as an empty cell)."""
        write_csv(
            self.diagnostics,
            [{k: ("" if r.get(k) is None else r[k]) for k in DIAGNOSTICS_COLUMNS} for r in rows],
            list(DIAGNOSTICS_COLUMNS),
        )

    def write_diagnostics_plot(self, figure, dpi: int = 100) -> None:
        """A matplotlib Figure as diagnostics.png."""
        figure.savefig(self.diagnostics_plot, dpi=dpi)

    def write_lr_find(self, result: dict) -> None:
        write_json(self.lr_find, result)

    def write_model_summary(self, summary: str) -> None:
        write_text(self.model_summary, summary + "\n")

    def write_table_schema(self, rows: list[dict[str, Any]]) -> None:
        """dataset=csv: the inferred schema of the file (datasets/table_schema.py)."""
        write_csv(self.path / TABLE_SCHEMA_FILE, rows, ["column", "kind", "missing", "levels_or_range"])

    def write_profile(self, table: str, export_trace) -> None:
        """profile/top_ops.txt (`table`) and profile/trace.pt.trace.json, which `export_trace(path)` writes (torch's
        profiler exports to a path: a temp name beside the target, then a rename)."""
        self.profile_trace.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.profile_table, table + "\n")
        tmp = self.profile_trace.with_name(f".{self.profile_trace.name}.tmp")
        try:
            export_trace(str(tmp))
            os.replace(tmp, self.profile_trace)
        finally:
            tmp.unlink(missing_ok=True)

    @property
    def profile_table(self) -> Path:
        return self.path / PROFILE_TABLE_FILE

    @property
    def profile_trace(self) -> Path:
        return self.path / PROFILE_TRACE_FILE

    def explain(self, method: str) -> Path:
        """explain/{method}/: what `dlrun explain --method METHOD` writes (EXPLAIN_* file names)."""
        return self.path / EXPLAIN_DIR / method

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_DIR

    def export_dir(self, fmt: str) -> Path:
        """export/<fmt>/ (onnx or torchscript): where `dlrun export` writes by default."""
        return self.path / EXPORT_DIR / fmt

    def write_failure(self, record: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.failed, record)

    def clear_failure(self) -> None:
        """Remove failed.json (a stopped run that resumes is no longer stopped)."""
        self.failed.unlink(missing_ok=True)

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_FILE

    def lock(self):
        """Context manager: this process writes the run (`dlrun.rundir.lock`); RunDirLocked if another does."""
        return hold_run_dir(self.path)


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _read_yaml(path: Path):
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def resolve_checkpoint(path: str | Path, prefer: str = "best") -> Path:
    """A checkpoint file, or the `checkpoints/{prefer}.pt` (then last.pt) of a run directory."""
    path = Path(path)
    if path.is_dir():
        for name in (prefer, "last", "best"):
            candidate = RunDir(path).checkpoint(name)
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"no checkpoint in run directory {path} (expected checkpoints/{prefer}.pt)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    return path
