"""`dlrun predict`: apply a saved run to new rows of a table.

Everything comes from the checkpoint: the config (how the file is written), the fitted column
transform (plain data) and the weights. The training file is not read. The input is parsed in full
before anything is written, so a missing column or a bad value leaves no output file behind.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from dlrun.errors import ConfigError, DataError
from dlrun.rundir import atomic_open

log = logging.getLogger("dlrun")


BACKENDS = ("torch", "onnx")


def predict_table(run: str | Path, input_path: str | Path, prefer: str = "final", backend: str = "torch"):
    """The rows of `input_path` (as read) with prediction columns added, as a pandas DataFrame.

    backend onnx: onnxruntime on `dlrun export`'s model.onnx (`run`: a run directory, an export folder or a
    model.onnx), with the preprocessing its signature.json carries; the same table as the torch path.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend == "onnx":
        return predict_table_onnx(run, input_path)
    import torch

    from dlrun.saved_run import open_run

    saved = open_run(run, prefer)
    prep, config = saved.preprocessing, saved.state["config"]
    if "columns" not in prep:
        raise ConfigError(
            f"dlrun predict needs a run trained on a table (dataset=csv); {run} was trained on "
            f"dataset '{config['dataset']['name']}'"
        )
    frame, features = table_features(input_path, prep, config["dataset"])

    loaded = saved.load()
    values = loaded.task.predictions(torch.from_numpy(features).to(loaded.device))
    return with_predictions(frame, values, loaded.info, prep["target"])


def table_features(input_path: str | Path, prep: dict, dataset: dict):
    """The rows of `input_path` as read (a DataFrame) and the model's input features, by the fitted transform."""
    from dlrun.datasets.columns import TablePreprocessor
    from dlrun.datasets.csv_table import TableFormat, parse_columns, read_table

    frame = read_table(input_path, TableFormat.of(dataset), optional=prep["target"])
    x = parse_columns(frame, prep["columns"], str(input_path))
    filled = [c["name"] for c in prep["columns"] if c["kind"] != "categorical" and x[c["name"]].isna().any()]
    if filled:
        log.warning("%s: missing values in %s take the training median", input_path, ", ".join(filled))
    return frame, TablePreprocessor([], prep["kind"], prep["target"]).transform(x, prep)


def predict_table_onnx(run: str | Path, input_path: str | Path):
    """predict_table through onnxruntime: everything from the export's signature.json, no checkpoint, no torch."""
    from dlrun.datasets.base import DataInfo
    from dlrun.export import OnnxForward, open_export, require_onnxruntime

    require_onnxruntime()
    _, signature, model = open_export(run)
    prep = signature.get("fitted_preprocessing") or {}
    if signature.get("data") != "table":
        raise ConfigError(
            f"dlrun predict needs a model trained on a table (dataset=csv); {run} was trained on "
            f"dataset '{signature['run']['dataset']}'"
        )
    forward = OnnxForward(model)  # a corrupt file fails here, before the input is read
    frame, features = table_features(input_path, prep, signature["dataset"])
    values = dict(signature["info"])
    values["input_shape"] = tuple(values["input_shape"])
    return with_predictions(frame, forward(features), DataInfo(**values), prep["target"])


def with_predictions(frame, values: np.ndarray, info, target: str):
    """Input rows plus `predicted_<target>` (and `probability_<class>` per class for classification)."""
    out = frame.copy()
    if info.kind == "classification":
        proba = np.stack([1.0 - values, values], axis=1) if values.ndim == 1 else values
        decided = (values >= 0.5).astype(int) if values.ndim == 1 else values.argmax(axis=1)  # as accuracy reads them
        out[f"predicted_{target}"] = [info.class_names[i] for i in decided]
        for i, name in enumerate(info.class_names):
            out[f"probability_{name}"] = _text(proba[:, i])
    else:
        values = values.reshape(len(values), -1)
        out[f"predicted_{target}"] = _text(values[:, 0])
    return out


def _text(values: np.ndarray) -> list[str]:
    """float32 values in their shortest exact form."""
    return [str(v) for v in np.asarray(values, np.float32)]


def write_table(frame, output: str | Path | None) -> None:
    """CSV with a header to `output` (atomically: the file appears complete or not at all), or stdout."""
    if output is None:
        frame.to_csv(sys.stdout, index=False)
        return
    output = Path(output)
    if not output.parent.is_dir():
        raise DataError(f"cannot write {output}: no such folder {output.parent}")
    with atomic_open(output, newline="") as f:
        frame.to_csv(f, index=False)
