"""Bad input: one line on stderr naming the problem, exit code 2, no traceback, no complete run directory."""

import pytest

from conftest import assert_one_line_error
from dlrun.callbacks import CALLBACKS

CASES = [
    (
        ["trainer.max_epoch=5"],
        "dlrun: error: unknown config key 'trainer.max_epoch'. Did you mean 'trainer.max_epochs'?",
    ),
    (["datset=iris"], "dlrun: error: unknown config key 'datset'. Did you mean 'dataset'?"),
    (
        ["dataset=digitz"],
        "dlrun: error: unknown dataset 'digitz'. Known: boston_housing, breast_cancer, "
        "california_housing, cifar10, classification, csv, diabetes, digits, fashion_mnist, "
        "image_folder, iris, mnist, moons, tagged_text, text_csv, text_folder, timeseries_csv, wine, xor. "
        "Did you mean 'digits'?",
    ),
    (
        ["model=mlpp"],
        "dlrun: error: unknown model 'mlpp'. Known: cgan_mlp, cnn, dcgan, gan_mlp, gru, lstm, mlp, torchvision, "
        "vae_conv, vae_mlp. Did you mean 'mlp'?",
    ),
    (["+experiment=digits_mpl"], "Did you mean 'digits_mlp'?"),
    (["trainer.max_epochs=-1"], "dlrun: error: trainer.max_epochs must be >= 1, got -1"),
    (["optimizer.lr=0"], "dlrun: error: optimizer.lr must be > 0, got 0"),
    (["trainer.batch_size=abc"], "dlrun: error: trainer.batch_size must be an integer, got 'abc' (str)"),
    (["dataset.split.val=1.5"], "dlrun: error: dataset.split.val must be in [0, 1), got 1.5"),
    (["dataset.split.test=2"], "dlrun: error: dataset.split.test must be in [0, 1), got 2"),
    (
        ["optimizer=sgd", "optimizer.momentun=0.9"],
        "dlrun: error: unknown config key 'optimizer.momentun'. Did you mean 'optimizer.momentum'?",
    ),
    (
        ["model.activation=relux"],
        "dlrun: error: model.activation must be one of 'relu', 'tanh', 'sigmoid', 'gelu', "
        "'leaky_relu', 'elu', got 'relux'. Did you mean 'relu'?",
    ),
    (
        ["model.hidden=${nonexistent}"],
        "dlrun: error: model.hidden: the interpolation ${nonexistent} names no config key 'nonexistent'.",
    ),
    (
        ["model.hidden=${oc.env:DLRUN_NO_SUCH_VARIABLE}"],
        "dlrun: error: model.hidden: cannot resolve ${oc.env:DLRUN_NO_SUCH_VARIABLE}: ",
    ),
    (["trainer.max_epochs=${trainer.batch_siz}"], "Did you mean 'trainer.batch_size'?"),
    (["task.loss=hinge"], "dlrun: error: unknown loss 'hinge'. Known losses: bce, cross_entropy, huber, mae, mse."),
    (["task.metrics=[acuracy]"], "dlrun: error: unknown metric 'acuracy'."),
    (["trainer.resume=missing/last.pt"], "dlrun: error: checkpoint file not found: missing/last.pt"),
    (["plugins=[no_such_module]"], "dlrun: error: cannot import plugin module 'no_such_module'"),
]


# More bad overrides, one per kind of key and check: every one is exactly this one line, before any run directory.
FUZZ = [
    ("trainer.max_epochs=1.5", "trainer.max_epochs must be an integer, got 1.5 (float)"),
    ("trainer.grad_clip=-1", "trainer.grad_clip must be > 0, got -1"),
    ("trainer.early_stopping.patience=-2", "trainer.early_stopping.patience must be >= 0, got -2"),
    (
        "trainer.early_stopping.mode=maxx",
        "trainer.early_stopping.mode must be one of 'auto', 'min', 'max', got 'maxx'. Did you mean 'max'?",
    ),
    (
        "trainer.early_stopping.monitr=val/loss",
        "unknown config key 'trainer.early_stopping.monitr'. Did you mean 'trainer.early_stopping.monitor'?",
    ),
    ("device.type=tpu", "device.type must be one of 'auto', 'cpu', 'cuda', 'mps', got 'tpu'. Did you mean 'cpu'?"),
    ("device.count=0", "device.count must be >= 1, got 0"),
    ("cv.repeats=0", "cv.repeats must be >= 1, got 0"),
    ("logger=wandb", "unknown logger 'wandb'. Known: mlflow, none, tensorboard."),
    ("plots.nonexistent=1", "unknown config key 'plots.nonexistent'."),
    ("model.hidden=abc", "model.hidden must be a list of integers, got 'abc' (str)"),
    ("model.hidden=[64,-1]", "model.hidden must be >= 1, got [64, -1]"),
    ("model.dropout=1.5", "model.dropout must be in [0, 1), got 1.5"),
    ("optimizer.betas=[0.9]", "optimizer.betas must be a list of 2 numbers, got [0.9] (list)"),
    (
        "scheduler=stepp",
        "unknown scheduler 'stepp'. Known: cosine, none, reduce_on_plateau, step. Did you mean 'step'?",
    ),
    ("dataset.split=0.2", "dataset.split must be a mapping (Split), got 0.2 (float)"),
    ("seed=abc", "seed must be an integer, got 'abc' (str)"),
    ("seed=${dataset.nope}", "seed: the interpolation ${dataset.nope} names no config key 'dataset.nope'."),
    ("hydra.run.dir=${nope}", "hydra.run.dir: the interpolation ${nope} names no config key 'nope'."),
    (
        "name=${oc.env:DLRUN_NOPE}",
        "name: cannot resolve ${oc.env:DLRUN_NOPE}: KeyError raised while resolving "
        "interpolation: \"Environment variable 'DLRUN_NOPE' not found\"",
    ),
    ("trainer.max_epochs=[1,2", "cannot parse the override: no viable alternative at input '[1,2'"),
    (
        "callbacks=[{name:nope}]",
        # <CALLBACKS>: the registry's names at test time (other in-process tests register their own)
        "unknown callback 'nope'. Known callbacks: <CALLBACKS>.",
    ),
    ("task.metrics=accuracy", "task.metrics must be a list of strings or null, got 'accuracy' (str)"),
    ("dataset.path=x.csv", "unknown config key 'dataset.path'."),
    ("baselines.max_rows=0", "baselines.max_rows must be >= 1, got 0"),
]


@pytest.mark.parametrize("override,message", FUZZ, ids=[o for o, _ in FUZZ])
def test_every_kind_of_bad_override_is_exactly_one_line(cli, tmp_path, override, message):
    message = message.replace("<CALLBACKS>", ", ".join(CALLBACKS.names()))
    result = cli("train", override)
    assert_one_line_error(result, message, tmp_path)
    assert result.stderr.strip() == f"dlrun: error: {message}"
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_config_is_one_line_and_exit_2(cli, tmp_path, args, message):
    assert_one_line_error(cli("train", *args), message, tmp_path)


def test_debug_shows_the_traceback(cli):
    result = cli("--debug", "train", "optimizer.lr=0")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "optimizer.lr must be > 0" in result.stderr


def test_corrupt_checkpoint(cli, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint")
    for args in (["eval", str(bad)], ["train", f"trainer.resume={bad}"]):
        result = cli(*args)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"dlrun: error: cannot read checkpoint {bad}: the file is corrupt or "
            "truncated (not a PyTorch checkpoint archive)"
        )


def test_checkpoint_that_does_not_match_the_model(cli, tmp_path):
    first = cli("train", "dataset=iris", "trainer.max_epochs=1", "model.hidden=[8]", "hydra.run.dir=a")
    assert first.returncode == 0, first.stderr
    for args in (
        ["train", "dataset=iris", "model.hidden=[16]", f"trainer.resume={tmp_path / 'a'}", "hydra.run.dir=b"],
        ["eval", str(tmp_path / "a"), "model.hidden=[16]"],
    ):
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        line = result.stderr.strip()
        assert "\n" not in line
        assert line.startswith(f"dlrun: error: checkpoint {tmp_path / 'a' / 'checkpoints'}")
        assert "does not match the configured model: size mismatch for net.1.weight" in line
    assert not (tmp_path / "b" / "metrics.json").exists()


def test_missing_run_directory_for_eval(cli, tmp_path):
    result = cli("eval", "no/such/run")
    assert result.returncode == 2
    assert result.stderr.strip() == "dlrun: error: checkpoint file not found: no/such/run"


def test_monitor_that_is_not_logged(cli):
    result = cli("train", "trainer.early_stopping.monitor=val/acc", "trainer.early_stopping.patience=2")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "dlrun: error: trainer.early_stopping.monitor 'val/acc' is not logged by this run; logged: train/loss"
    )
