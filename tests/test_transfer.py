"""Transfer learning: model=torchvision (weights from torch hub's cache, a new head, the weights' preprocessing on
the batch path), model.freeze / unfreeze_at_epoch, optimizer.backbone_lr_scale and model.init_from.

The weights files are written by the tests into a temporary TORCH_HOME, under the names torchvision expects,
from seeded randomly initialised models: loading them (not re-initialising) is what is checked.
"""

import json
import textwrap

import numpy as np
import pytest
import torch

from conftest import KILLER, assert_one_line_error, train_in_process, without_times

SMALL = "mobilenet_v3_small"


def write_folder(root, classes=("ants", "bees"), n=10, size=20, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = [(200, 60, 30), (40, 60, 200), (40, 200, 60)]
    for label, colour in zip(classes, colours, strict=False):
        (root / label).mkdir(parents=True)
        for i in range(n):
            pixels = np.clip(np.array(colour) + rng.integers(-40, 40, (size, size + 4, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def write_hub_weights(torch_home, arch: str, seed: int = 0) -> dict:
    """A seeded random state dict of `arch` where torch hub caches its DEFAULT weights; returns it."""
    from torchvision import models

    from dlrun.models.torchvision_models import hub_file

    torch.manual_seed(seed)
    state = models.get_model(arch, weights=None).state_dict()
    weights = models.get_model_weights(arch).DEFAULT
    path = torch_home / "hub" / "checkpoints" / hub_file(weights).name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


@pytest.fixture
def hub(tmp_path, monkeypatch):
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "pics")


def args_for(folder, *extra):
    return [
        "dataset=image_folder",
        f"dataset.path={folder}",
        "dataset.image_size=[20,24]",
        "dataset.num_workers=0",
        "dataset.split.val=0.2",
        "dataset.split.test=0.2",
        "model=torchvision",
        f"model.arch={SMALL}",
        "trainer.batch_size=4",
        "device.threads=1",
        "trainer.diagnostics.enabled=false",  # matplotlib's figures take seconds; not what is tested here
        "plots.enabled=false",
        *extra,
    ]


def backbone_of(state: dict, head: str) -> dict:
    """A run's model tensors (keys without the `net.` prefix), head left out."""
    return {k[len("net.") :]: v for k, v in state.items() if not k.startswith(f"net.{head}.")}


@pytest.mark.parametrize(("arch", "head"), [(SMALL, "classifier.3"), ("resnet18", "fc")])
def test_pretrained_weights_are_read_from_the_hub_cache_and_the_head_is_new(hub, arch, head):
    from dlrun.datasets.base import DataInfo
    from dlrun.models.torchvision_models import torchvision_model

    saved = write_hub_weights(hub, arch)
    info = DataInfo("classification", (3, 20, 24), 3, 3, ["a", "b", "c"])
    model = torchvision_model(info, arch, "DEFAULT", "none", None)
    assert model.head_name == head
    got = model.state_dict()
    for key, value in saved.items():
        if key.startswith(head + "."):
            assert got[f"net.{key}"].shape[0] == 3  # three classes, not ImageNet's 1000
        else:
            assert torch.equal(got[f"net.{key}"], value), key  # loaded, not re-initialised
    head_params, backbone = model.parameter_groups()
    assert [p.shape for p in head_params] == [torch.Size([3, saved[f"{head}.weight"].shape[1]]), torch.Size([3])]
    assert len(backbone) == len(list(model.parameters())) - 2


def test_the_weights_preprocessing_runs_on_the_batch_path_as_torchvision_s(tmp_path):
    from torchvision import models

    from dlrun.datasets.images import BatchTransform
    from dlrun.models.config import image_input

    needs = image_input({"name": "torchvision", "arch": SMALL, "weights": "DEFAULT"})
    assert needs == {
        "channels": 3,
        "resize": [256],
        "crop": [224],
        "interpolation": "bilinear",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "normalize": "weights",
    }
    fit = {k: needs[k] for k in ("channels", "resize", "crop", "interpolation")}
    transform = BatchTransform(needs["mean"], needs["std"], model_input=fit)
    images = torch.randint(0, 256, (3, 3, 30, 40), dtype=torch.uint8)
    reference = models.get_model_weights(SMALL).DEFAULT.transforms()(images.float() / 255)
    assert reference.shape == (3, 3, 224, 224)
    assert torch.allclose(transform(images, train=False), reference, atol=1e-4)
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)  # Fashion-MNIST: one channel, repeated
    out = transform(grey, train=False)
    assert out.shape == (2, 3, 224, 224)
    assert torch.allclose(out[:, 0] * 0.229 + 0.485, out[:, 1] * 0.224 + 0.456, atol=1e-5)


def test_a_frozen_backbone_stays_as_loaded_while_the_head_learns(hub, folder, tmp_path):
    saved = write_hub_weights(hub, SMALL)
    train_in_process(args_for(folder, "model.freeze=backbone", "trainer.max_epochs=1"), tmp_path / "run")
    from dlrun.rundir.checkpoints import load_checkpoint

    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    after = state["task"]["models"]["model"]
    backbone = backbone_of(after, "classifier.3")
    assert set(backbone) == {k for k in saved if not k.startswith("classifier.3.")}
    for key, value in backbone.items():  # weights and batch-norm statistics (running_mean, num_batches_tracked)
        assert torch.equal(value, saved[key]), key
    head = state["task"]["optimizers"]["model"]["state"]
    assert len(head) == 2  # only the new head's weight and bias were stepped
    data = state["data"]["preprocessing"]
    assert data["crop"] == [224] and data["normalize"] == "weights" and data["mean"] == [0.485, 0.456, 0.406]


def test_unfreeze_at_epoch_trains_the_backbone_from_that_epoch_on(hub, folder, tmp_path):
    saved = write_hub_weights(hub, SMALL)
    from dlrun.rundir.checkpoints import load_checkpoint

    common = args_for(folder, "model.freeze=backbone", "model.unfreeze_at_epoch=2")
    train_in_process([*common, "trainer.max_epochs=1"], tmp_path / "run")
    first = backbone_of(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["task"]["models"]["model"], "")
    assert all(torch.equal(first[f"{k}"], v) for k, v in saved.items() if not k.startswith("classifier.3."))
    train_in_process([*common, "trainer.max_epochs=2", "trainer.resume=auto"], tmp_path / "run")
    second = backbone_of(load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["task"]["models"]["model"], "")
    changed = [k for k, v in saved.items() if not k.startswith("classifier.3.") and not torch.equal(second[k], v)]
    assert "features.0.0.weight" in changed and "features.0.1.running_mean" in changed


def test_backbone_lr_scale_gives_the_backbone_its_own_learning_rate(cli, tmp_path):
    from dlrun.config import compose
    from dlrun.datasets.base import DataInfo
    from dlrun.tasks import build_task

    info = DataInfo("classification", (3, 20, 24), 3, 3, ["a", "b", "c"])
    cfg = compose(
        [
            "model=torchvision",
            f"model.arch={SMALL}",
            "model.weights=null",
            "optimizer=sgd",
            "optimizer.lr=0.1",
            "optimizer.backbone_lr_scale=0.1",
            "scheduler=step",
            "scheduler.step_size=1",
            "scheduler.gamma=0.5",
        ]
    )
    task = build_task(cfg, info)
    groups = task.optimizers["model"].param_groups
    assert [g["lr"] for g in groups] == [0.1, pytest.approx(0.01)]
    assert [len(g["params"]) for g in groups] == [2, len(list(task.model.parameters())) - 2]
    task.optimizers["model"].step()  # no gradients: nothing moves
    task.schedulers["model"].step({})
    assert [g["lr"] for g in groups] == [0.05, pytest.approx(0.005)]  # a per-epoch scheduler keeps the ratio
    assert task.lr == 0.05  # the lr logged is the head's
    mlp = cli("train", "dataset=iris", "optimizer.backbone_lr_scale=0.5", "trainer.max_epochs=1")
    assert_one_line_error(
        mlp,
        "optimizer.backbone_lr_scale is for models with a pretrained backbone (model=torchvision); this model has "
        "none: leave it at 1.0",
        tmp_path,
    )


def test_init_from_loads_the_matching_layers_of_another_run_and_lists_them(cli, tmp_path, caplog):
    two = write_folder(tmp_path / "two", n=6, size=8)
    three = write_folder(tmp_path / "three", classes=("a", "b", "c"), n=6, size=8, seed=1)
    cnn = ["model=cnn", "model.blocks=[{channels: 4, pool: 2}]", "model.head=[8]", "trainer.max_epochs=1"]
    data = ["dataset=image_folder", "dataset.image_size=[8,8]", "dataset.num_workers=0", "dataset.split.val=0.25"]
    train_in_process([*data, f"dataset.path={two}", *cnn], tmp_path / "a")
    from dlrun.rundir.checkpoints import load_checkpoint

    source = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")["task"]["models"]["model"]
    with caplog.at_level("INFO", logger="dlrun"):
        from dlrun.config import compose
        from dlrun.datasets.base import DataInfo
        from dlrun.tasks import build_task

        cfg = compose([*data, f"dataset.path={three}", *cnn, f"model.init_from={tmp_path / 'a'}"])
        task = build_task(cfg, DataInfo("classification", (3, 8, 8), 3, 3, ["a", "b", "c"]))
    lines = [r.getMessage() for r in caplog.records if "init_from" in r.getMessage()]
    assert lines == [
        f"model.init_from: loaded 4 of 6 tensors from {tmp_path / 'a' / 'checkpoints' / 'last.pt'}: layers "
        "features.0 (weight, bias), head.0 (weight, bias); skipped (name or shape differ): head.2 (weight, bias)"
    ]
    got = task.model.state_dict()
    assert torch.equal(got["features.0.weight"], source["features.0.weight"])
    assert torch.equal(got["head.0.weight"], source["head.0.weight"])
    assert got["head.2.weight"].shape == (3, 8) and source["head.2.weight"].shape == (1, 8)

    (tmp_path / "notes.txt").write_text("not a checkpoint")
    bad = cli("train", *data, f"dataset.path={three}", *cnn, f"model.init_from={tmp_path / 'notes.txt'}")
    assert_one_line_error(bad, f"model.init_from: cannot read checkpoint {tmp_path / 'notes.txt'}", tmp_path)


def test_missing_weights_offline_name_the_file_and_where_to_put_it(cli, hub, folder, tmp_path, monkeypatch):
    from dlrun.models import torchvision_models

    offline = "cannot reach download.pytorch.org: offline"  # whether or not this machine is online
    monkeypatch.setattr(torchvision_models, "unreachable", lambda url, timeout: offline)
    result = cli("train", *args_for(folder), env={"TORCH_HOME": hub})
    line = assert_one_line_error(result, "weights", tmp_path)
    assert line == (
        f"dlrun: error: weights MobileNet_V3_Small_Weights.IMAGENET1K_V1 of {SMALL} not found: place "
        f"mobilenet_v3_small-047dcff4.pth in {hub / 'hub' / 'checkpoints'}/ (download "
        "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth; it failed: cannot reach "
        "download.pytorch.org: offline)"
    )


def test_an_unknown_architecture_is_one_line_with_the_closest_name(cli, folder, tmp_path):
    result = cli("train", *args_for(folder, "model.arch=resnet19"))
    assert_one_line_error(
        result,
        "model.arch: 'resnet19' is not a torchvision classification architecture "
        "(`torchvision.models.list_models(module=torchvision.models)`). Did you mean 'resnet18'?",
        tmp_path,
    )


def test_predict_prepares_images_as_training_did(hub, folder, tmp_path):
    write_hub_weights(hub, SMALL)
    train_in_process(args_for(folder, "model.freeze=backbone", "trainer.max_epochs=1"), tmp_path / "run")
    from PIL import Image

    from dlrun.inference.predictor import Predictor

    predictor = Predictor(tmp_path / "run")
    image = np.asarray(Image.open(folder / "bees" / "0.png"))
    (x,) = predictor.encode([image.transpose(2, 0, 1).tolist()])
    assert x.shape == (1, 3, 224, 224)
    assert predictor.schema()["input"]["crop"] == [224]
    from dlrun.export.signature import input_spec
    from dlrun.saved_run import open_run

    saved = open_run(tmp_path / "run")
    assert input_spec(saved.info, saved.preprocessing, False)[0]["shape"] == [None, 3, 224, 224]


@pytest.mark.slow
def test_killed_and_resumed_with_a_backbone_unfrozen_on_the_way_matches(cli, cli_subprocess, hub, folder, tmp_path):
    write_hub_weights(hub, SMALL)
    (tmp_path / "killer.py").write_text(KILLER)
    common = args_for(
        folder,
        "model.freeze=backbone",
        "model.unfreeze_at_epoch=2",
        "optimizer.backbone_lr_scale=0.1",
        "trainer.max_epochs=3",
        "seed=3",
    )
    env = {"TORCH_HOME": str(hub)}
    full = cli("train", *common, "hydra.run.dir=full", env=env)
    assert full.returncode == 0, full.stderr
    killed = cli_subprocess(
        "train",
        *common,
        "hydra.run.dir=resumed",
        "plugins=[killer]",
        "callbacks=[{name: kill_at, epoch: 3, step: 2}]",
        env=env,
    )
    assert killed.returncode != 0
    resumed = cli("train", *common, "hydra.run.dir=resumed", "trainer.resume=auto", env=env)
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((tmp_path / "resumed" / "metrics.json").read_text())
    assert len(a["history"]) == 3
    assert without_times(a) == without_times(b)


SYNC_CHECK = textwrap.dedent('''
    import torch

    from dlrun.callbacks import CALLBACKS, Callback
    from dlrun.device import distributed


    @CALLBACKS.register("backbone_sync")
    class BackboneSync(Callback):
        """At the end, each rank writes whether the backbones of all ranks are equal (and were trained)."""

        def on_fit_end(self, trainer):
            net = trainer.task.net("model")
            total = torch.stack([p.detach().double().sum() for p in net.backbone_parameters()]).sum().view(1)
            low, high = total.clone(), total.clone()
            torch.distributed.all_reduce(low, op=torch.distributed.ReduceOp.MIN)
            torch.distributed.all_reduce(high, op=torch.distributed.ReduceOp.MAX)
            with open(f"sync_{distributed.rank()}.txt", "w") as f:
                f.write(f"{bool(low == high)} {net.frozen}")
''')


@pytest.mark.slow
def test_a_backbone_unfrozen_under_ddp_stays_in_sync_across_processes(cli_subprocess, folder, tmp_path):
    """Parameters frozen when DistributedDataParallel wraps the network are not synced by it: unfreezing wraps
    the network again, so both processes' backbones train to the same values."""
    (tmp_path / "sync_check.py").write_text(SYNC_CHECK)
    result = cli_subprocess(
        "train",
        *args_for(folder, "model.weights=null", "model.freeze=backbone", "model.unfreeze_at_epoch=2"),
        "trainer.max_epochs=2",
        "device.type=cpu",
        "device.count=2",
        "device.threads=null",
        "logger=none",
        "plugins=[sync_check]",
        "callbacks=[backbone_sync]",
        "hydra.run.dir=ddp",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 2: the backbone is trained from now on" in result.stdout + result.stderr
    assert [(tmp_path / f"sync_{r}.txt").read_text() for r in (0, 1)] == ["True False"] * 2


def test_grey_fashion_mnist_is_made_what_the_weights_expect(hub, tmp_path):
    """One-channel 28x28 images reach the model as 3 x 224 x 224, normalized with the weights' mean and std."""
    from test_images import learnable_images, write_idx

    write_hub_weights(hub, SMALL)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 16)):
        write_idx(tmp_path / "data" / "FashionMNIST" / "raw", prefix, *learnable_images(n, rng))
    overrides = [
        "dataset=fashion_mnist",
        f"dataset.root={tmp_path / 'data'}",
        "dataset.split.val=0.2",
        "dataset.split.stratify=false",
        "model=torchvision",
        f"model.arch={SMALL}",
        "model.freeze=backbone",
        "trainer.max_epochs=1",
        "trainer.batch_size=8",
        "trainer.diagnostics.enabled=false",
        "plots.enabled=false",
    ]
    _, metrics = train_in_process(overrides, tmp_path / "run")
    assert metrics["history"][0]["train_samples"] == 32
    summary = (tmp_path / "run" / "model_summary.txt").read_text()
    assert "(batch, 16, 112, 112)" in summary  # the first conv of 224 x 224 inputs, stride 2
    from dlrun.rundir.checkpoints import load_checkpoint

    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["data"]
    assert tuple(state["info"]["input_shape"]) == (1, 28, 28)  # the data's images: what predict takes
    assert state["preprocessing"]["channels"] == 3 and state["preprocessing"]["std"] == [0.229, 0.224, 0.225]
