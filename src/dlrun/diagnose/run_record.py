"""What a run directory left, read through `dlrun.rundir`: history, metrics.json, failed.json, diagnostics.csv
and the composed config. Any of them may be missing (a run that diverged or was interrupted)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun.rundir import RunDir


@dataclass
class RunRecord:
    name: str
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict | None = None
    failure: dict | None = None
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    config: dict | None = None

    @property
    def finished(self) -> bool:
        return self.metrics is not None

    @property
    def diverged(self) -> bool:
        """failed.json of a run whose loss became NaN or infinite (ignored once a resumed run finished)."""
        f = self.failure
        return not self.finished and f is not None and (f.get("type") == "TrainingDiverged" or f.get("exit_code") == 3)

    @property
    def preempted(self) -> bool:
        """failed.json of a run a signal stopped at a checkpoint of its position (exit code 75: resumable)."""
        return not self.finished and (self.failure or {}).get("type") == "Preempted"

    def series(self, key: str) -> list[tuple[int, float]]:
        """(epoch, value) of a history key, finite values only."""
        return [
            (int(row["epoch"]), float(row[key]))
            for row in self.history
            if key in row and row[key] is not None and math.isfinite(float(row[key]))
        ]

    @property
    def debug_mode(self) -> str | None:
        """fast, overfit or profile when the run was a debug run of that mode (`debug=...`), else None."""
        if self.setting("trainer.fast_dev_run"):
            return "fast"
        if (self.setting("trainer.overfit_batches") or 0) > 0:
            return "overfit"
        if self.setting("trainer.profile"):
            return "profile"
        return None

    def setting(self, dotted: str, default: Any = None) -> Any:
        """A config value by dotted key; `default` when the config, the key or a plain value is missing
        (an unresolved `${...}` interpolation counts as missing)."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        if isinstance(node, str) and "${" in node:
            return default
        return node

    @property
    def last_epoch(self) -> int:
        return int(self.history[-1]["epoch"]) if self.history else 0


def is_run(path: Path) -> bool:
    files = RunDir(path)
    return files.is_run() or files.history.is_file()


def read_run(path: Path, name: str = ".", config: dict | None = None) -> RunRecord:
    """Everything the run left; `config` stands in when the directory has no .hydra/config.yaml (K-fold folds)."""
    files = RunDir(path)
    metrics = files.read_metrics()
    history = (metrics or {}).get("history") or files.read_history()
    return RunRecord(
        name=name,
        history=[dict(row) for row in history],
        metrics=metrics,
        failure=files.read_failure(),
        diagnostics=files.read_diagnostics(),
        config=files.read_config() or config or _parent_config(path),
    )


def _parent_config(path: Path) -> dict | None:
    """A fold or refit run of a K-fold parent has no .hydra/ of its own: the parent's config (only cv differs)."""
    parent = RunDir(path.parent)
    is_child = path.name.startswith("fold_") or path == parent.refit.path
    return parent.read_config() if is_child else None


def runs_of(path: Path) -> list[RunRecord]:
    """The run itself, or for a K-fold parent (metrics.json with `cv`) each fold_N/ and refit/ in order."""
    parent = RunDir(path)
    metrics = parent.read_metrics() or {}
    folds = sorted(
        (p for p in path.glob("fold_*") if p.is_dir() and is_run(p)),
        key=lambda p: int(p.name.split("_")[-1]) if p.name.split("_")[-1].isdigit() else 0,
    )
    if "cv" not in metrics and not folds:
        return [read_run(path)]
    config = parent.read_config()
    found = [read_run(p, p.name, config) for p in folds]
    if is_run(parent.refit.path):
        found.append(read_run(parent.refit.path, parent.refit.path.name, config))
    return found
