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


def predict_table(run: str | Path, input_path: str | Path, prefer: str = "final"):
    """The rows of `input_path` (as read) with prediction columns added, as a pandas DataFrame."""
    import torch

    from dlrun.datasets.columns import TablePreprocessor
    from dlrun.datasets.csv_table import TableFormat, parse_columns, read_table
    from dlrun.saved_run import open_run

    saved = open_run(run, prefer)
    prep, config = saved.preprocessing, saved.state["config"]
    if "columns" not in prep:
        raise ConfigError(
            f"dlrun predict needs a run trained on a table (dataset=csv); {run} was trained on "
            f"dataset '{config['dataset']['name']}'"
        )
    frame = read_table(input_path, TableFormat.of(config["dataset"]), optional=prep["target"])
    x = parse_columns(frame, prep["columns"], str(input_path))
    filled = [c["name"] for c in prep["columns"] if c["kind"] != "categorical" and x[c["name"]].isna().any()]
    if filled:
        log.warning("%s: missing values in %s take the training median", input_path, ", ".join(filled))
    features = TablePreprocessor([], prep["kind"], prep["target"]).transform(x, prep)

    loaded = saved.load()
    values = loaded.task.predictions(torch.from_numpy(features).to(loaded.device))
    return with_predictions(frame, values, loaded.info, prep["target"])


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
