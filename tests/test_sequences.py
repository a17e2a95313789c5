"""Sequences: the vocabulary fitted on training texts only, packed recurrent nets, time-series windows that never
cross a split boundary, the aclImdb folder layout, the real SMS file end to end, the toy part-of-speech tagger,
and bad input (one line, exit code 2)."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from conftest import assert_one_line_error, train_in_process
from dlrun.config import compose
from dlrun.datasets import build_data
from dlrun.datasets.base import DataInfo
from dlrun.datasets.vocabulary import OOV, PAD
from dlrun.models import MODELS
from dlrun.packaged_data import packaged_file

SMS = Path(packaged_file("sms_spam"))  # shipped inside the package (tests/test_packaged_data.py)
TEMPERATURES = Path(packaged_file("daily_min_temperatures"))


def _texts_file(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "texts.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- vocabulary
def test_vocabulary_is_fitted_on_the_training_split_only(tmp_path):
    train = [("ham", "see you at home"), ("spam", "win cash now"), ("ham", "home soon"), ("spam", "cash prize now")] * 5
    held_out = [
        ("ham", "zebra home"),
        ("spam", "zebra cash"),
        ("ham", "zebra home"),
    ]  # "zebra": validation and test only
    path = _texts_file(tmp_path, train + held_out)
    unshuffled = [
        "dataset.split.shuffle=false",
        "dataset.split.stratify=false",
        "dataset.split.test=0.08",
        "dataset.split.val=0.05",
    ]  # validation and test are the last rows, in file order
    data = build_data(compose(["dataset=text_csv", f"dataset.path={path}", "dataset.max_len=4", *unshuffled]))
    words = data.preprocessing["words"]
    assert "zebra" not in words and set(words) == {w for _, t in train for w in t.split()}
    assert words[:3] == ["cash", "home", "now"]  # most frequent first (10 each: alphabetical), ids 2, 3, 4
    assert (len(data.train), len(data.val), len(data.test)) == (20, 1, 2)
    assert data.val.x.tolist() == [[OOV, 3, PAD, PAD]]  # "zebra home": zebra is out of vocabulary
    assert data.test.x[:, 0].tolist() == [OOV, OOV] and data.info.vocab_size == len(words) + 2
    assert json.loads(json.dumps(data.preprocessing)) == data.preprocessing  # plain data, saved with the run

    multi_hot = build_data(
        compose(["dataset=text_csv", f"dataset.path={path}", "dataset.encoding=multi_hot", *unshuffled])
    )
    assert multi_hot.train.x.shape == (20, len(words)) and multi_hot.info.vocab_size == 0
    assert multi_hot.val.x.sum().item() == 1.0  # only "home" is counted

    # K-fold: each fold's vocabulary comes from the rows that fold trains on (row 20, "zebra home", or not)
    cfg = compose(["dataset=text_csv", f"dataset.path={path}", *unshuffled])
    with_zebra = build_data(cfg, rows=lambda rest, y, classification: (rest[4:], rest[:4]))
    without = build_data(cfg, rows=lambda rest, y, classification: (rest[:-1], rest[-1:]))
    assert len(with_zebra.train) == 17 and "zebra" in with_zebra.preprocessing["words"]
    assert len(without.train) == 20 and "zebra" not in without.preprocessing["words"]
    assert without.val.x[0, 0].item() == OOV


def test_text_csv_with_a_header_and_quoted_texts(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(
        'id,review,stars\n1,"Great, really great",good\n2,"Awful ""movie""",bad\n3,fine film,good\n4,"bad, bad",bad\n',
        encoding="utf-8",
    )
    data = build_data(
        compose(
            [
                "dataset=text_csv",
                f"dataset.path={path}",
                "dataset.sep=comma",
                "dataset.header=true",
                "dataset.quotes=true",
                "dataset.text=review",
                "dataset.label=stars",
                "dataset.split.test=0",
                "dataset.split.val=0",
                "dataset.max_len=3",
            ]
        )
    )
    words = data.preprocessing["words"]
    assert data.info.class_names == ["bad", "good"] and data.train.y.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert words[:2] == ["bad", "great"] and "movie" in words  # the quotes and the commas inside them are gone
    assert data.train.x[0].tolist() == [3, words.index("really") + 2, 3]


def test_multi_hot_and_ids_match_the_tokenizer_on_the_real_sms_file():
    data = build_data(compose(["+experiment=sms_spam_mlp", f"dataset.path={SMS}"]))
    assert (len(data.train), len(data.val), len(data.test)) == (4013, 446, 1115)  # 5,574 texts, stratified 70/10/20
    assert data.info.class_names == ["ham", "spam"] and data.info.input_shape == (len(data.preprocessing["words"]),)
    assert set(np.unique(data.train.x.numpy())) == {0.0, 1.0}


# ---------------------------------------------------------------------------- recurrent models
@pytest.mark.parametrize(
    "name,bidirectional,pooling",
    [("lstm", False, "last"), ("lstm", True, "last"), ("lstm", True, "mean"), ("gru", True, "last")],
)
def test_padding_and_packing_give_the_output_of_the_unpadded_sequence(name, bidirectional, pooling):
    torch.manual_seed(0)
    info = DataInfo("classification", (9,), 3, 3, vocab_size=20)
    model = MODELS.build(
        name, info, hidden=8, layers=2, bidirectional=bidirectional, pooling=pooling, embedding_dim=5
    ).eval()
    texts = [[4, 7, 2], [3, 9, 12, 5, 6, 19, 2], [8, 8, 3, 4, 5, 6, 7, 9, 11]]
    padded = torch.zeros(len(texts), 9, dtype=torch.long)
    for row, ids in enumerate(texts):
        padded[row, : len(ids)] = torch.tensor(ids)
    with torch.no_grad():
        batch = model(padded)
        alone = torch.cat([model(torch.tensor([ids])) for ids in texts])
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-6)
    assert not torch.allclose(batch[0], batch[1])


def test_per_step_outputs_of_padded_steps_do_not_change_the_real_ones():
    torch.manual_seed(0)
    info = DataInfo("classification", (6,), 3, 3, vocab_size=10, per_step=True)
    model = MODELS.build("lstm", info, hidden=4, bidirectional=True, pooling="per_step", embedding_dim=3).eval()
    with torch.no_grad():
        padded = model(torch.tensor([[2, 3, 4, 0, 0, 0]]))
        alone = model(torch.tensor([[2, 3, 4]]))
    assert padded.shape == (1, 6, 3)
    torch.testing.assert_close(padded[:, :3], alone, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- time series
def _series_file(tmp_path: Path, steps: int) -> Path:
    days = pd.date_range("2000-01-01", periods=steps, freq="D")
    frame = pd.DataFrame(
        {
            "Date": days.strftime("%Y-%m-%d"),
            "Temp": np.arange(steps, dtype=float) * 2.0 + 10.0,
            "Wind": np.arange(steps) % 7,
        }
    )
    path = tmp_path / "series.csv"
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # rows out of order: the date column sorts them
    return path


def test_windows_never_cross_the_split_boundaries(tmp_path):
    path = _series_file(tmp_path, 100)
    cfg = compose(
        [
            "dataset=timeseries_csv",
            f"dataset.path={path}",
            "dataset.value=Temp",
            "dataset.date=Date",
            "dataset.features=[Wind]",
            "dataset.window=5",
            "dataset.horizon=2",
            "dataset.period=7",
            "dataset.split.test=0.2",
            "dataset.split.val=0.25",
            "task=regression",
        ]
    )
    data = build_data(cfg)
    state = data.preprocessing
    steps = np.arange(100)
    # 80 steps before the test split: 60 train, 20 validation, then 20 test; z-score from the 60 training steps
    assert state["mean"][0] == pytest.approx((steps[:60] * 2.0 + 10.0).mean())
    assert state["scale"][0] == pytest.approx((steps[:60] * 2.0 + 10.0).std())

    def step_of(values):  # a z-scored Temp back to its step index
        return np.rint((values * state["scale"][0] + state["mean"][0] - 10.0) / 2.0).astype(int)

    for split, (lo, hi) in (("train", (0, 60)), ("val", (60, 80)), ("test", (80, 100))):
        part = data.split(split)
        x, y = step_of(part.x[..., 0].numpy()), step_of(part.y.numpy())
        assert part.x.shape[1:] == (5, 2) and part.y.shape[1:] == (2,)
        assert len(part) == (hi - lo) - 5 - 2 + 1  # every window that fits inside the split, stride 1
        assert x.min() == lo and y.max() == hi - 1  # inputs and targets stay inside [lo, hi)
        assert (np.diff(x, axis=1) == 1).all() and (y[:, 0] == x[:, -1] + 1).all()  # in time order
    naive = data.naive_forecasts["test"]
    first = np.arange(85, 99)  # the first target step of each test window
    assert naive["last_value"][:, 0].tolist() == (10.0 + 2.0 * (first - 1)).tolist()
    assert naive["seasonal_last_value"][:, 1].tolist() == (10.0 + 2.0 * (first + 1 - 7)).tolist()


def test_temperature_recipe_windows_and_naive_baselines():
    from dlrun.baselines import baselines
    from dlrun.tasks import build_task

    cfg = compose(["+experiment=temperature_lstm", f"dataset.path={TEMPERATURES}"])
    data = build_data(cfg)
    # 3,650 days: 730 test, 292 validation, 2,628 training; 30-day windows -> the next day
    assert (len(data.train), len(data.val), len(data.test)) == (2628 - 30, 292 - 30, 730 - 30)
    found = baselines(build_task(cfg, data.info), data, 1)
    temps = pd.read_csv(TEMPERATURES)["Temp"].to_numpy()
    targets = temps[2920 + 30 :]
    assert found["last_value"]["mae"] == pytest.approx(np.abs(targets - temps[2920 + 29 : -1]).mean(), rel=1e-6)
    assert found["seasonal_last_value"]["mae"] == pytest.approx(
        np.abs(targets - temps[2950 - 365 : -365]).mean(), rel=1e-6
    )
    train_targets = temps[30:2628]  # the training windows' targets
    assert found["mean"]["mae"] == pytest.approx(np.abs(targets - train_targets.mean()).mean(), rel=1e-5)


# ---------------------------------------------------------------------------- aclImdb layout
def test_text_folder_reads_the_aclimdb_layout(tmp_path):
    root = tmp_path / "aclImdb"
    reviews = {
        "train": {
            "neg": ["Awful, boring film.", "Boring and awful."],
            "pos": ["A great film!", "Great fun."],
            "unsup": ["Unlabelled review."],
        },
        "test": {"neg": ["So boring."], "pos": ["Great, great acting."]},
    }
    for split, classes in reviews.items():
        for label, texts in classes.items():
            (root / split / label).mkdir(parents=True)
            for i, text in enumerate(texts):
                (root / split / label / f"{i}_7.txt").write_text(text, encoding="utf-8")
    cfg = compose(
        [
            "dataset=text_folder",
            f"dataset.path={root}",
            "dataset.classes=[neg,pos]",
            "dataset.encoding=multi_hot",
            "dataset.split.val=0",
        ]
    )
    data = build_data(cfg)
    assert data.info.class_names == ["neg", "pos"] and data.info.num_classes == 2
    assert len(data.train) == 4 and len(data.test) == 2  # train/unsup left out; the official test folder kept apart
    words = data.preprocessing["words"]
    assert "unlabelled" not in words and "acting" not in words and "so" not in words  # test words never fitted
    assert sorted(data.train.y.tolist()) == [0.0, 0.0, 1.0, 1.0] and data.test.y.tolist() == [0.0, 1.0]
    great, boring = words.index("great"), words.index("boring")
    assert data.test.x[:, great].tolist() == [0.0, 1.0] and data.test.x[:, boring].tolist() == [1.0, 0.0]


# ---------------------------------------------------------------------------- runs on real data
@pytest.fixture
def one_thread():
    """Small models on a shared 2-core CPU: one torch thread is faster than two that stall (README, K-fold)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sms_spam_mlp_recipe_end_to_end_then_eval_reproduces_it(tmp_path, cli, one_thread):
    assert SMS.is_file()  # the real file must be there: this test never skips
    run = tmp_path / "sms"
    _, metrics = train_in_process(["+experiment=sms_spam_mlp", f"dataset.path={SMS}", "plots.enabled=false"], run)
    # measured: test accuracy 0.991, spam F1 0.965 (seed 1, 1,115 test texts)
    assert metrics["test"]["accuracy"] >= 0.975 and metrics["test"]["f1_positive"] >= 0.92
    assert metrics["baselines"]["majority"]["accuracy"] < 0.87 and metrics["baselines"]["majority"]["f1_positive"] == 0
    evaluated = cli("eval", str(run), "--json")  # the vocabulary comes back from the checkpoint
    assert evaluated.returncode == 0, evaluated.stderr
    measured = json.loads(evaluated.stdout)
    assert {k: measured[k] for k in metrics["test"]} == pytest.approx(metrics["test"])


def test_pos_tagger_recipe_tags_the_books_sentence(tmp_path, one_thread):
    from dlrun.saved_run import load_run

    run = tmp_path / "pos"
    _, metrics = train_in_process(["+experiment=pos_tagger_lstm", "plots.enabled=false"], run)
    assert metrics["test"]["accuracy"] == 1.0 and metrics["history"][-1]["train/loss"] < 0.1
    loaded = load_run(run, "final")
    data = build_data(compose(["+experiment=pos_tagger_lstm"]), preprocessing=loaded.preprocessing)
    probabilities = loaded.task.predictions(data.test.x)  # (sentences, steps, tags)
    assert probabilities.argmax(axis=-1)[0, :5].tolist() == [0, 1, 2, 0, 1]  # The/DET dog/NN ate/V the/DET apple/NN


# ---------------------------------------------------------------------------- bad input
BAD = [
    (["+experiment=sms_spam_mlp", "dataset.text=txt"], "has no column 'txt'. Did you mean 'text'?"),
    (["+experiment=sms_spam_lstm", "dataset.path=no/such.tsv"], "dataset.path: no such file: no/such.tsv"),
    (["+experiment=temperature_lstm", "dataset.value=temp"], "has no column 'temp'. Did you mean 'Temp'?"),
    (["+experiment=imdb_lstm"], "text folder not found: data/aclImdb/train"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_sequence_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    line = assert_one_line_error(cli("train", *args), message, tmp_path)
    if "aclImdb" in message:  # says where to put the archive
        assert "aclImdb_v1.tar.gz" in line and "data/aclImdb/train/<class>/<one file per document>" in line


@pytest.mark.parametrize(
    "args,message",
    [
        (["+experiment=temperature_lstm", "dataset.split.shuffle=true"], "set dataset.split.shuffle=false"),
        (["+experiment=temperature_lstm", "cv.folds=3", "cv.fold=0"], "is a time series: use dataset.split.val"),
        (
            ["+experiment=temperature_lstm", "dataset.window=400"],
            "the val split has 292 steps, fewer than window + horizon",
        ),
        (
            ["+experiment=sms_spam_lstm", "dataset.encoding=bag"],
            "dataset.encoding must be one of 'sequence', 'multi_hot', got 'bag'",
        ),
        (["+experiment=sms_spam_mlp", "model=lstm", "model.hidden=16"], "model (lstm) reads sequences"),
        (["+experiment=sms_spam_lstm", "model.pooling=per_step"], "needs per-step labels"),
        (["+experiment=pos_tagger_lstm", "task=classification"], "use task=tagging"),
    ],
)
def test_bad_sequence_settings_fail_with_a_config_error(args, message):
    from dlrun.cv import CVConfig, fold_rows
    from dlrun.errors import DlrunError
    from dlrun.tasks import build_task
    from dlrun.validate import validate

    cfg = compose(args)
    with pytest.raises(DlrunError, match=re.escape(message)):
        validate(cfg)
        data = build_data(cfg, rows=fold_rows(CVConfig.from_dict(OmegaConf.to_container(cfg.cv, resolve=True))))
        build_task(cfg, data.info)
