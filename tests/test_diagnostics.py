"""Training-health signals (trainer.diagnostics) and the random-label experiment (sanity.shuffle_labels)."""

import math

import pytest
import torch
from torch import nn

from conftest import train_in_process, without_times
from dlrun.callbacks.diagnostics import Diagnostics
from dlrun.rundir import DIAGNOSTICS_COLUMNS, RunDir

FAST = ["trainer.max_epochs=3", "plots.enabled=false"]


def _by_epoch(rows):
    out = {}
    for r in rows:
        out.setdefault(r["epoch"], {})[r["layer"]] = r
    return out


def test_digits_run_records_every_layer_every_epoch_in_csv_png_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from conftest import run_cli_in_process

    result = run_cli_in_process("train", "trainer.max_epochs=3", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = RunDir(tmp_path / "run")
    rows = run.read_diagnostics()
    epochs = _by_epoch(rows)
    assert sorted(epochs) == [1, 2, 3]
    for layers in epochs.values():
        assert list(layers) == ["model.net.1", "model.net.3"]  # digits_mlp: Linear -> ReLU -> Linear
        for r in layers.values():
            assert r["kind"] == "Linear" and r["params"] > 0
            for key in ("grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std"):
                assert math.isfinite(r[key]), (key, r)
            assert 0 < r["update_ratio"] < 0.5
        assert layers["model.net.1"]["dead_fraction"] < 0.2  # a healthy net: few or no dead units
        assert layers["model.net.3"]["dead_fraction"] is None  # the output layer feeds no ReLU
    assert list(rows[0]) == list(DIAGNOSTICS_COLUMNS)
    assert run.diagnostics_plot.stat().st_size > 10_000
    acc = EventAccumulator(str(run.path / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for signal in ("grad_norm", "weight_norm", "update_ratio", "dead_fraction", "act_mean", "act_std"):
        assert f"diagnostics/model.net.1/{signal}" in tags
    assert [e.step for e in acc.Scalars("diagnostics/model.net.1/grad_norm")] == [1, 2, 3]


def test_dead_fraction_of_a_layer_whose_bias_kills_every_unit():
    from dlrun.tasks.base import Task

    task = Task()
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        net[0].bias.fill_(-100.0)  # every unit of the first layer negative on any input of this scale
        net[2].bias[:2].fill_(-100.0)  # two of eight units of the second layer dead
        net[2].bias[2:].fill_(100.0)
    task.models["model"] = net
    task.train(True)
    diag = Diagnostics()
    diag.on_fit_start(type("T", (), {"task": task, "batch_size": 4, "data": None})())
    diag.sample = [{"model": (torch.randn(64, 3),)}]
    stats = diag.activation_stats(task)
    assert stats["model.0"]["dead_fraction"] == 1.0
    assert stats["model.2"]["dead_fraction"] == 0.25
    assert "dead_fraction" not in stats["model.4"]
    assert stats["model.0"]["act_mean"] == pytest.approx(-100, abs=5)
    assert net.training  # the train mode is restored


def test_conv_channels_count_as_units():
    from dlrun.callbacks.diagnostics import relu_owners, unit_dim

    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    assert list(relu_owners(net, "m")) == ["m.1"]  # the batch norm feeds the ReLU
    assert unit_dim(net[1], torch.zeros(2, 4, 5, 5)) == 1


def test_xor_net_with_default_init_has_dead_units(tmp_path):
    """The book's 4-unit ReLU XOR net with PyTorch's default init (the recipe's seed 1): a quarter of the
    second hidden layer never fires on the training points."""
    train_in_process(["+experiment=xor_mlp", "model.init=default", "trainer.max_epochs=5", *FAST[1:]], tmp_path)
    last = _by_epoch(RunDir(tmp_path).read_diagnostics())[5]
    assert max(r["dead_fraction"] or 0 for r in last.values()) >= 0.25


def test_diagnostics_change_nothing_and_switch_off(tmp_path):
    _, on = train_in_process(["model.dropout=0.3", *FAST], tmp_path / "on")
    _, off = train_in_process(["model.dropout=0.3", "trainer.diagnostics.enabled=false", *FAST], tmp_path / "off")
    assert without_times(on) == without_times(off)  # no RNG drawn, no train-mode change, no extra step
    assert RunDir(tmp_path / "on").diagnostics.is_file()
    assert not RunDir(tmp_path / "off").diagnostics.exists()


def test_resumed_run_keeps_the_rows_of_earlier_epochs(tmp_path):
    train_in_process(
        ["dataset=iris", "trainer.max_epochs=2", "trainer.diagnostics.grad_every_n_steps=2", "plots.enabled=false"],
        tmp_path / "a",
    )
    train_in_process(
        [
            "dataset=iris",
            "trainer.max_epochs=4",
            "trainer.diagnostics.grad_every_n_steps=2",
            f"trainer.resume={tmp_path / 'a'}",
        ],
        tmp_path / "b",
    )
    first = RunDir(tmp_path / "a").read_diagnostics()
    resumed = RunDir(tmp_path / "b").read_diagnostics()
    assert sorted(_by_epoch(resumed)) == [1, 2, 3, 4]
    assert resumed[: len(first)] == first


def test_every_fold_gets_its_own_diagnostics(tmp_path):
    train_in_process(["dataset=iris", "cv.folds=2", "trainer.max_epochs=2", "plots.enabled=false"], tmp_path)
    for k in (0, 1):
        assert sorted(_by_epoch(RunDir(tmp_path).fold(k).read_diagnostics())) == [1, 2]


def test_shuffled_labels_are_memorized_but_do_not_generalize(tmp_path):
    _, metrics = train_in_process(
        [
            "sanity.shuffle_labels=true",
            "model.hidden=[256]",
            "optimizer.lr=0.003",
            "trainer.max_epochs=40",
            "trainer.diagnostics.enabled=false",
            "plots.enabled=false",
        ],
        tmp_path,
    )
    history = metrics["history"]
    assert history[0]["train/accuracy"] < 0.2
    assert history[-1]["train/accuracy"] > 0.8  # memorized noise
    assert sum(r["val/accuracy"] for r in history[-5:]) / 5 < 0.2  # 10 classes: chance is 0.1


def test_shuffled_labels_are_seeded_and_leave_validation_alone():
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.sanity.labels import apply_sanity

    cfg = compose(["sanity.shuffle_labels=true"])
    data = build_data(cfg)
    a, b = apply_sanity(cfg, data), apply_sanity(cfg, build_data(cfg))
    assert torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.train.y, data.train.y)
    assert torch.equal(torch.bincount(a.train.y), torch.bincount(data.train.y))  # a permutation
    assert torch.equal(a.train.x, data.train.x) and torch.equal(a.val.y, data.val.y)
    assert apply_sanity(compose([]), data) is data
    regression = compose(["dataset=diabetes", "sanity.shuffle_labels=true"])  # numeric targets are permuted too
    plain = build_data(regression)
    shuffled = apply_sanity(regression, plain).train.y
    assert not torch.equal(shuffled, plain.train.y) and torch.equal(
        shuffled.sort(dim=0).values, plain.train.y.sort(dim=0).values
    )


def test_shuffled_labels_need_one_label_per_row(tmp_path):
    from dlrun.errors import ConfigError

    with pytest.raises(ConfigError, match="sanity.shuffle_labels needs a task with one label per row"):
        train_in_process(["dataset=tagged_text", "sanity.shuffle_labels=true", "trainer.max_epochs=1"], tmp_path)
