"""`dlrun explain`: attributions of a saved run's predictions on examples of a split, written by kind of data.

    explain_run(path, split="test", n=16, method="integrated_gradients", target=None, output=None) -> Explanation

The run is loaded and its split rebuilt as `dlrun eval` does (`dlrun.evaluate.rebuild_split`); the first `n`
examples of the split are explained for the class the model predicts for each (or `target`), through the
method's factory (`dlrun.explain.config.METHODS`). What is written depends on the data: `tables`, `images`,
`text` or `series` (one module each).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.errors import ConfigError
from dlrun.evaluate import rebuild_split
from dlrun.explain.config import METHODS
from dlrun.rundir import EXPLAIN_SUMMARY_FILE, RunDir, write_json

CAPTUM_MISSING = "dlrun explain needs Captum: pip install 'dlrun[explain]'"


@dataclass
class Explanation:
    """What was explained and how; `rankings` maps a ranking's name to (name, score) pairs, best first."""

    method: str
    split: str
    kind: str  # table, image, text or series
    folder: Path
    inputs: Any  # torch.Tensor: the n examples as the model saw them
    labels: np.ndarray  # their true targets
    predicted: np.ndarray  # the predicted class (classification) or value of the explained output (regression)
    targets: Any  # torch.Tensor: the class (or output) each example's attributions are for
    attributions: Any  # torch.Tensor: shaped like the inputs, or like the explained layer's output
    rankings: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def explain_run(
    path: str | Path,
    split: str = "test",
    n: int = 16,
    method: str = "integrated_gradients",
    target: str | None = None,
    output: str | Path | None = None,
    prefer: str = "final",
    overrides: list[str] | None = None,
) -> Explanation:
    if n < 1:
        raise ConfigError(f"-n must be at least 1, got {n}")
    try:
        import captum  # noqa: F401
    except ImportError:
        raise ConfigError(CAPTUM_MISSING) from None
    path = Path(path)
    if path.is_dir() and not RunDir(path).is_run():
        raise ConfigError(f"{path} is not a run directory (no metrics.json, checkpoints/ or .hydra/config.yaml)")
    import torch

    from dlrun.explain.methods import ClassScores
    from dlrun.tasks.supervised import SupervisedTask, TaggingTask

    run, data, batches = rebuild_split(path, list(overrides or []), split, prefer, command="explain")
    task = run.task
    if not isinstance(task, SupervisedTask) or isinstance(task, TaggingTask):
        raise ConfigError(
            f"dlrun explain explains classification and regression models; {path} is a '{run.task_name}' run"
        )
    factory = METHODS.get(method)  # after the run's plugins are loaded: theirs count too
    info, prep = run.info, run.preprocessing
    kind = data_kind(info, prep)

    everything = kind == "table"  # permutation importance measures the whole split
    xs, ys, count = [], [], 0
    for x, y in batches:
        xs.append(x)
        ys.append(y)
        count += len(x)
        if count >= n and not everything:
            break
    x_all, y_all = torch.cat(xs), torch.cat(ys)
    x, labels = x_all[:n], y_all[:n]

    task.train(False)
    model = ClassScores(task.net("model"), info.binary).to(run.device).eval()
    with torch.no_grad():
        scores = model(x).float()
    targets = explained_targets(scores, info, target)
    layer = explained_layer(model, info)
    attribute = factory(model, layer)
    baselines = torch.zeros_like(x)
    with torch.backends.cudnn.flags(enabled=False), warnings.catch_warnings():  # cuDNN's RNN: no backward in eval
        warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
        attributions = torch.cat(
            [
                attribute(x[lo : lo + 64], targets[lo : lo + 64], baselines[lo : lo + 64]).detach()
                for lo in range(0, len(x), 64)
            ]
        )
    if info.kind == "classification":
        predicted = scores.argmax(dim=-1).cpu().numpy()
    else:
        predicted = task.in_data_units(scores, scores)[1][:, 0].cpu().numpy()
        labels = task.in_data_units(labels, labels)[0]
    labels = labels.cpu().numpy()

    folder = Path(output) if output is not None else RunDir(run_dir_of(run.checkpoint)).explain(method)
    folder.mkdir(parents=True, exist_ok=True)
    result = Explanation(method, split, kind, folder, x, labels, predicted, targets, attributions)
    if kind == "table":
        from dlrun.explain.tables import write_table_explanation

        write_table_explanation(result, task, prep, info, x_all, y_all)
    elif kind == "image":
        from dlrun.explain.images import write_image_explanation

        tensorboard = RunDir(run_dir_of(run.checkpoint)).tensorboard if output is None else None
        write_image_explanation(result, info, tensorboard)
    elif kind == "text":
        from dlrun.explain.text import write_text_explanation

        write_text_explanation(result, info, prep)
    else:
        from dlrun.explain.series import write_series_explanation

        write_series_explanation(result, prep)
    summary = folder / EXPLAIN_SUMMARY_FILE
    write_json(
        summary,
        {
            "run": str(run_dir_of(run.checkpoint)),
            "checkpoint": str(run.checkpoint),
            "method": method,
            "split": split,
            "kind": kind,
            "examples": len(x),
            "target": target,
            "rankings": {k: [[name, float(v)] for name, v in rows] for k, rows in result.rankings.items()},
            "files": [str(f) for f in result.files] + [str(summary)],
        },
    )
    result.files.append(summary)
    return result


def data_kind(info, prep: dict) -> str:
    """series (windows of a time series), text (token ids or multi-hot words), image (C, H, W) or table."""
    if prep.get("kind") == "timeseries":
        return "series"
    if info.vocab_size or "words" in prep:
        return "text"
    if len(info.input_shape) == 3:
        return "image"
    return "table"


def explained_targets(scores, info, target: str | None):
    """The class (or output index) each example is explained for: the predicted class, or `target` for all."""
    import torch

    if target is None:
        chosen = scores.argmax(dim=-1) if info.kind == "classification" else torch.zeros(len(scores), dtype=torch.long)
        return chosen.to(scores.device)
    if info.kind == "classification":
        names = list(info.class_names)
        index = names.index(target) if target in names else int(target) if target.isdigit() else -1
        if not 0 <= index < len(names):
            raise ConfigError(
                f"--target must be one of the classes {', '.join(names)} (or their index), got {target!r}"
            )
    else:
        index = int(target) if target.isdigit() else -1
        if not 0 <= index < info.output_size:
            raise ConfigError(
                f"--target of a regression run is an output index 0..{info.output_size - 1}, got {target!r}"
            )
    return torch.full((len(scores),), index, dtype=torch.long, device=scores.device)


def explained_layer(model, info):
    """The module whose output the gradient methods attribute to: a text model's token embedding, a table's
    embedded-columns layer; None (the inputs themselves) otherwise."""
    from torch import nn

    from dlrun.models.layers import EmbeddedColumns

    wanted = nn.Embedding if info.vocab_size else EmbeddedColumns if info.embeddings else None
    if wanted is None:
        return None
    return next(m for m in model.modules() if isinstance(m, wanted))


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory holding a checkpoint (checkpoints/NAME.pt), or the checkpoint's own folder."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
