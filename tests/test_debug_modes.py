"""The debug modes (`debug=fast|overfit|limit|profile|anomaly`, dlrun.trainer.debug): composed configs, exact
batch counts, the files each mode writes, the overfit verdict, the anomaly line, and every shipped recipe
under debug=fast on small files the tests write in the real formats."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli_in_process, train_in_process
from dlrun.config import compose, shipped_experiments_dir
from dlrun.errors import ConfigError
from dlrun.trainer import debug
from dlrun.validate import validate
from test_images import learnable_images, write_cifar, write_idx

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def effective(*overrides):
    return debug.effective(validate(compose(list(overrides)), files=False).trainer)


def test_presets_set_only_debug_keys_so_a_recipe_cannot_undo_them():
    fast = effective("+experiment=mnist_mlp", "debug=fast")
    assert (fast.max_epochs, fast.limit_train_batches, fast.limit_val_batches, fast.limit_test_batches) == (1, 1, 1, 1)
    over = effective("+experiment=fashion_mnist_mlp", "debug=overfit")  # the recipe sets max_epochs 20, patience 5
    assert (over.overfit_batches, over.max_epochs, over.early_stopping.patience) == (2, 200, None)
    assert effective("+experiment=digits_mlp", "debug=overfit", "trainer.overfit_batches=3").overfit_batches == 3
    limit = effective("+experiment=digits_mlp", "debug=limit", "trainer.limit_val_batches=2")
    assert (limit.limit_train_batches, limit.limit_val_batches, limit.max_epochs) == (0.25, 2, 40)
    prof = effective("+experiment=digits_mlp", "debug=profile")
    assert (prof.profile, prof.max_epochs, prof.limit_train_batches, prof.limit_test_batches) == (5, 1, 6, 1)
    assert effective("debug=anomaly").detect_anomaly is True
    assert effective("+experiment=digits_mlp") == validate(compose(["+experiment=digits_mlp"]), files=False).trainer


def test_overfit_mode_turns_every_regularizer_off():
    cfg = compose(
        [
            "+experiment=cifar10_cnn",  # augmentation (crop, flip) and dropout in the recipe
            "regularization=l2",
            "optimizer=adamw",
            "model.head_dropout=0.5",
        ]
    )
    plain = debug.without_regularization(cfg)
    assert plain.regularization.l2 == 0 and plain.optimizer.weight_decay == 0 and plain.model.head_dropout == 0
    assert all(block.get("dropout", 0) == 0 for block in plain.model.blocks)
    assert plain.dataset.augment.crop_padding == 0 and plain.dataset.augment.hflip is False
    assert cfg.optimizer.weight_decay > 0  # the original is left alone


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.limit_train_batches=0", "trainer.limit_train_batches must be > 0, got 0"),
        ("trainer.limit_val_batches=1.5", "trainer.limit_val_batches must be a count of batches (an integer >= 1) or"),
        (
            "trainer.limit_test_batches=abc",
            "trainer.limit_test_batches must be an integer or a number or null, got 'abc'",
        ),
        ("trainer.profile=0", "trainer.profile must be >= 1, got 0"),
        ("trainer.overfit_batches=-1", "trainer.overfit_batches must be >= 0, got -1"),
    ],
)
def test_bad_debug_values_are_one_config_error(override, message):
    with pytest.raises(ConfigError) as err:
        validate(compose([override]), files=False)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_limit_on_the_command_line_is_one_line_exit_2(tmp_path):
    result = run_cli_in_process("train", "trainer.limit_train_batches=1.5", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "dlrun: error: trainer.limit_train_batches must be a count of batches (an integer >= 1) or a fraction of "
        "them in (0, 1], got 1.5"
    ]
    assert not (tmp_path / "outputs").exists()


def test_limits_count_and_fraction_give_the_exact_number_of_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # digits: 1294 training rows = 41 batches of 32; val 144 rows and test 359 rows in batches of 64 (eval: >= 512)
    _, count = train_in_process(
        ["trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_test_batches=1"], tmp_path / "a"
    )
    assert [row["train_samples"] for row in count["history"]] == [96, 96]
    _, fraction = train_in_process(["trainer.max_epochs=1", "trainer.limit_train_batches=0.25"], tmp_path / "b")
    assert fraction["history"][0]["train_samples"] == 10 * 32  # int(41 * 0.25)
    assert debug.limit_count(0.5, 3) == 1 and debug.limit_count(0.01, 3) == 1 and debug.limit_count(5, 3) == 3


def test_limited_val_and_test_batches_are_the_first_ones():
    from dlrun.datasets import build_data

    data = build_data(compose([]))
    val = debug.LimitedBatches(data.batches("val", 16), 0.5)
    assert len(val) == 4 and len(list(val)) == 4  # 144 rows = 9 batches of 16
    first = [
        x
        for x, _ in debug.test_batches(
            validate(compose(["trainer.limit_test_batches=2"])).trainer, data.batches("test", 16)
        )
    ]
    assert len(first) == 2 and (first[0] == data.test.x[:16]).all()


def test_fast_mode_runs_the_real_paths_into_a_throwaway_directory(tmp_path):
    result = run_cli_in_process("train", "+experiment=digits_mlp", "debug=fast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = (tmp_path / "outputs" / "debug" / "digits_mlp").glob("fast_*")
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and metrics["history"][0]["train_samples"] == 32
    assert "accuracy" in metrics["test"] and metrics["best"]
    for name in ("checkpoints/last.pt", "history.csv", "learning_curves.png", "confusion_matrix.png", "train.log"):
        assert (run / name).is_file(), name
    assert "debug mode: fast: 1 epoch of 1 train, 1 val and 1 test batch" in result.stdout


def test_profile_mode_writes_a_trace_and_prints_the_top_operators(tmp_path):
    result = run_cli_in_process(
        "train", "debug=profile", "trainer.profile=3", "logger=none", "hydra.run.dir=run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    assert "top operators over 3 profiled steps" in result.stdout and "aten::addmm" in result.stdout
    assert "aten::addmm" in (run / "profile" / "top_ops.txt").read_text()
    trace = json.loads((run / "profile" / "trace.pt.trace.json").read_text())
    steps = {e["name"] for e in trace["traceEvents"] if str(e.get("name", "")).startswith("ProfilerStep#")}
    assert len(steps) == 3
    assert json.loads((run / "metrics.json").read_text())["history"][0]["train_samples"] == 4 * 32


def test_anomaly_mode_names_the_operation_that_made_the_nan(tmp_path):
    result = run_cli_in_process(
        "train",
        "+experiment=diabetes_mlp",
        "debug=anomaly",
        "optimizer=sgd",
        "optimizer.lr=1e30",  # the weights overflow on the first steps: the next backward makes NaN
        "logger=none",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    assert result.returncode == 3
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dlrun: error: autograd anomaly at epoch 1: ")
    assert "Backward0 (the backward of " in last and "returned nan values" in last
    assert "forward call: " in last and "dlrun/models/mlp.py" in last


def test_overfit_verdict_states_whether_the_batches_were_memorized():
    good = debug.overfit_verdict([{"train/loss": 0.004, "train/accuracy": 1.0}], 2)
    bad = debug.overfit_verdict([{"train/loss": 0.004, "train/accuracy": 0.99}], 2)
    regression = debug.overfit_verdict([{"train/loss": 0.02}], 1)
    assert good["memorized"] and "memorized 2 batches" in good["line"]
    assert not bad["memorized"] and "did NOT memorize" in bad["line"]
    assert not regression["memorized"] and "1 batch " in regression["line"]


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_file(), reason="Debian's dataset-fashion-mnist is not installed")
def test_overfit_mode_memorizes_two_fashion_mnist_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = ["+experiment=fashion_mnist_mlp", "debug=overfit", "trainer.overfit_epochs=120"]
    _, metrics = train_in_process(cfg, tmp_path / "run")
    history = metrics["history"]
    assert len(history) == 120 and {row["train_samples"] for row in history} == {256}  # 2 batches of 128
    assert history[-1]["train/loss"] < 0.01 and history[-1]["train/accuracy"] == 1.0
    assert history[-1]["val/accuracy"] == 1.0  # validated on the same two batches
    assert debug.overfit_verdict(history, 2)["memorized"]


# ---------------------------------------------------------------------------- every shipped recipe, debug=fast
NEEDS_NETWORK = {"california_housing_kfold", "hymenoptera_resnet18"}  # download their data (and weights)
RECIPES = sorted(p.stem for p in shipped_experiments_dir().glob("*.yaml") if p.stem not in NEEDS_NETWORK)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """./data with small MNIST, Fashion-MNIST (idx), CIFAR-10 (pickled batches) and aclImdb (folders) files."""
    root = tmp_path_factory.mktemp("recipes")
    rng = np.random.default_rng(0)
    for folder, train in (("MNIST", 10_300), ("FashionMNIST", 300)):  # mnist_mlp_dropout validates on 10,000
        for prefix, n in (("train", train), ("t10k", 100)):
            write_idx(root / "data" / folder / "raw", prefix, *learnable_images(n, rng))
    write_cifar(root / "data", rng)
    words = {"neg": "awful boring bad dull", "pos": "great fun good superb"}
    for split in ("train", "test"):
        for label, text in words.items():
            (root / "data" / "aclImdb" / split / label).mkdir(parents=True)
            for i in range(20):
                doc = " ".join(rng.choice(text.split(), 6))
                (root / "data" / "aclImdb" / split / label / f"{i}_7.txt").write_text(doc, encoding="utf-8")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("recipe", RECIPES)
def test_every_shipped_recipe_runs_under_debug_fast(recipe, data_dir):
    started = time.perf_counter()
    result = run_cli_in_process(
        "train",
        f"+experiment={recipe}",
        "debug=fast",
        "logger=none",
        f"hydra.run.dir=runs/{recipe}",
        cwd=data_dir,
        env={"OMP_NUM_THREADS": 1},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    metrics = json.loads((data_dir / "runs" / recipe / "metrics.json").read_text())
    assert "history" in metrics or "cv" in metrics
    assert time.perf_counter() - started < 60
