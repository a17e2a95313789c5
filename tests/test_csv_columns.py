"""Real-world columns of `dataset=csv`: dates written as text, ID-like columns, infinite numbers, encodings."""

import logging

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, train_in_process
from dlrun.config import compose
from dlrun.datasets import DATASETS
from dlrun.datasets.dates import detect_format, parse_dates
from dlrun.datasets.splits import split_indices


def write_seasons(path, n=300, seed=0):
    """A date (dd.mm.yyyy) whose season alone decides the label, an ID column and a noise column."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    summer = days.month.isin([5, 6, 7, 8, 9])
    frame = pd.DataFrame(
        {
            "order_id": rng.permutation(n) + 1000,
            "when": days.strftime("%d.%m.%Y"),
            "noise": rng.normal(size=n).round(3),
            "season": np.where(summer, "summer", "winter"),
        }
    )
    frame.to_csv(path, index=False)
    return frame


def test_detect_format_reads_common_date_spellings_and_not_numbers():
    cases = {
        ("2012-01-31", "2013-12-01"): "%Y-%m-%d",
        ("2012/01/31",): "%Y/%m/%d",
        ("31.01.2012", "01.02.2013"): "%d.%m.%Y",
        ("2012-01-31 10:20:30",): "%Y-%m-%d %H:%M:%S",
        ("2012-01-31T10:20",): "%Y-%m-%dT%H:%M",
        ("1", "2"): None,
        ("3.5",): None,
        ("red",): None,
    }
    for values, fmt in cases.items():
        assert detect_format(pd.Series(values)) == fmt, values
    seconds = parse_dates(np.array(["1970-01-02", "not a date", np.nan], dtype=object), "%Y-%m-%d")
    assert seconds[0] == 86400.0 and np.isnan(seconds[1:]).all()  # unparseable -> missing


@pytest.mark.slow
def test_season_in_a_date_column_is_learned_the_id_is_dropped_and_predict_equals_eval(tmp_path, caplog):
    from dlrun.evaluate import evaluate_run
    from dlrun.inference import Predictor
    from dlrun.predict import predict_table

    path = tmp_path / "orders.csv"
    frame = write_seasons(path)
    args = [
        "dataset=csv",
        f"dataset.path={path}",
        "dataset.target=season",
        "model.hidden=[32]",
        "optimizer.lr=0.01",
        "trainer.max_epochs=40",
        "plots.enabled=false",
    ]
    with caplog.at_level(logging.INFO, logger="dlrun"):
        _, with_dates = train_in_process(args, tmp_path / "dates")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "ID-like" in r.getMessage()]
    assert warned == [
        f"{path}: left out ID-like column(s) order_id (a distinct value on nearly every row); "
        "name them in dataset.features to keep them"
    ]
    _, without = train_in_process([*args, "dataset.drop=[when]"], tmp_path / "no_dates")
    # summer is 5 of 12 months: without the date only the majority guess (~0.6) is possible
    assert with_dates["test"]["accuracy"] >= 0.9
    assert without["test"]["accuracy"] <= 0.75
    assert with_dates["test"]["accuracy"] - without["test"]["accuracy"] >= 0.2

    run = tmp_path / "dates"
    schema = pd.read_csv(run / "table_schema.csv").set_index("column")
    assert schema.loc["when", "kind"] == "date" and schema.loc["order_id", "kind"] == "left out (ID-like)"
    checkpoint = Predictor(run)
    columns = {c["name"]: c for c in checkpoint.preprocessing["columns"]}
    assert set(columns) == {"when", "noise"}  # the ID is not a feature
    assert columns["when"]["kind"] == "date" and columns["when"]["format"] == "%d.%m.%Y"
    assert "when.month_sin" in checkpoint.preprocessing["feature_names"]

    # new rows: the test split written as a file (dates parsed with the stored format) and as JSON records
    raw = DATASETS.build("csv", path=str(path), target="season")
    cfg = compose(args)
    _, _, test = split_indices(len(raw.y), raw.y, cfg.dataset.split, True, False)
    new = tmp_path / "new.csv"
    frame.iloc[test].drop(columns=["season"]).to_csv(new, index=False)
    table = predict_table(run, new)
    measured = evaluate_run(run, [])
    truth = frame.season.iloc[test].to_numpy()
    assert np.mean(table.predicted_season.to_numpy() == truth) == measured["accuracy"] == with_dates["test"]["accuracy"]
    records = frame.iloc[test[:5]][["when", "noise"]].to_dict("records")
    served = checkpoint.predict(records)  # as `dlrun serve` answers: the JSON path parses dates the same way
    assert [p["predicted_season"] for p in served] == table.predicted_season.iloc[:5].tolist()
    assert checkpoint.schema()["input"]["columns"][0] == {
        "name": "when",
        "kind": "date",
        "type": "string",
        "format": "%d.%m.%Y",
    }


def test_declared_date_column_keeps_unparseable_values_as_missing_and_ids_named_in_features_stay(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["key,day,y"] + [f"{i},2020-01-{1 + i % 28:02d},{i % 2}" for i in range(60)] + ["99,someday,1"]
    path.write_text("\n".join(rows) + "\n")
    raw = DATASETS.build("csv", path=str(path), target="y", features={"day": "date", "key": "numeric"}, infer=False)
    assert set(raw.x.columns) == {"day", "key"}  # `key` is ID-like but named in features: kept
    assert np.isnan(raw.x["day"].iloc[-1]) and not np.isnan(raw.x["day"].iloc[:-1]).any()


def test_infinite_or_overflowing_numbers_are_one_line_naming_column_and_row(tmp_path, cli):
    for value in ("inf", "-1e400", "1e308"):
        path = tmp_path / "big.csv"
        path.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(8)) + f"1,{value},0\n")
        result = cli("train", "dataset=csv", f"dataset.path={path}", "dataset.target=y", "logger=none")
        line = assert_one_line_error(result, "column 'b', row 9", tmp_path)
        assert value in line and ("infinite" in line or "overflows" in line)


def test_a_cp1252_file_fails_naming_dataset_encoding_and_reads_with_it(tmp_path, cli):
    path = tmp_path / "export.csv"
    lines = ["city;temp;label"] + [f"{c};{i};{i % 2}" for i, c in enumerate(["Köln", "Zürich", "Besançon"] * 4)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    result = cli("train", "dataset=csv", f"dataset.path={path}", "dataset.sep=semicolon", "dataset.target=label")
    assert_one_line_error(result, "set dataset.encoding", tmp_path)
    raw = DATASETS.build("csv", path=str(path), sep="semicolon", target="label", encoding="cp1252")
    assert sorted(set(raw.x["city"])) == ["Besançon", "Köln", "Zürich"]
    # UTF-8 with a byte-order mark: the first column's name has no BOM in it
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    assert "city" in DATASETS.build("csv", path=str(bom), sep="semicolon", target="label").x.columns


def test_free_text_column_becomes_a_bag_of_words_not_a_categorical(tmp_path):
    from dlrun.datasets import build_data

    rng = np.random.default_rng(1)
    fillers = ["the room was", "our stay felt", "staff and food were", "the view looked", "breakfast seemed"]
    rows = []
    for i in range(120):
        good = rng.random() < 0.5
        word = rng.choice(["great", "lovely"]) if good else rng.choice(["awful", "dirty"])
        rows.append({"stars": int(rng.integers(1, 6)), "note": f"{rng.choice(fillers)} {word} {i}", "ok": int(good)})
    path = tmp_path / "reviews.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    cfg = compose(["dataset=csv", f"dataset.path={path}", "dataset.target=ok"])
    data = build_data(cfg)
    note = next(c for c in data.preprocessing["columns"] if c["name"] == "note")
    assert note["kind"] == "text" and {"great", "awful", "dirty", "lovely"} <= set(note["words"])
    names = data.preprocessing["feature_names"]
    assert "note:great" in names and data.info.input_shape == (len(names),)
    great = names.index("note:great")
    x, y = data.train.x.cpu().numpy(), data.train.y.cpu().numpy()
    assert (x[:, great] > 0).sum() > 0 and np.all(y[x[:, great] > 0] == 1)  # the word's column marks its rows
