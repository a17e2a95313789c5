"""`dlrun.inference.Predictor`: raw records are encoded exactly as training encoded them, for every input
kind; predictions are the model's; bad records fail naming the record, the column and the problem."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import inference_runs as R
from dlrun.errors import DataError

KINDS = ("table", "text", "text_multi_hot", "series", "image", "array")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inference")
    return {
        "table": R.table_run(folder),
        "text": R.text_run(folder),
        "text_multi_hot": R.text_run(folder, "multi_hot"),
        "series": R.series_run(folder),
        "image": R.image_run(folder),
        "array": R.digits_run(folder),
    }


def raw_records_and_training_inputs(kind: str, run: Path, predictor):
    """Records as a client would send them, and the model inputs training built for the same rows (every row of
    the data set, in order: the run's preprocessing applied with no validation or test split)."""
    from omegaconf import OmegaConf

    from dlrun.datasets.build import build_data

    cfg = OmegaConf.create(OmegaConf.to_container(predictor.config, resolve=True))
    cfg.dataset.split.val, cfg.dataset.split.test = 0.0, 0.0
    cfg.dataset.split.shuffle = False
    data = build_data(cfg, predictor.preprocessing)
    x = data.train.x
    folder = run.parent
    if kind == "table":
        with open(folder / "table.csv", newline="") as f:
            records = [{k: v for k, v in row.items() if k != "label"} for row in csv.DictReader(f)]
    elif kind.startswith("text"):
        records = [line.split("\t", 1)[1] for line in (folder / "texts.tsv").read_text().splitlines()]
    elif kind == "series":
        temps = [float(line.split(",")[1]) for line in Path(cfg.dataset.path).read_text().splitlines()[1:]]
        window = cfg.dataset.window
        records = [temps[i : i + window] for i in range(40)]
        x = x[:40]
    elif kind == "image":
        from torchvision.datasets import ImageFolder

        records = [Path(p).read_bytes() for p, _ in ImageFolder(str(folder / "pics")).samples]
        x = data.transform(x, train=False)
    else:
        from sklearn.datasets import load_digits

        records = load_digits().data.tolist()
    return records, x


@pytest.mark.parametrize("kind", KINDS)
def test_records_encode_to_the_training_inputs_and_predict_as_the_task(runs, kind):
    from dlrun.inference import Predictor

    predictor = Predictor(runs[kind])
    assert predictor.input.kind == kind.removesuffix("_multi_hot")
    records, x = raw_records_and_training_inputs(kind, runs[kind], predictor)
    (encoded,) = predictor.encode(records)
    assert encoded.shape == tuple(x.shape) and encoded.dtype == x.numpy().dtype
    np.testing.assert_allclose(encoded, x.numpy(), rtol=0, atol=1e-6)

    expected = predictor.loaded.task.predictions(x)
    values = predictor.forward(encoded)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6)
    decoded = predictor.predict(records)
    assert len(decoded) == len(records)
    if predictor.info.kind == "classification":
        names = predictor.info.class_names
        proba = np.stack([1 - expected, expected], 1) if expected.ndim == 1 else expected
        assert [d[f"predicted_{predictor.target}"] for d in decoded] == [names[i] for i in proba.argmax(1)]
        got = np.array([[d[f"probability_{n}"] for n in names] for d in decoded], np.float32)
        np.testing.assert_array_equal(got, proba.astype(np.float32))
    else:
        assert predictor.target == "Temp"
        got = np.array([d["predicted_Temp"] for d in decoded], np.float32)
        np.testing.assert_array_equal(got, expected.reshape(-1).astype(np.float32))


def test_table_rows_take_json_values_and_missing_values_as_the_csv_path(runs, tmp_path):
    from dlrun.inference import Predictor
    from dlrun.predict import predict_table

    predictor = Predictor(runs["table"])
    rows = [
        {"size": 12.5, "colour": "red", "age": 33},
        {"size": None, "colour": "purple", "age": 70},  # missing number, unseen level
        {"size": "9.25", "colour": "", "age": "12", "label": "ignored"},  # numbers as text, missing level
        {"size": "NaN", "colour": None, "age": 40.0},
    ]
    source = tmp_path / "rows.csv"
    source.write_text("size,colour,age\n12.5,red,33\n,purple,70\n9.25,,12\nNaN,,40.0\n")
    table = predict_table(runs["table"], source)
    decoded = predictor.predict(rows)
    tricky = [
        {"size": " 12 ", "colour": " red ", "age": "1e1"},
        {"size": "+3.5", "colour": 4, "age": -0.0},
        {"size": float("nan"), "colour": "NA", "age": "40"},
        {"size": 7, "colour": "yes", "age": 2**40},
    ]
    (fast,) = predictor.encode(tricky)  # parsed without pandas' per-column parsing: the same as the CSV path
    (slow,) = predictor.input.transform(predictor.input.parse(predictor.input.frame(tricky), "rows"))
    np.testing.assert_array_equal(fast, slow)
    for name in ("predicted_label", "probability_big", "probability_small"):
        assert [str(np.float32(d[name])) if "prob" in name else d[name] for d in decoded] == list(table[name])


@pytest.mark.parametrize(
    ("kind", "record", "message"),
    [
        ("table", {"colour": "red", "age": 3}, "rows[0]: missing column 'size'"),
        ("table", {"size": "big", "colour": "red", "age": 3}, "rows[0]: column 'size': cannot read 'big' as a number"),
        ("table", {"size": [1], "colour": "red", "age": 3}, "rows[0]: column 'size': expected a number or a string"),
        ("table", [1, 2, 3], "rows[0]: a table row is an object of column -> value"),
        ("text", 42, "rows[0]: expected a text string, got 42"),
        ("series", [1.0, 2.0], "rows[0]: the window has 2 steps, the model takes 7"),
        ("series", [1, 2, 3, "x", 5, 6, 7], "rows[0][3]: column 'Temp': 'x' is not a number"),
        ("image", np.zeros((3, 4, 8)).tolist(), "rows[0]: wrong image size 8x4 (width x height), the model takes 8x8"),
        ("image", np.zeros((2, 8, 8)).tolist(), "rows[0]: the image has 2 channel(s), the model takes 3"),
        ("image", b"not a png", "rows[0]: not an image file PIL can read"),
        ("array", [1.0] * 63, "rows[0]: the row has 63 values, the model takes 64"),
        ("array", [None] * 64, "rows[0][0]: None is not a number"),
    ],
)
def test_bad_records_name_the_record_the_field_and_the_problem(runs, kind, record, message):
    from dlrun.inference import Predictor

    with pytest.raises(DataError) as caught:
        Predictor(runs[kind]).encode([record])
    assert message in str(caught.value)


def test_an_outside_forward_replaces_the_torch_model(runs):
    from dlrun.inference import Predictor

    calls = []

    def forward(*arrays):
        calls.append(arrays)
        return np.full(len(arrays[0]), 0.25, np.float32)  # binary: probability of class 1 ("small")

    predictor = Predictor(runs["table"], forward=forward)
    assert predictor.loaded is None
    (row,) = predictor.predict([{"size": 1, "colour": "red", "age": 3}])
    assert row == {"predicted_label": "big", "probability_big": 0.75, "probability_small": 0.25}
    assert len(calls) == 1 and calls[0][0].shape == (1, len(predictor.preprocessing["feature_names"]))
    assert isinstance(calls[0][0], np.ndarray) and not isinstance(calls[0][0], torch.Tensor)


def test_dlrun_predict_reads_texts_and_json_records(runs, tmp_path, cli):
    from dlrun.inference import Predictor

    texts = tmp_path / "new.tsv"
    texts.write_text("great nice the film\nawful sad\n")  # text_csv's layout: label<TAB>text, the label left out
    result = cli("predict", str(runs["text"]), str(texts))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "text,predicted_label,probability_neg,probability_pos"
    expected = Predictor(runs["text"]).predict(["great nice the film", "awful sad"])
    assert [line.split(",")[1] for line in lines[1:]] == [p["predicted_label"] for p in expected]

    windows = tmp_path / "windows.json"
    windows.write_text('{"rows": [[10, 11, 12, 13, 12, 11, 10.5]]}')
    result = cli("predict", str(runs["series"]), str(windows))
    assert result.returncode == 0, result.stderr
    (value,) = Predictor(runs["series"]).predict([[10, 11, 12, 13, 12, 11, 10.5]])
    assert result.stdout.splitlines() == [
        "series,predicted_Temp",
        f'"[10, 11, 12, 13, 12, 11, 10.5]",{value["predicted_Temp"]}',
    ]

    windows.write_text('{"rows": [[1, 2]]}')
    result = cli("predict", str(runs["series"]), str(windows))
    assert (
        result.returncode == 2 and "windows.json: rows[0]: the window has 2 steps, the model takes 7" in result.stderr
    )
    result = cli("predict", str(runs["series"]), str(texts))
    assert result.returncode == 2 and "give a JSON file of rows instead" in result.stderr
