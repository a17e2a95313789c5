"""dataset=csv on files the tests write: parsing, feature columns, missing values, targets, embeddings."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from dlrun.config import compose
from dlrun.datasets import DATASETS, build_data
from dlrun.datasets.columns import MISSING_LEVEL, TablePreprocessor
from dlrun.datasets.splits import split_indices
from dlrun.errors import ConfigError, DataError

CITIES = ["oslo", "paris", "rome"]


def write_mixed(path, n=120, seed=0):
    """age (numeric, some missing), city (categorical, some missing), year (bucketized), score (passthrough),
    label (yes/no, string)."""
    rng = np.random.RandomState(seed)
    lines = ["age,city,year,score,label"]
    for i in range(n):
        age = "" if i % 17 == 3 else f"{rng.uniform(20, 70):.1f}"
        city = "NA" if i % 13 == 5 else CITIES[rng.randint(3)]
        year = str(70 + i % 13)
        score = f"{rng.normal():.3f}"
        old = age != "" and float(age) > 45
        label = "yes" if old != (city == "oslo") else "no"
        lines.append(f"{age},{city},{year},{score},{label}")
    path.write_text("\n".join(lines) + "\n")
    return lines


def csv_args(path, *extra):
    return ["dataset=csv", f"dataset.path={path}", *extra]


MIXED = [
    "dataset.target=label",
    "+dataset.features.year={kind: bucketized, boundaries: [73, 76, 79], right: true}",
    "+dataset.features.score=passthrough",
]


def test_mixed_columns_are_fitted_on_training_rows_only(tmp_path):
    path = tmp_path / "mixed.csv"
    write_mixed(path)
    cfg = compose(csv_args(path, *MIXED))
    data = build_data(cfg)
    state = data.preprocessing
    assert data.info.kind == "classification" and data.info.class_names == ["no", "yes"]
    assert state["feature_names"] == [
        "age",
        f"city={MISSING_LEVEL}",
        "city=oslo",
        "city=paris",
        "city=rome",
        "year",
        "score",
    ]
    kinds = {c["name"]: (c["kind"], c.get("encoding")) for c in state["columns"]}
    assert kinds == {
        "age": ("numeric", None),
        "city": ("categorical", "onehot"),
        "year": ("bucketized", "index"),
        "score": ("passthrough", None),
    }

    # the same rows, read independently, at the training indices dlrun's splitter chose
    frame = pd.read_csv(path, keep_default_na=True)
    y = (frame.label == "yes").to_numpy().astype(int)
    train, _, test = split_indices(len(frame), y, cfg.dataset.split, True, False)
    ages = frame.age.to_numpy()[train]
    median = np.nanmedian(ages)
    filled = np.where(np.isnan(ages), median, ages)
    age = state["columns"][0]
    assert age["median"] == pytest.approx(median)
    assert age["mean"] == pytest.approx(filled.mean()) and age["scale"] == pytest.approx(filled.std())
    x = data.train.x.numpy()
    assert x[:, 0].mean() == pytest.approx(0, abs=1e-6) and x[:, 0].std() == pytest.approx(1, abs=1e-4)
    missing_rows = np.flatnonzero(np.isnan(ages))
    assert len(missing_rows) > 0
    assert np.allclose(x[missing_rows, 0], (median - filled.mean()) / filled.std(), atol=1e-5)
    # missing city is a level of its own; one-hot rows hold exactly one 1
    assert x[:, 1:5].sum(axis=1).tolist() == [1.0] * len(x)
    city_missing = frame.city.isna().to_numpy()[train]
    assert (x[city_missing, 1] == 1).all() and (x[~city_missing, 1] == 0).all()
    # year: torch.bucketize(right=True) semantics, one numeric column; score passes through unchanged
    years = torch.tensor(frame.year.to_numpy()[train])
    assert x[:, 5].tolist() == torch.bucketize(years, torch.tensor([73, 76, 79]), right=True).float().tolist()
    assert np.allclose(x[:, 6], frame.score.to_numpy()[train], atol=1e-6)
    assert len(data.test) == len(test)
    # plain data: JSON and torch.load(weights_only=True) both take it
    json.dumps(state)
    torch.save(state, tmp_path / "state.pt")
    assert torch.load(tmp_path / "state.pt", weights_only=True) == state


def test_unseen_levels_map_to_the_unknown_slot_and_bucket_edges_follow_right(tmp_path):
    columns = [
        {"name": "city", "kind": "categorical", "encoding": "onehot", "embedding_dim": None},
        {"name": "t", "kind": "bucketized", "boundaries": [1.0, 2.0], "right": False, "encoding": "onehot"},
    ]
    prep = TablePreprocessor(columns, "regression", "y")
    train = pd.DataFrame({"city": np.array(["a", "b", MISSING_LEVEL], dtype=object), "t": [0.5, 1.0, 3.0]})
    state = prep.fit(train, np.zeros(3))
    new = pd.DataFrame({"city": np.array(["b", "never seen"], dtype=object), "t": [1.0, np.nan]})
    out = prep.transform(new, state)
    # city: <missing>, a, b -> [0, 0, 1] for b, all zeros for the unseen level
    assert out[:, :3].tolist() == [[0, 0, 1], [0, 0, 0]]
    # t: right=False puts 1.0 in bucket 0 (torch.bucketize: boundaries[i-1] < x <= boundaries[i]);
    # a missing value takes the training median (1.0)
    assert out[:, 3:].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert torch.bucketize(torch.tensor([1.0]), torch.tensor([1.0, 2.0]), right=False).item() == 0


AUTO_MPG_LIKE = """\
18.0   8   307.0      130.0      3504.      12.0   70  1\t"chevrolet chevelle malibu"
15.0   8   350.0      165.0      3693.      11.5   70  1\t"buick skylark 320"
25.0   4   98.00      ?          2046.      19.0   71  1\t"ford pinto"
24.0   4   113.0      95.00      2372.      15.0   70  3\t"toyota corona mark ii"
26.0   4   97.00      46.00      1835.      20.5   70  2\t"volkswagen 1131 deluxe sedan"
"""
NAMES = "[mpg,cylinders,displacement,horsepower,weight,acceleration,model_year,origin]"


def auto_mpg_like(tmp_path, *extra):
    path = tmp_path / "cars.data"
    path.write_text(AUTO_MPG_LIKE * 8)
    args = [
        "dataset.target=mpg",
        "dataset.sep=whitespace",
        "dataset.header=false",
        f"dataset.names={NAMES}",
        "dataset.na_values=['?']",
        "dataset.comment='\t'",
        *extra,
    ]
    dataset = OmegaConf.to_container(compose(csv_args(path, *args)).dataset, resolve=True)
    return DATASETS.build("csv", **{k: v for k, v in dataset.items() if k not in ("name", "split")})


def test_headerless_whitespace_file_with_a_tab_comment(tmp_path):
    raw = auto_mpg_like(tmp_path)
    assert raw.kind == "regression" and len(raw.y) == 40
    assert raw.y[:5].tolist() == [18.0, 15.0, 25.0, 24.0, 26.0]
    assert list(raw.x.columns) == [
        "cylinders",
        "displacement",
        "horsepower",
        "weight",
        "acceleration",
        "model_year",
        "origin",
    ]
    assert np.isnan(raw.x.horsepower[2]) and raw.x.weight[4] == 1835.0
    assert all(s["kind"] == "numeric" for s in raw.preprocessor.columns)  # inferred: every value is a number
    dropped = auto_mpg_like(tmp_path, "dataset.dropna=true", "+dataset.features.origin=categorical")
    assert len(dropped.y) == 32 and not dropped.x.horsepower.isna().any()
    assert dropped.x.origin[:4].tolist() == ["1", "1", "3", "2"]  # the third row had no horsepower


def test_string_targets_inference_and_target_scale(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,code,y\n" + "".join(f"{i},{'ab'[i % 2]},{i * 1000}\n" for i in range(30)))
    raw = DATASETS.build("csv", path=str(path), target="code")
    assert raw.kind == "classification" and raw.class_names == ["a", "b"] and raw.y[:3].tolist() == [0, 1, 0]
    assert raw.preprocessor.columns[1]["kind"] == "numeric"  # y, as a feature, is numeric
    raw = DATASETS.build("csv", path=str(path), target="y", target_scale=1000.0)
    assert raw.kind == "regression" and [c["kind"] for c in raw.preprocessor.columns] == ["numeric", "categorical"]
    state = raw.preprocessor.fit(raw.x, raw.y)
    assert state["target_scale"] == 1000.0 and raw.preprocessor.transform_target(raw.y, state)[3] == 3.0
    state = DATASETS.build("csv", path=str(path), target="y", target_scale="standard").preprocessor.fit(raw.x, raw.y)
    assert state["target_shift"] == pytest.approx(14500) and state["target_scale"] == pytest.approx(np.std(raw.y))
    with pytest.raises(
        ConfigError, match="dataset.target_scale applies to regression targets; 'code' holds class labels"
    ):
        DATASETS.build("csv", path=str(path), target="code", target_scale="standard")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2.5\n2,\n3,4.5\n4,abc\n")  # row 2 has no target and is dropped
    with pytest.raises(DataError) as info:
        DATASETS.build("csv", path=str(bad), target="y", kind="regression")
    assert str(info.value) == f"{bad}: column 'y', row 4: cannot read 'abc' as a number"


def test_many_levels_get_an_embedding_and_train(tmp_path):
    rng = np.random.RandomState(0)
    shops = [f"shop{i}" for i in range(30)]
    effect = {s: rng.normal(scale=3) for s in shops}
    rows = ["shop,size,sales"]
    for _ in range(400):
        shop, size = shops[rng.randint(30)], rng.uniform(0, 1)
        rows.append(f"{shop},{size:.3f},{effect[shop] + 2 * size + rng.normal(scale=0.3):.3f}")
    path = tmp_path / "shops.csv"
    path.write_text("\n".join(rows) + "\n")
    from conftest import train_in_process

    run = tmp_path / "run"
    _, metrics = train_in_process(
        csv_args(
            path,
            "dataset.target=sales",
            "optimizer.lr=0.03",
            "trainer.max_epochs=40",
            "trainer.batch_size=64",
            "plots.enabled=false",
        ),
        run,
    )
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    shop = state["data"]["preprocessing"]["columns"][0]
    assert (
        shop["encoding"] == "embedding" and shop["dim"] == round(1.6 * 31**0.56) == 11
    )  # fast.ai rule, 30 levels + unknown
    assert state["data"]["info"]["embeddings"] == [[30, 11]]
    assert state["task"]["models"]["model"]["0.tables.0.weight"].shape == (31, 11)
    # the shop effect is learnable only through the embedding: r2 far above the size-only ceiling (~0.1)
    assert metrics["test"]["r2"] >= 0.8
    summary = (run / "model_summary.txt").read_text()
    assert "Embedding" in summary and "(batch, 11)" in summary and "(batch, 12)" in summary


def test_config_and_file_errors_are_one_line(tmp_path):
    path = tmp_path / "mixed.csv"
    first_city = write_mixed(path)[1].split(",")[1]
    cases = [
        (
            ["dataset.target=labl"],
            DataError,
            f"dataset.target: {path} has no column 'labl'. Did you mean 'label'? "
            "Columns: age, city, year, score, label",
        ),
        (
            ["dataset.target=label", "dataset.header=false"],
            ConfigError,
            "dataset.header is false, so dataset.names must list the column names in file order",
        ),
        (
            ["dataset.target=label", "+dataset.features.year=bucket"],
            ConfigError,
            "unknown dataset.features.year.kind 'bucket'. Known: numeric, categorical, bucketized, passthrough, date, "
            "datetime, text. "
            "Did you mean 'bucketized'?",
        ),
        (
            ["dataset.target=label", "+dataset.features.year={kind: bucketized, boundaries: [3, 1]}"],
            ConfigError,
            "dataset.features.year.boundaries must be strictly increasing, got [3, 1]",
        ),
        (
            ["dataset.target=label", "dataset.sep=pipe"],
            ConfigError,
            "dataset.sep must be one character (',' ';' '\\t'), tab, comma, semicolon or whitespace, got 'pipe'",
        ),
        (
            ["dataset.target=label", "+dataset.features.city=numeric"],
            DataError,
            f"{path}: column 'city', row 1: cannot read '{first_city}' as a number",
        ),
    ]
    from dlrun.validate import validate

    for args, error, message in cases:
        with pytest.raises(error) as info:
            cfg = compose(csv_args(path, *args))
            validate(cfg)
            build_data(cfg)
        assert str(info.value) == message
