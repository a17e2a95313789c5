"""trainer.ema and trainer.swa: the averaged weights are what the hand computation says, validation, test and the
checkpoints use them, `dlrun eval` agrees with metrics.json, and a killed run resumes to the same metrics.json."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import KILLER, train_in_process, without_times
from dlrun.callbacks import CALLBACKS, Callback

RECORDED: dict[str, list] = {}


@CALLBACKS.register("record_weights")
class RecordWeights(Callback):
    """Test plugin: the model's weights after every optimizer step, at the end of each training pass (before
    validation, after any averaging callback swapped its weights in), at each epoch's end and start."""

    priority = 60

    def on_fit_start(self, trainer):
        RECORDED.clear()
        RECORDED.update(steps=[], steps_per_epoch=[], train_end=[], epoch_end=[], epoch_start=[])

    def _weights(self, trainer):
        return {k: v.detach().clone() for k, v in trainer.task.net("model").state_dict().items()}

    def on_after_optimizer_step(self, trainer, optimizer, module):
        RECORDED["steps"].append(self._weights(trainer))

    def on_epoch_start(self, trainer, epoch):
        RECORDED["epoch_start"].append(self._weights(trainer))

    def on_train_epoch_end(self, trainer, epoch, logs):
        RECORDED["steps_per_epoch"].append(len(RECORDED["steps"]))
        RECORDED["train_end"].append(self._weights(trainer))

    def on_epoch_end(self, trainer, epoch, logs):
        RECORDED["epoch_end"].append(self._weights(trainer))


IRIS = ["dataset=iris", "trainer.batch_size=32", "seed=3", "callbacks=[record_weights]", "plots.enabled=false"]


def hand_ema(trajectory: list[dict], decay: float) -> dict:
    """EMA_1 = w_1, EMA_t = decay * EMA_{t-1} + (1 - decay) * w_t (AveragedModel starts at the first step's)."""
    ema = {k: v.clone().double() for k, v in trajectory[0].items()}
    for weights in trajectory[1:]:
        ema = {k: decay * ema[k] + (1 - decay) * weights[k].double() for k in ema}
    return ema


def assert_close(a: dict, b: dict, atol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].double(), b[k].double(), atol=atol), k


def load(path):
    from dlrun.rundir.checkpoints import load_checkpoint

    return load_checkpoint(path)


def test_ema_weights_are_the_moving_average_of_the_weight_trajectory(tmp_path):
    _, metrics = train_in_process(
        [*IRIS, "trainer.max_epochs=3", "trainer.ema=true", "trainer.ema_decay=0.7"], tmp_path
    )
    steps, per_epoch = RECORDED["steps"], RECORDED["steps_per_epoch"]
    assert len(steps) == 3 * 4 and per_epoch == [4, 8, 12]  # 108 training rows, batches of 32
    state = load(tmp_path / "checkpoints" / "last.pt")
    # the checkpoint's model weights are the EMA of every step's weights; the raw ones wait in the callback state
    assert_close(state["task"]["models"]["model"], hand_ema(steps, 0.7))
    assert_close(state["trainer"]["callbacks"]["EMA"]["raw"]["model"], steps[-1], atol=0)
    assert int(state["trainer"]["callbacks"]["EMA"]["averaged"]["model"]["n_averaged"]) == 12
    assert metrics["weight_averaging"] == {"method": "ema", "decay": 0.7, "steps": {"model": 12}}
    for epoch, n in enumerate(per_epoch):
        # validated (and seen by every epoch-end callback): the EMA up to that epoch's last step
        assert_close(RECORDED["train_end"][epoch], hand_ema(steps[:n], 0.7))
        assert_close(RECORDED["epoch_end"][epoch], hand_ema(steps[:n], 0.7))
    for epoch in (1, 2):  # training goes on from the raw weights
        assert_close(RECORDED["epoch_start"][epoch], steps[per_epoch[epoch - 1] - 1], atol=0)
    assert metrics["history"][-1]["val/loss"] != pytest.approx(metrics["history"][-2]["val/loss"])


def test_ema_validation_test_and_eval_use_the_ema_weights(tmp_path, cli):
    _, metrics = train_in_process(
        [
            *IRIS,
            "trainer.max_epochs=4",
            "trainer.ema=true",
            "trainer.ema_decay=0.5",
            "trainer.early_stopping.patience=5",
        ],
        tmp_path / "run",
    )
    val = cli("eval", str(tmp_path / "run"), "--split", "val", "--checkpoint", "last", "--json")
    assert val.returncode == 0, val.stderr
    assert json.loads(val.stdout)["loss"] == pytest.approx(metrics["history"][-1]["val/loss"], rel=1e-6)
    test = cli("eval", str(tmp_path / "run"), "--json")  # final: best.pt (early stopping restored the best)
    assert test.returncode == 0, test.stderr
    result = json.loads(test.stdout)
    assert result["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-6)
    assert result["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    best = metrics["best"]["epoch"]
    # early stopping's best weights and best.pt are the EMA weights of the best epoch
    assert_close(
        load(tmp_path / "run" / "checkpoints" / "best.pt")["task"]["models"]["model"], RECORDED["epoch_end"][best - 1]
    )


def test_swa_weights_are_the_mean_of_the_epoch_end_weights(tmp_path, cli):
    _, metrics = train_in_process([*IRIS, "trainer.max_epochs=5", "trainer.swa=true", "trainer.swa_start=3"], tmp_path)
    # validation sees the raw weights; the final ones are the mean of the ends of epochs 3, 4 and 5
    raw = RECORDED["train_end"]
    mean = {k: sum(raw[e][k].double() for e in (2, 3, 4)) / 3 for k in raw[0]}
    state = load(tmp_path / "checkpoints" / "last.pt")
    assert_close(state["task"]["models"]["model"], mean)
    assert_close(state["trainer"]["callbacks"]["SWA"]["raw"]["model"], raw[-1], atol=0)
    assert int(state["trainer"]["callbacks"]["SWA"]["averaged"]["model"]["n_averaged"]) == 3
    assert metrics["weight_averaging"] == {"method": "swa", "epochs": [3, 5], "swa_lr": None}
    result = cli("eval", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-6)


def test_swa_recomputes_batch_norm_statistics_over_the_training_data(tmp_path):
    from dlrun.evaluate import rebuild_split

    overrides = [*IRIS, "trainer.max_epochs=4", "trainer.swa=true", "trainer.swa_start=0.5", "model.batchnorm=true"]
    train_in_process(overrides, tmp_path)
    run, data, _ = rebuild_split(tmp_path, [], "train", prefer="last")
    weights = run.task.net("model").state_dict()
    raw = RECORDED["train_end"]
    linear = next(k for k in weights if k.endswith(".weight") and weights[k].dim() == 2)
    assert torch.allclose(weights[linear], (raw[2][linear] + raw[3][linear]) / 2, atol=1e-6)  # epochs 3 and 4
    bias = linear.replace("weight", "bias")
    means, variances = [], []
    for x, _ in data.batches("train", 32):  # by hand: each batch's statistics of the first layer's outputs, averaged
        h = x @ weights[linear].T + weights[bias]
        means.append(h.mean(0))
        variances.append(h.var(0, unbiased=True))
    norm = next(k for k in weights if k.endswith("running_mean"))
    assert torch.allclose(weights[norm], torch.stack(means).mean(0), atol=1e-5)
    assert torch.allclose(weights[norm.replace("mean", "var")], torch.stack(variances).mean(0), atol=1e-5)
    assert not torch.allclose(weights[norm], raw[-1][norm], atol=1e-3)  # not the raw run's statistics


def test_swa_lr_anneals_the_learning_rate_with_swalr(tmp_path):
    overrides = [*IRIS, "trainer.max_epochs=5", "trainer.swa=true", "trainer.swa_start=2", "optimizer.lr=0.001"]
    overrides += ["scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5"]
    _, metrics = train_in_process([*overrides, "trainer.swa_lr=0.01", "trainer.swa_anneal_epochs=2"], tmp_path / "a")
    # epoch 1 at 0.001, the step scheduler halves it once; from epoch 2 SWALR anneals (cosine) to 0.01 in 2 steps
    start = 0.0005
    expected = [0.001, start, 0.5 * start + 0.5 * 0.01, 0.01, 0.01]
    assert [row["lr"] for row in metrics["history"]] == pytest.approx(expected, rel=1e-9)
    _, at_once = train_in_process([*overrides, "trainer.swa_lr=0.02", "trainer.swa_anneal_epochs=0"], tmp_path / "b")
    assert [row["lr"] for row in at_once["history"]] == pytest.approx([0.001, 0.02, 0.02, 0.02, 0.02], rel=1e-9)


def test_weight_averaging_config_errors(cli, tmp_path):
    from conftest import assert_one_line_error

    both = cli("train", "dataset=iris", "trainer.ema=true", "trainer.swa=true")
    assert_one_line_error(both, "trainer.swa and trainer.ema cannot both be on", tmp_path)
    restore = cli("train", "dataset=iris", "trainer.swa=true", "trainer.early_stopping.patience=3")
    assert_one_line_error(restore, "set trainer.early_stopping.restore_best=false", tmp_path)
    decay = cli("train", "dataset=iris", "trainer.ema=true", "trainer.ema_decay=1")
    assert_one_line_error(decay, "trainer.ema_decay", tmp_path)
    start = cli("train", "dataset=iris", "trainer.swa=true", "trainer.swa_start=2.5")
    assert_one_line_error(start, "trainer.swa_start must be an epoch number", tmp_path)
    late = cli("train", "dataset=iris", "trainer.swa=true", "trainer.swa_start=12", "trainer.max_epochs=10")
    assert_one_line_error(
        late, "trainer.swa_start=12 is after trainer.max_epochs=10: no epoch would be averaged", tmp_path
    )


COMMON = [
    "dataset=wine",
    "model.hidden=[32]",
    "model.dropout=0.3",
    "trainer.max_epochs=6",
    "trainer.batch_size=16",
    "trainer.checkpoint.save_top_k=2",
    "trainer.checkpoint.every_n_epochs=2",
    "seed=7",
    "plots.enabled=false",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "averaging",
    [
        ["trainer.ema=true", "trainer.ema_decay=0.8"],
        ["trainer.swa=true", "trainer.swa_start=3", "model.batchnorm=true", "trainer.swa_lr=0.01"],
    ],
    ids=["ema", "swa"],
)
def test_killed_and_resumed_run_with_weight_averaging_matches(averaging, cli, cli_subprocess, tmp_path):
    (tmp_path / "killer.py").write_text(KILLER)
    args = [*COMMON, *averaging]
    full = cli("train", *args, "hydra.run.dir=full")
    assert full.returncode == 0, full.stderr
    killed = cli_subprocess(
        "train", *args, "hydra.run.dir=resumed", "plugins=[killer]", "callbacks=[{name: kill_at, epoch: 5}]"
    )
    assert killed.returncode != 0
    resumed = cli("train", *args, "hydra.run.dir=resumed", "trainer.resume=auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert without_times(a) == without_times(b)
    assert len(a["checkpoints"]) == 2 + 3
    names = sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir())
    for name in names:  # the same weights in every kept file (the averaged ones where they are the model's)
        x, y = (load(tmp_path / run / "checkpoints" / name)["task"]["models"]["model"] for run in ("full", "resumed"))
        assert_close(x, y, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "averaging",
    [["trainer.ema=true"], ["trainer.swa=true", "trainer.swa_start=2", "model.batchnorm=true"]],
    ids=["ema", "swa"],
)
def test_two_processes_average_the_same_weights(averaging, cli, cli_subprocess, tmp_path):
    """Under DDP every rank averages the same weights (SWA's batch-norm statistics are averaged over the ranks'
    shares), only rank 0 writes, and one process evaluating the final checkpoint gets metrics.json's test figures."""
    args = ["dataset=digits", "device.type=cpu", "trainer.max_epochs=3", "model.hidden=[32]", "logger=none"]
    args += ["trainer.checkpoint.save_top_k=2", "plots.enabled=false", *averaging]
    result = cli_subprocess("train", *args, "device.count=2", "hydra.run.dir=ddp")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    kept = sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir() if p.name.startswith("epoch="))
    assert kept == sorted(e["path"].removeprefix("checkpoints/") for e in metrics["checkpoints"]) and len(kept) == 2
    evaluated = cli("eval", "ddp", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    test = json.loads(evaluated.stdout)
    assert test["loss"] == pytest.approx(metrics["test"]["loss"], abs=1e-5)
    assert test["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_ema_on_a_gan_averages_each_network_after_its_own_steps(tmp_path):
    import numpy as np

    from test_generative import cgan_args
    from test_images import learnable_images, write_idx

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "train", *learnable_images(200, rng))
    write_idx(tmp_path / "data" / "MNIST" / "raw", "t10k", *learnable_images(50, rng))
    train_in_process([*cgan_args(tmp_path / "data"), "trainer.max_epochs=1", "trainer.ema=true"], tmp_path / "run")
    state = load(tmp_path / "run" / "checkpoints" / "last.pt")
    averaged = state["trainer"]["callbacks"]["EMA"]["averaged"]
    d_steps, g_steps = int(averaged["discriminator"]["n_averaged"]), int(averaged["generator"]["n_averaged"])
    assert g_steps > 1 and d_steps == 2 * g_steps  # task.d_steps=2: each average moves after its network's steps
    for name in ("generator", "discriminator"):  # the checkpoint's weights are the averages
        ema = {k.removeprefix("module."): v for k, v in averaged[name].items() if k != "n_averaged"}
        assert_close(state["task"]["models"][name], ema, atol=0)
