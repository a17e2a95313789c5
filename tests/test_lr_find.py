"""The learning-rate range test: `dlrun lr-find` and `optimizer.lr=auto` (issue 13)."""

import json
import math

import pytest
import torch

from conftest import assert_one_line_error, train_in_process
from dlrun.lr_find import LRFindConfig
from dlrun.lr_find.range_test import cycle, learning_rates, suggest, sweep
from dlrun.rundir import RunDir

RECIPE_LR = 1e-3  # experiments/digits_mlp.yaml uses Adam's default rate


def test_digits_with_adam_suggests_a_rate_within_10x_of_the_recipe(cli, tmp_path):
    result = cli("lr-find", "+experiment=digits_mlp", "hydra.run.dir=found")
    assert result.returncode == 0, result.stderr
    found = RunDir(tmp_path / "found").read_lr_find()
    assert found is not None and (tmp_path / "found" / "lr_find.png").stat().st_size > 10_000
    assert {"suggestion", "lrs", "losses", "smoothed", "stopped", "steps", "settings"} <= set(found)
    assert RECIPE_LR / 10 <= found["suggestion"] <= RECIPE_LR * 10, found["suggestion"]
    assert len(found["lrs"]) == len(found["losses"]) == len(found["smoothed"]) == found["steps"] <= 100
    lrs = found["lrs"]
    assert lrs[0] == pytest.approx(1e-7) and all(a < b for a, b in zip(lrs, lrs[1:], strict=False))
    assert found["settings"]["suggestion"] == "minimum"
    rate = f"{found['suggestion']:.1e}"
    assert f"suggested learning rate {rate}: dlrun train +experiment=digits_mlp optimizer.lr={rate}" in result.stdout


class _BowlTask:
    """A stand-in task whose loss depends only on the rate: flat, then a dip, then an explosion past lr 1."""

    accumulate = 1  # batches per optimizer step, as Task.accumulate

    def __init__(self):
        self.param = torch.nn.Parameter(torch.zeros(1))
        self.optimizers = {"model": torch.optim.SGD([self.param], lr=1.0)}

    def train(self, mode=True):
        pass

    def training_step(self, batch):
        lr = self.optimizers["model"].param_groups[0]["lr"]
        return {"loss": torch.tensor(2.0 - math.exp(-((math.log10(lr) + 2) ** 2)) + (100 * lr if lr > 1 else 0))}


def test_the_curve_stops_when_the_loss_diverges():
    settings = LRFindConfig(min_lr=1e-5, max_lr=1e3, num_steps=80, smoothing=0.5, skip_start=2)
    curve = sweep(_BowlTask(), iter(range(10_000)), settings)
    assert curve["stopped"] == "diverged"
    assert len(curve["lrs"]) < 80 and curve["lrs"][-1] > 1  # stopped soon after lr 1, well before 1e3
    assert curve["smoothed"][-1] > settings.diverge_factor * min(curve["smoothed"][:-1])
    # the dip is at lr 1e-2: the minimum rule suggests a tenth of it, the steepest descent lies just before it
    assert suggest(curve["lrs"], curve["smoothed"], settings) == pytest.approx(1e-3, rel=0.5)
    steepest = suggest(curve["lrs"], curve["smoothed"], LRFindConfig(**{**vars(settings), "suggestion": "steepest"}))
    assert 1e-4 < steepest < 1e-2
    assert learning_rates(settings)[-1] == pytest.approx(1e3)


def test_cycle_restarts_the_training_split():
    class Two:
        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):
            return iter([(self.epoch, 0), (self.epoch, 1)])

    assert [next(it) for it in [cycle(Two())] for _ in range(5)] == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]


def test_lr_auto_trains_with_the_suggestion_and_records_it(tmp_path):
    overrides = [
        "+experiment=digits_mlp",
        "optimizer.lr=auto",
        "trainer.max_epochs=2",
        "lr_find.min_lr=1e-5",
        "lr_find.max_lr=1",
        "lr_find.num_steps=40",
        "lr_find.skip_start=5",
    ]
    _, metrics = train_in_process(overrides, tmp_path)
    found = json.loads((tmp_path / "lr_find.json").read_text())
    lr = found["suggestion"]
    assert 1e-5 < lr < 1 and (tmp_path / "lr_find.png").is_file()
    assert metrics["lr_find"]["suggestion"] == lr
    assert [row["lr"] for row in metrics["history"]] == [pytest.approx(lr)] * 2
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["config"]["optimizer"]["lr"] == lr  # the checkpoint holds the rate it trained with
    # the same run as `dlrun train optimizer.lr=<suggestion>`: the range test leaves no trace in the weights
    _, manual = train_in_process([*overrides[:1], f"optimizer.lr={lr}", "trainer.max_epochs=2"], tmp_path / "manual")
    assert manual["history"][-1]["val/loss"] == pytest.approx(metrics["history"][-1]["val/loss"], rel=1e-6)


BAD = [
    (["train", "optimizer.lr=fast"], "optimizer.lr must be a number or one of 'auto', got 'fast'"),
    (["lr-find", "lr_find.min_lr=1", "lr_find.max_lr=0.1"], "lr_find.min_lr must be < lr_find.max_lr, got 1 >= 0.1"),
    (["lr-find", "lr_find.num_steps=1"], "lr_find.num_steps must be >= 2, got 1"),
    (["lr-find", "lr_find.smoothing=1"], "lr_find.smoothing must be in [0, 1), got 1"),
    (["lr-find", "lr_find.diverge_factor=0.5"], "lr_find.diverge_factor must be > 1, got 0.5"),
    (["lr-find", "lr_find.suggestion=steep"], "Did you mean 'steepest'?"),
    (["lr-find", "lr_find.skip_start=99"], "lr_find.skip_start + lr_find.skip_end must leave at least 2"),
    (["train", "optimizer.lr=auto", "device.count=2"], "optimizer.lr=auto runs in one process"),
    (
        ["train", "+experiment=mnist_gan", "task.generator_optimizer.lr=auto"],
        "task.generator_optimizer.lr=auto is not supported",
    ),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_lr_find_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    assert_one_line_error(cli(*args), message, tmp_path)
    assert not list(tmp_path.glob("outputs/**/lr_find.json"))
