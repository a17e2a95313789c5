"""trainer.accumulate_grad_batches and the schedulers stepped per optimizer step (warmup_cosine, linear_warmup,
onecycle): the same weights as one big batch, the steps an epoch takes, the learning rate of every step."""

import copy
import json
import math
import textwrap

import numpy as np
import pytest
import torch

from conftest import KILLER, train_in_process, without_times
from dlrun.config import compose
from dlrun.datasets import build_data
from dlrun.datasets.batches import epoch_permutation

PROBES = textwrap.dedent('''
    import copy

    from dlrun.callbacks import CALLBACKS, Callback


    @CALLBACKS.register("record_steps")
    class RecordSteps(Callback):
        """The network when training starts, and per optimizer step its epoch, learning rate and momentum."""
        start = None
        steps = []

        def on_fit_start(self, trainer):
            RecordSteps.start = copy.deepcopy(trainer.task.net("model"))
            RecordSteps.steps = []

        def on_before_optimizer_step(self, trainer, optimizer, module):
            group = optimizer.param_groups[0]
            momentum = group["betas"][0] if "betas" in group else group.get("momentum")
            RecordSteps.steps.append((trainer.epoch, group["lr"], momentum))
''')

# SGD on an MLP without dropout or batch norm: one step on a batch is a function of its rows only
XOR = ["dataset=xor", "model.hidden=[16]", "optimizer=sgd", "optimizer.lr=0.5", "plots.enabled=false"]


@pytest.fixture
def probes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "accum_probes.py").write_text(PROBES)
    monkeypatch.syspath_prepend(str(tmp_path))

    def run(overrides: list[str], name: str):
        import accum_probes as module

        _, metrics = train_in_process(
            [*overrides, "plugins=[accum_probes]", "callbacks=[record_steps]"], tmp_path / name
        )
        return metrics, module.RecordSteps.start, list(module.RecordSteps.steps)

    return run


def weights(run_dir) -> dict[str, torch.Tensor]:
    from dlrun.rundir.checkpoints import load_checkpoint

    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["task"]["models"]["model"]


def assert_same_weights(a: dict, b: dict, atol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=atol, rtol=0), (key, (a[key] - b[key]).abs().max())


def hand_computed(net, overrides: list[str], batch: int, accumulate: int, lr: float, epochs: int = 1) -> dict:
    """Plain SGD on `net`: each epoch's permutation in batches of `batch`, `accumulate` of them per step, each
    step's gradient the mean of its batches' mean losses (a last partial group: the mean of the batches it has)."""
    cfg = compose(["logger=none", *overrides])
    data = build_data(cfg)
    assert data.transform is None
    x, y = data.train.x, data.train.y
    net = copy.deepcopy(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        order = epoch_permutation(len(x), cfg.seed, epoch)
        batches = [order[lo : lo + batch] for lo in range(0, len(order), batch)]
        for lo in range(0, len(batches), accumulate):
            group = batches[lo : lo + accumulate]
            optimizer.zero_grad()
            for rows in group:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[rows]).squeeze(-1), y[rows])
                (loss / len(group)).backward()
            optimizer.step()
    return net.state_dict()


def test_batch_8_accumulated_4_times_trains_the_weights_of_batch_32(probes, tmp_path):
    # 100 training rows: 13 batches of 8 (the last one 4 rows), so 4 optimizer steps, the last on 4 rows alone,
    # as the batch-32 run's last batch; 2 epochs
    common = [*XOR, "trainer.max_epochs=2"]
    big, start, big_steps = probes([*common, "trainer.batch_size=32"], "big")
    small, start_small, small_steps = probes(
        [*common, "trainer.batch_size=8", "trainer.accumulate_grad_batches=4"], "small"
    )
    assert_same_weights(start.state_dict(), start_small.state_dict(), atol=0)
    assert_same_weights(weights(tmp_path / "big"), weights(tmp_path / "small"))
    assert [s[0] for s in small_steps] == [1] * 4 + [2] * 4 == [s[0] for s in big_steps]
    for a, b in zip(big["history"], small["history"], strict=True):  # each row's loss at the same weights
        assert a["train/loss"] == pytest.approx(b["train/loss"], abs=1e-6)
        assert a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-6)
        assert a["train_samples"] == b["train_samples"] == 100
    reference = hand_computed(start, common, batch=8, accumulate=4, lr=0.5, epochs=2)
    assert_same_weights(weights(tmp_path / "small"), reference)
    # diagnostics sample optimizer steps (the first of each epoch), not batches: the same gradient norms
    norms = [
        [float(row.split(",")[4]) for row in (tmp_path / run / "diagnostics.csv").read_text().splitlines()[1:]]
        for run in ("big", "small")
    ]
    assert len(norms[0]) == 4 and norms[0] == pytest.approx(norms[1], abs=1e-6)


def test_a_last_partial_accumulation_steps_on_the_mean_of_its_batches(probes, tmp_path):
    # 106 training rows: 14 batches of 8 (the last one 2 rows): steps of 4, 4, 4 and 2 batches (8 + 2 rows)
    common = [*XOR, "dataset.n_samples=212", "trainer.max_epochs=1"]
    _, start, steps = probes([*common, "trainer.batch_size=8", "trainer.accumulate_grad_batches=4"], "ragged")
    assert len(steps) == 4
    reference = hand_computed(start, common, batch=8, accumulate=4, lr=0.5)
    assert_same_weights(weights(tmp_path / "ragged"), reference)
    # not the same as one batch of the last 10 rows (that weighs rows, not batches)
    rows = hand_computed(start, common, batch=32, accumulate=1, lr=0.5)
    assert max(float((rows[k] - reference[k]).abs().max()) for k in rows) > 1e-4


def test_optimizer_steps_follow_the_debug_limits(probes):
    # 13 batches of 8; limit 7 -> 4 steps per epoch (3 of 2 batches and 1 of 1); overfit 3 -> 2; fast -> 1
    for extra, per_epoch, epochs in (
        (["trainer.limit_train_batches=7", "trainer.max_epochs=2"], 4, 2),
        (["trainer.overfit_batches=3", "trainer.overfit_epochs=2"], 2, 2),
        (["trainer.fast_dev_run=true"], 1, 1),
    ):
        _, _, steps = probes(
            [*XOR, "trainer.batch_size=8", "trainer.accumulate_grad_batches=2", "scheduler=onecycle", *extra],
            "limits_" + extra[0].split("=")[0].split(".")[1],
        )
        assert [s[0] for s in steps] == [e for e in range(1, epochs + 1) for _ in range(per_epoch)], extra


def warmup_cosine(step: int, base: float, warmup: int, total: int, eta_min: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return eta_min + (base - eta_min) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def test_warmup_cosine_sets_the_rate_of_every_optimizer_step(probes):
    # iris: 108 training rows, 7 batches of 16, accumulated by 2: 4 steps per epoch, 16 in 4 epochs
    metrics, _, steps = probes(
        [
            "dataset=iris",
            "trainer.max_epochs=4",
            "trainer.batch_size=16",
            "trainer.accumulate_grad_batches=2",
            "scheduler=warmup_cosine",
            "scheduler.warmup_steps=3",
            "scheduler.eta_min=1e-5",
        ],
        "warmup_cosine",
    )
    lrs = [s[1] for s in steps]
    assert len(lrs) == 16
    assert lrs == pytest.approx([warmup_cosine(s, 1e-3, 3, 16, 1e-5) for s in range(16)], rel=1e-9)
    assert lrs[:4] == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3])
    assert [row["lr"] for row in metrics["history"]] == pytest.approx(lrs[::4])  # the rate an epoch starts with


def test_linear_warmup_in_epochs_then_constant(probes):
    # 7 steps per epoch (batch 16, no accumulation); 1.5 epochs = round(10.5) = 10 steps of warmup
    _, _, steps = probes(
        [
            "dataset=iris",
            "trainer.max_epochs=3",
            "trainer.batch_size=16",
            "scheduler=linear_warmup",
            "scheduler.warmup_epochs=1.5",
        ],
        "linear_warmup",
    )
    lrs = [s[1] for s in steps]
    assert lrs == pytest.approx([1e-3 * min(1.0, (s + 1) / 10) for s in range(21)], rel=1e-9)


def test_onecycle_follows_torch_over_the_whole_run(probes):
    _, _, steps = probes(
        [
            "dataset=iris",
            "trainer.max_epochs=3",
            "trainer.batch_size=16",
            "trainer.accumulate_grad_batches=3",  # 7 batches: steps of 3, 3 and 1 batches
            "optimizer=sgd",
            "optimizer.lr=0.1",
            "optimizer.momentum=0.9",
            "scheduler=onecycle",
        ],
        "onecycle",
    )
    assert len(steps) == 9
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=9)
    expected = []
    for _ in range(9):
        expected.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]))
        optimizer.step()
        sched.step()
    assert [x for s in steps for x in s[1:]] == pytest.approx([x for pair in expected for x in pair], rel=1e-12)
    assert steps[0][1] == pytest.approx(0.1 / 25) and 0.099 < max(s[1] for s in steps) <= 0.1
    assert steps[-1][1] < 0.1 / 25 / 1e3  # annealed far below the initial rate


def test_onecycle_peaks_at_the_rate_the_range_test_finds(probes):
    metrics, _, steps = probes(
        [
            "dataset=iris",
            "trainer.max_epochs=2",
            "optimizer.lr=auto",
            "lr_find.num_steps=30",
            "lr_find.skip_start=2",
            "scheduler=onecycle",
            "scheduler.pct_start=0.5",
        ],
        "onecycle_auto",
    )
    found = metrics["lr_find"]["suggestion"]
    assert max(s[1] for s in steps) == pytest.approx(found, rel=1e-9)


def test_accumulation_and_step_schedulers_refuse_what_they_cannot_do(cli):
    gan = cli("train", "+experiment=mnist_gan", "trainer.accumulate_grad_batches=2")
    assert gan.returncode == 2 and "Traceback" not in gan.stderr
    assert "trainer.accumulate_grad_batches must be 1" in gan.stderr
    auto = cli("train", "dataset=iris", "optimizer.lr=auto", "scheduler=onecycle", "scheduler.max_lr=0.1")
    assert auto.returncode == 2
    assert "leave scheduler.max_lr null" in auto.stderr
    long = cli("train", "dataset=iris", "scheduler=warmup_cosine", "scheduler.warmup_steps=500", "logger=none")
    assert long.returncode == 2
    assert long.stderr.strip().splitlines()[-1] == (
        "dlrun: error: scheduler=warmup_cosine: warmup_steps=500 is longer than the run's 120 optimizer steps "
        "(4 per epoch)"
    )
    adagrad = cli("train", "dataset=iris", "optimizer=adagrad", "scheduler=onecycle", "logger=none")
    assert adagrad.returncode == 2
    assert "set scheduler.cycle_momentum=false" in adagrad.stderr


def test_a_onecycle_run_cannot_be_extended_on_resume(cli):
    common = ["dataset=iris", "scheduler=onecycle", "logger=none", "plots.enabled=false"]
    first = cli("train", *common, "trainer.max_epochs=2", "hydra.run.dir=first")
    assert first.returncode == 0, first.stderr
    longer = cli("train", *common, "trainer.max_epochs=3", "trainer.resume=first", "hydra.run.dir=longer")
    assert longer.returncode == 2 and "Traceback" not in longer.stderr
    assert longer.stderr.strip().splitlines()[-1] == (
        "dlrun: error: the checkpoint's 1cycle schedule spans 8 optimizer steps and this run's 12: "
        "scheduler=onecycle cannot change its length on resume (trainer.max_epochs, batch_size or "
        "accumulate_grad_batches)"
    )


RESUMED = [
    "dataset=wine",
    "model.hidden=[32]",
    "model.dropout=0.3",
    "trainer.max_epochs=5",
    "trainer.batch_size=8",
    "trainer.accumulate_grad_batches=3",
    "scheduler=warmup_cosine",
    "scheduler.warmup_epochs=1.5",
    "seed=7",
]


@pytest.mark.slow
def test_killed_mid_accumulation_and_resumed_matches_the_uninterrupted_run(cli, cli_subprocess, tmp_path):
    (tmp_path / "killer.py").write_text(KILLER)
    full = cli("train", *RESUMED, "hydra.run.dir=full")
    assert full.returncode == 0, full.stderr
    killed = cli_subprocess(
        "train", *RESUMED, "hydra.run.dir=resumed", "plugins=[killer]", "callbacks=[{name: kill_at, epoch: 3, step: 5}]"
    )
    assert killed.returncode != 0 and not (tmp_path / "resumed" / "metrics.json").exists()
    resumed = cli("train", *RESUMED, "hydra.run.dir=resumed", "trainer.resume=auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout and "after epoch 2" in resumed.stdout
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert len(a["history"]) == 5 and len({row["lr"] for row in a["history"]}) == 5
    assert without_times(a) == without_times(b)


@pytest.mark.slow
def test_two_processes_accumulating_train_as_one_process_with_the_same_global_batch(cli_subprocess, tmp_path):
    # 2 processes x 8 rows x 2 batches = 32 rows per step, the same rows as one process's batch of 32 (the shards
    # interleave the permutation); 1294 rows: 40 steps of 32 and a last one of 2 x 7 rows (one process: 14)
    common = ["dataset=digits", "device.type=cpu", "trainer.max_epochs=2", "model.hidden=[32]", "logger=none"]
    ddp = cli_subprocess(
        "train",
        *common,
        "device.count=2",
        "device.keep_global_batch=true",
        "trainer.batch_size=16",
        "trainer.accumulate_grad_batches=2",
        "hydra.run.dir=ddp",
    )
    assert ddp.returncode == 0, ddp.stderr
    assert "effective batch 32 (batch_size 8 x 2 accumulated x 2 processes): 41 optimizer steps per epoch" in ddp.stdout
    _, single = train_in_process([*common, "trainer.batch_size=32"], tmp_path / "single")
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    for a, b in zip(metrics["history"], single["history"], strict=True):
        assert a["train_samples"] == b["train_samples"] == 1294
        assert a["train/loss"] == pytest.approx(b["train/loss"], abs=1e-5)
        assert a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-5)


def test_generative_tasks_step_their_schedulers_and_accumulate(tmp_path_factory):
    from dlrun.tasks import build_task
    from dlrun.validate import validate
    from test_generative import data_args, learnable_images, write_idx

    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    write_idx(root / "MNIST" / "raw", "train", *learnable_images(200, rng))
    write_idx(root / "MNIST" / "raw", "t10k", *learnable_images(20, rng))

    def task_of(overrides):
        cfg = compose([*data_args(root), "scheduler=linear_warmup", "scheduler.warmup_steps=4", *overrides])
        validate(cfg)
        data = build_data(cfg)
        task = build_task(cfg, data.info)
        task.setup(torch.device("cpu"), None, None)
        return task, iter(data.batches("train", 8, train=True))

    # a GAN's discriminator steps d_steps times per batch, and its schedule is that much longer
    gan, batches = task_of(
        [
            "task=gan",
            "model=gan_mlp",
            "model.generator_hidden=[8]",
            "model.discriminator_hidden=[8]",
            "dataset.normalize=symmetric",
            "task.d_steps=2",
        ]
    )
    assert gan.plan_steps(5, 1, 2) == 5
    for _ in range(2):
        gan.training_step(next(batches))
    lr = {name: opt.param_groups[0]["lr"] / 2e-4 for name, opt in gan.optimizers.items()}
    assert lr == pytest.approx({"generator": 3 / 4, "discriminator": 1.0})  # 2 and 4 steps taken

    # a VAE accumulates: one optimizer step per 2 batches, the epoch's last batch steps alone
    vae, batches = task_of(["task=vae", "model=vae_mlp", "model.hidden=[8]", "model.latent_dim=2"])
    assert vae.plan_steps(3, 2, 2) == 2
    state = vae.optimizers["vae"].state
    for last in (False, False, True):
        vae.last_batch = last
        vae.training_step(next(batches))
        steps = {int(s["step"]) for s in state.values()}
    assert steps == {2} and not vae.accumulating
    assert vae.optimizers["vae"].param_groups[0]["lr"] == pytest.approx(1e-3 * 3 / 4)


def test_an_explicit_max_lr_or_swa_lr_keeps_the_backbones_scale_in_every_param_group():
    """optimizer.backbone_lr_scale puts the backbone in a group at a fraction of the head's rate: an explicit
    onecycle max_lr or trainer.swa_lr is the head's rate, and the backbone's stays at its fraction."""
    from torch.optim.swa_utils import SWALR

    from dlrun.schedulers.factories import in_proportion, onecycle

    head, backbone = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [head], "lr": 0.01}, {"params": [backbone], "lr": 0.001}], lr=0.01)
    assert in_proportion(optimizer, 0.5) == pytest.approx([0.5, 0.05])
    assert in_proportion(optimizer, None) == [0.01, 0.001]
    sched = onecycle(optimizer, 2, 0.5, 0.3, "cos", 25.0, 1e4, False, False, 0.85, 0.95)
    sched.start(10, 2)
    assert [g["max_lr"] for g in optimizer.param_groups] == pytest.approx([0.5, 0.05])
    fresh = torch.optim.SGD([{"params": [head], "lr": 0.01}, {"params": [backbone], "lr": 0.001}], lr=0.01)
    swa = SWALR(fresh, in_proportion(fresh, 0.2), anneal_epochs=1)
    fresh.step()
    swa.step()
    assert [g["lr"] for g in fresh.param_groups] == pytest.approx([0.2, 0.02])
