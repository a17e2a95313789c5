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
    from dlrun.datasets.csv_table import TableFormat, read_table
    from dlrun.inference import Predictor

    predictor = Predictor(run, prefer=prefer)
    prep, dataset = predictor.preprocessing, predictor.dataset
    if predictor.input.kind != "table":
        raise ConfigError(
            f"dlrun predict needs a run trained on a table (dataset=csv); {run} was trained on "
            f"dataset '{dataset['name']}'"
        )
    frame = read_table(input_path, TableFormat.of(dataset), optional=prep["target"])
    x = predictor.input.parse(frame, str(input_path))
    filled = [c["name"] for c in prep["columns"] if c["kind"] != "categorical" and x[c["name"]].isna().any()]
    if filled:
        log.warning("%s: missing values in %s take the training median", input_path, ", ".join(filled))
    values = predictor.forward(*predictor.input.transform(x))
    return with_predictions(frame, values, predictor)


def with_predictions(frame, values: np.ndarray, predictor):
    """Input rows plus `predicted_<target>` (and `probability_<class>` per class for classification)."""
    out = frame.copy()
    for name, column in predictor.columns(values).items():
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
