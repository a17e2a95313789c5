"""Image data: the real file formats (written small by the tests), the fast path, augmentation, CNNs."""

import gzip
import json
import pickle
import struct
import time

import numpy as np
import pytest
import torch

from dlrun.config import compose
from dlrun.datasets import build_data
from dlrun.datasets.images import BatchTransform, random_crop
from dlrun.errors import ConfigError
from dlrun.models import build_model


def write_idx(folder, prefix, images, labels):
    """MNIST's IDX format: big-endian magic and sizes, then uint8 pixels / labels, gzip-compressed."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x0803, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x0801, n) + labels.astype(np.uint8).tobytes())


def learnable_images(n, rng, size=28, channels=None):
    """Class k has a bright square in the k-th cell of a grid: easy to learn, checks the labels line up."""
    labels = rng.integers(0, 10, n)
    shape = (n, size, size) if channels is None else (n, channels, size, size)
    images = rng.integers(0, 40, shape).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 4)
        if channels is None:
            images[i, r * 7 : r * 7 + 6, c * 7 : c * 7 + 6] = 250
        else:
            images[i, :, r * 8 : r * 8 + 7, c * 8 : c * 8 + 7] = 250
    return images, labels


def test_mnist_from_idx_files_trains(cli, tmp_path):
    rng = np.random.default_rng(0)
    train_x, train_y = learnable_images(600, rng)
    test_x, test_y = learnable_images(200, rng)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "train", train_x, train_y)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "t10k", test_x, test_y)
    data = build_data(compose(["dataset=mnist", f"dataset.root={tmp_path / 'data'}", "dataset.split.val_first_n=100"]))
    assert (len(data.train), len(data.val), len(data.test)) == (500, 100, 200)
    assert data.info.input_shape == (1, 28, 28) and data.info.num_classes == 10
    assert torch.equal(data.val.x[:, 0], torch.from_numpy(train_x[:100]))  # the first 100 images, in order
    assert torch.equal(data.test.y, torch.from_numpy(test_y).long())
    result = cli("train", "+experiment=mnist_mlp", "trainer.max_epochs=3", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] >= 0.9
    from PIL import Image

    assert Image.open(tmp_path / "run" / "inputs.png").size == (8 * 30 + 2, 8 * 30 + 2)  # 8x8 grid, 2px padding
    assert Image.open(tmp_path / "run" / "worst_test.png").size[0] > 300
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"inputs", "worst_test"} <= set(events.Tags()["images"])


def write_cifar(root, rng, per_batch=40):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    written = {}
    for name in names:
        x, y = learnable_images(per_batch, rng, size=32, channels=3)
        written[name] = (x, y)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": x.reshape(per_batch, -1), "labels": y.tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return written


def test_cifar10_from_pickled_batches(tmp_path):
    written = write_cifar(tmp_path, np.random.default_rng(1))
    data = build_data(compose(["dataset=cifar10", f"dataset.root={tmp_path}", "dataset.split.val=0.25"]))
    assert data.info.input_shape == (3, 32, 32) and data.info.class_names[3] == "class3"
    assert (len(data.train), len(data.val), len(data.test)) == (150, 50, 40)
    assert torch.equal(data.test.x, torch.from_numpy(written["test_batch"][0]))
    assert len(data.preprocessing["mean"]) == 3  # per-channel statistics of the training images


def test_missing_images_fail_fast_with_the_files_to_place(cli, tmp_path):
    start = time.monotonic()
    result = cli("train", "dataset=mnist", "model.hidden=[8]")
    elapsed = time.monotonic() - start
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(
        "dlrun: error: MNIST not found: place the four *-ubyte.gz files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) under data/MNIST/raw/ "
        "(download failed:"
    )
    assert elapsed < 30
    result = cli("train", "dataset=cifar10", "dataset.download=false")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dlrun: error: CIFAR-10 not found: place the extracted cifar-10-batches-py/ folder "
        "(data_batch_1..5, test_batch, batches.meta) under data/ (dataset.download=false)"
    )


def test_fast_path_and_dataloader_give_the_same_batches(tmp_path):
    write_cifar(tmp_path, np.random.default_rng(2))
    args = ["dataset=cifar10", f"dataset.root={tmp_path}"]
    memory = build_data(compose([*args, "dataset.loader=memory"]))
    loader = build_data(compose([*args, "dataset.loader=dataloader", "dataset.num_workers=0"]))
    assert memory.loader == "memory" and loader.loader == "dataloader"
    for train in (True, False):
        a, b = memory.batches("train", 32, train=train, seed=5), loader.batches("train", 32, train=train, seed=5)
        a.set_epoch(3)
        b.set_epoch(3)
        pairs = list(zip(a, b, strict=True))
        assert len(pairs) == len(a) == 6
        for (xa, ya), (xb, yb) in pairs:
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_augmentation_applies_to_training_batches_only(tmp_path):
    write_cifar(tmp_path, np.random.default_rng(3))
    data = build_data(
        compose(
            [
                "dataset=cifar10",
                f"dataset.root={tmp_path}",
                "dataset.augment.crop_padding=4",
                "dataset.augment.hflip=true",
                "dataset.normalize=unit",
            ]
        )
    )
    plain = data.train.x.float() / 255
    evaluation = torch.cat([x for x, _ in data.batches("train", 64, train=False)])
    assert torch.allclose(evaluation, plain)
    torch.manual_seed(0)
    batches = data.batches("train", 1000, train=True, seed=0)
    batches.set_epoch(1)
    augmented, _ = next(iter(batches))
    from dlrun.datasets.batches import epoch_permutation

    same_order = plain[epoch_permutation(len(plain), 0, 1)]
    assert augmented.shape == same_order.shape
    assert not torch.allclose(augmented, same_order)


def test_random_crop_is_a_window_of_the_padded_image():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    torch.manual_seed(0)
    out = random_crop(x, 2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, r : r + 5, c : c + 5] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert torch.equal(random_crop(x, 0), x)
    t = BatchTransform([0.5] * 3, [0.5] * 3)
    assert torch.allclose(
        t.denormalize(t(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8), False)), torch.ones(1, 3, 2, 2)
    )


def test_cnn_sizes_come_from_the_data():
    from dlrun.datasets.base import DataInfo

    cfg = compose(["model=cnn"])
    for shape in ((1, 28, 28), (3, 32, 32)):
        model = build_model(cfg.model, DataInfo("classification", shape, 10, 10))
        assert model(torch.zeros(2, *shape)).shape == (2, 10)
    with pytest.raises(ConfigError, match=r"^model cnn needs images"):
        build_model(cfg.model, DataInfo("classification", (64,), 10, 10))
    bad = compose(
        [
            "model=cnn",
            "model.blocks=[{channels: 8, pool: 2}, {channels: 8, pool: 2}, {channels: 8, pool: 2},"
            " {channels: 8, pool: 2}, {channels: 8, pool: 2}]",
        ]
    )
    with pytest.raises(ConfigError, match=r"^model.blocks do not fit \(1, 28, 28\) images"):
        build_model(bad.model, DataInfo("classification", (1, 28, 28), 10, 10))
    typo = compose(["model=cnn", "model.blocks=[{channels: 8, kernal: 5}]"])
    with pytest.raises(
        ConfigError, match=r"^unknown config key 'model.blocks\[0\].kernal'. Did you mean 'model.blocks\[0\].kernel'\?$"
    ):
        build_model(typo.model, DataInfo("classification", (1, 28, 28), 10, 10))


def test_image_folder_decodes_once_or_streams(tmp_path, cli):
    from PIL import Image

    rng = np.random.default_rng(4)
    for label, colour in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
        (tmp_path / "pics" / label).mkdir(parents=True)
        for i in range(30):
            pixels = np.clip(np.array(colour) + rng.integers(-25, 25, (12, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / label / f"{i}.png")
    args = [
        "dataset=image_folder",
        f"dataset.path={tmp_path / 'pics'}",
        "dataset.image_size=[8,8]",
        "dataset.num_workers=0",
    ]
    memory = build_data(compose([*args, "dataset.loader=auto"]))
    stream = build_data(compose([*args, "dataset.loader=dataloader"]))
    assert memory.loader == "memory" and stream.loader == "dataloader"
    assert memory.info.class_names == ["cats", "dogs"] and memory.info.input_shape == (3, 8, 8)
    assert torch.equal(
        torch.cat([x for x, _ in memory.batches("test", 8)]), torch.cat([x for x, _ in stream.batches("test", 8)])
    )
    result = cli(
        "train",
        *args,
        "dataset.loader=dataloader",
        "model=cnn",
        "model.blocks=[{channels: 8, pool: 2}]",
        "model.head=[]",
        "trainer.max_epochs=5",
        "trainer.batch_size=8",
        "dataset.split.stratify=true",
        "hydra.run.dir=run",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"] == 1.0
    missing = cli("train", "dataset=image_folder", "dataset.path=nowhere")
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == "dlrun: error: image folder not found: nowhere (expected one sub-folder of images per class)"
    )


@pytest.mark.slow
def test_real_fashion_mnist_one_short_epoch(cli, tmp_path):
    """The real files from Debian's dataset-fashion-mnist package (installed by .ci/run)."""
    result = cli(
        "train",
        "+experiment=fashion_mnist_mlp",
        "trainer.max_epochs=1",
        "model.hidden=[128]",
        "hydra.run.dir=run",
        "logger=none",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8
    assert metrics["history"][0]["train_samples"] == 54000


def test_channels_last_auto_picks_conv_nets_on_cpu_and_autocast_on_cuda():
    from torch import nn

    from dlrun.device import DeviceConfig, use_channels_last

    conv = {"model": nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten())}
    dense = {"model": nn.Sequential(nn.Flatten(), nn.Linear(4, 2))}
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    auto = DeviceConfig(channels_last="auto")
    assert use_channels_last(auto, cpu, conv, None)
    assert not use_channels_last(auto, cpu, dense, None)
    assert not use_channels_last(auto, cuda, conv, None)  # float32 on a GPU: no gain measured
    assert use_channels_last(auto, cuda, conv, torch.bfloat16)
    assert not use_channels_last(DeviceConfig(channels_last=False), cpu, conv, None)
    assert use_channels_last(DeviceConfig(channels_last=True), cpu, dense, None)
