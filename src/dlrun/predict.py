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


def predict_file(run: str | Path, input_path: str | Path, prefer: str = "final", backend: str = "torch"):
    """Predictions for the rows of `input_path`, as a DataFrame: a CSV written like the training file (tables,
    and texts in a text_csv run's layout), or a JSON file of records {"rows": [...]} for any run.

    backend onnx: onnxruntime on `dlrun export`'s model.onnx (`run`: a run directory, an export folder or a
    model.onnx), with the preprocessing its signature.json carries; the same table as the torch path.
    """
    from dlrun.inference import Predictor

    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend == "onnx":
        return predict_table_onnx(run, input_path)

    predictor = Predictor(run, prefer=prefer)
    if Path(input_path).suffix.lower() == ".json":
        return predict_json(predictor, input_path)
    if predictor.input.kind == "text" and predictor.dataset["name"] == "text_csv":
        return predict_texts(predictor, input_path)
    return predict_table(run, input_path, prefer, predictor)


def predict_table(run: str | Path, input_path: str | Path, prefer: str = "final", predictor=None):
    """The rows of `input_path` (as read) with prediction columns added, as a pandas DataFrame."""
    from dlrun.datasets.csv_table import TableFormat, read_table
    from dlrun.inference import Predictor

    predictor = predictor or Predictor(run, prefer=prefer)
    prep, dataset = predictor.preprocessing, predictor.dataset
    if predictor.input.kind != "table":
        raise ConfigError(
            f"dlrun predict reads a CSV for runs on tables (dataset=csv) and texts (dataset=text_csv); {run} was "
            f"trained on dataset '{dataset['name']}': give a JSON file of rows instead ({{\"rows\": [...]}})"
        )
    frame = read_table(input_path, TableFormat.of(dataset), optional=prep["target"])
    x = predictor.input.parse(frame, str(input_path))
    filled = [c["name"] for c in prep["columns"] if c["kind"] != "categorical" and x[c["name"]].isna().any()]
    if filled:
        log.warning("%s: missing values in %s take the training median", input_path, ", ".join(filled))
    values = predictor.forward(*predictor.input.transform(x))
    return with_predictions(frame, values, predictor.info, predictor.target)


def predict_texts(predictor, input_path: str | Path):
    """A text_csv run: the texts of `input_path` (the training file's layout, labels optional) and predictions."""
    from dlrun.datasets.csv_table import TableFormat, read_table, require_columns

    dataset = predictor.dataset
    fmt = TableFormat.of({**dataset, "na_values": [], "comment": None})
    frame = read_table(input_path, fmt, optional=dataset["label"])
    require_columns(input_path, frame.columns, [("text", dataset["text"])])
    texts = frame[dataset["text"]].fillna("").astype(str).tolist()
    return with_predictions(frame, predictor.forward(*predictor.encode(texts)), predictor.info, predictor.target)


def predict_json(predictor, input_path: str | Path):
    """A JSON file of records ({"rows": [...]} or a list): one output row per record, the record as JSON (a
    table's as its columns) and the predictions."""
    import json

    import pandas as pd

    try:
        data = json.loads(Path(input_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no such file: {input_path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{input_path}: not a JSON file ({exc})") from None
    rows = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise DataError(f'{input_path}: expected {{"rows": [...]}} or a list of records')
    try:
        predictions = predictor.predict(rows)
    except DataError as exc:
        raise DataError(f"{input_path}: {exc}") from None
    if predictor.input.kind == "table":
        frame = pd.DataFrame([{c["name"]: r.get(c["name"]) for c in predictor.input.columns} for r in rows])
    else:
        frame = pd.DataFrame({predictor.input.kind: [json.dumps(r) for r in rows]})
    for name in predictions[0] if predictions else []:
        column = [p[name] for p in predictions]
        frame[name] = [json.dumps(v) for v in column] if isinstance(column[0], list) else column
    return frame


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
    from dlrun.inference.decode import prediction_columns

    out = frame.copy()
    for name, column in prediction_columns(values, info, target).items():
        out[name] = _text(column) if all(isinstance(v, float) for v in column) else column
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
