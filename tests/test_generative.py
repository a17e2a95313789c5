"""Generative models on small MNIST-format files: VAE loss terms, GAN steps with two optimizers, exact GAN resume,
`dlrun sample` grids and its one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import train_in_process, without_times
from test_images import learnable_images, write_idx

TILE = 28 + 2  # make_grid: 2 px padding around every 28 px image, plus 2 px at the far edges


def grid_size(columns: int, rows: int) -> tuple[int, int]:
    return columns * TILE + 2, rows * TILE + 2


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    write_idx(root / "MNIST" / "raw", "train", *learnable_images(400, rng))
    write_idx(root / "MNIST" / "raw", "t10k", *learnable_images(100, rng))
    return root


def data_args(root):
    return ["dataset=mnist", f"dataset.root={root}", "dataset.download=false", "seed=3", "plots.enabled=false"]


def vae_args(root):
    return [
        *data_args(root),
        "task=vae",
        "model=vae_mlp",
        "model.hidden=[64]",
        "model.latent_dim=2",
        "trainer.batch_size=32",
        "task.num_samples=16",
    ]


def cgan_args(root):
    # dropout and random fake labels consume the RNG; smoothing and two D steps change the step
    return [
        *data_args(root),
        "task=cgan",
        "model=cgan_mlp",
        "model.generator_hidden=[64]",
        "model.discriminator_hidden=[64]",
        "model.latent_dim=8",
        "dataset.normalize=symmetric",
        "dataset.split.val=0",
        "task.label_smoothing=0.1",
        "task.d_steps=2",
        "task.num_samples=3",
        "trainer.batch_size=32",
        "trainer.checkpoint.monitor=null",
    ]


@pytest.fixture(scope="module")
def vae_run(mnist_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("vae") / "run"
    _, metrics = train_in_process([*vae_args(mnist_root), "trainer.max_epochs=4"], run_dir)
    return run_dir, metrics


@pytest.fixture(scope="module")
def cgan_run(mnist_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cgan") / "full"
    _, metrics = train_in_process([*cgan_args(mnist_root), "trainer.max_epochs=3"], run_dir)
    return run_dir, metrics


def test_vae_loss_decreases_and_both_terms_are_logged(vae_run):
    run_dir, metrics = vae_run
    history = metrics["history"]
    assert len(history) == 4
    for row in history:
        for split in ("train", "val"):
            assert {f"{split}/loss", f"{split}/recon", f"{split}/kl"} <= set(row)
        assert row["val/loss"] == pytest.approx(row["val/recon"] + row["val/kl"], rel=1e-6)  # beta 1: the -ELBO
        assert row["train/kl"] > 0
    assert history[-1]["train/loss"] < 0.8 * history[0]["train/loss"]
    assert history[-1]["val/loss"] < history[0]["val/loss"]
    assert set(metrics["test"]) == {"loss", "recon", "kl"}
    assert metrics["best"]["epoch"] >= 1 and (run_dir / "checkpoints" / "best.pt").is_file()
    samples = run_dir / "samples"
    assert sorted(p.name for p in samples.iterdir()) == [
        f"{k}_epoch_00{e}.png" for k in ("reconstructions", "samples") for e in range(1, 5)
    ]
    assert Image.open(samples / "samples_epoch_004.png").size == grid_size(4, 4)  # 16 samples
    assert Image.open(samples / "reconstructions_epoch_004.png").size == grid_size(
        8, 2
    )  # originals over reconstructions


def test_gan_step_updates_both_networks_with_their_own_optimizers(mnist_root):
    from dlrun.config import compose
    from dlrun.datasets import build_data
    from dlrun.tasks import build_task
    from dlrun.validate import validate

    cfg = compose(
        [
            *data_args(mnist_root),
            "task=gan",
            "model=gan_mlp",
            "model.generator_hidden=[32]",
            "model.discriminator_hidden=[32]",
            "dataset.normalize=symmetric",
            "task.d_steps=2",
            "task.generator_optimizer.lr=0.001",
            "optimizer@task.discriminator_optimizer=rmsprop",
            "task.discriminator_optimizer.lr=0.0005",
        ]
    )
    validate(cfg)
    data = build_data(cfg)
    task = build_task(cfg, data.info)
    task.setup(torch.device("cpu"), None, None)
    before = {
        name: [p.detach().clone() for p in task.net(name).parameters()] for name in ("generator", "discriminator")
    }
    logs = task.training_step(next(iter(data.batches("train", 16, train=True))))

    assert set(logs) == {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
    assert 0 < float(logs["d_real"]) < 1 and 0 < float(logs["d_fake"]) < 1
    assert float(logs["loss"]) == pytest.approx(float(logs["d_loss"]) + float(logs["g_loss"]))
    g_opt, d_opt = task.optimizers["generator"], task.optimizers["discriminator"]
    assert isinstance(g_opt, torch.optim.Adam) and isinstance(d_opt, torch.optim.RMSprop)
    assert (g_opt.param_groups[0]["lr"], d_opt.param_groups[0]["lr"]) == (0.001, 0.0005)
    for name, opt, steps in (("generator", g_opt, 1), ("discriminator", d_opt, 2)):
        params = list(task.net(name).parameters())
        assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in params}
        assert all(not torch.equal(a, b) for a, b in zip(before[name], params, strict=True))  # every tensor moved
        assert all(int(opt.state[p]["step"]) == steps for p in params)  # d_steps=2 D updates, 1 G update


def test_gan_resume_reproduces_the_uninterrupted_run(mnist_root, cgan_run, tmp_path):
    from dlrun.rundir.checkpoints import load_checkpoint

    full_dir, full = cgan_run
    train_in_process([*cgan_args(mnist_root), "trainer.max_epochs=1"], tmp_path / "part")
    _, resumed = train_in_process(
        [*cgan_args(mnist_root), "trainer.max_epochs=3", f"trainer.resume={tmp_path / 'part'}"], tmp_path / "resumed"
    )
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3]
    assert without_times(resumed) == without_times(full)
    assert full["best"] == {} and not (full_dir / "checkpoints" / "best.pt").exists()  # monitor null: last.pt only
    a = load_checkpoint(full_dir / "checkpoints" / "last.pt")["task"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["task"]
    assert set(a["models"]) == set(a["optimizers"]) == {"generator", "discriminator"}
    for net in ("generator", "discriminator"):
        assert all(torch.equal(a["models"][net][k], b["models"][net][k]) for k in a["models"][net])
    assert sorted(p.name for p in (full_dir / "samples").iterdir()) == [f"samples_epoch_00{e}.png" for e in (1, 2, 3)]
    assert Image.open(full_dir / "samples" / "samples_epoch_003.png").size == grid_size(3, 10)  # a row per class


def tiles(path, columns: int, rows: int) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    return np.stack(
        [
            image[2 + r * TILE : r * TILE + TILE, 2 + c * TILE : c * TILE + TILE]
            for r in range(rows)
            for c in range(columns)
        ]
    )


def test_sample_writes_grids_of_the_expected_layout(cli, vae_run, cgan_run, tmp_path):
    vae_dir, cgan_dir = vae_run[0], cgan_run[0]
    result = cli("sample", str(cgan_dir), "--class", "3", "-n", "6", "-o", "class3.png")
    assert result.returncode == 0, result.stderr
    assert "wrote 6 samples of class 3 (3 - three) (2x3 grid) to class3.png" in result.stderr
    assert Image.open(tmp_path / "class3.png").size == grid_size(3, 2)

    def sample(*args):
        done = cli("sample", *args)
        assert done.returncode == 0, done.stderr
        return done.stderr

    sample(str(cgan_dir), "-n", "4", "-o", "classes.png")
    assert Image.open(tmp_path / "classes.png").size == grid_size(4, 10)  # one row per class

    assert "the 3x3 manifold grid" in sample(str(vae_dir), "-n", "9", "-o", "manifold.png")  # 2-D latent space
    manifold = tiles(tmp_path / "manifold.png", 3, 3)
    assert np.abs(manifold[0] - manifold[-1]).mean() > 1  # opposite corners of the latent space decode differently

    sample(str(vae_dir), "--interpolate", "-n", "5", "--seed", "1", "-o", "path.png")
    assert Image.open(tmp_path / "path.png").size == grid_size(5, 1)
    steps = tiles(tmp_path / "path.png", 5, 1)
    assert np.abs(steps[0] - steps[-1]).mean() > np.abs(steps[0] - steps[1]).mean() > 0  # a gradual path


def test_sample_errors_are_one_line_with_exit_code_2(cli, vae_run, tmp_path):
    vae_dir = vae_run[0]
    train_in_process(["dataset=digits", "trainer.max_epochs=1", "plots.enabled=false"], tmp_path / "clf")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    cases = [
        (
            (str(vae_dir), "--class", "3"),
            f"dlrun: error: --class needs a class-conditional model (task cgan); {vae_dir} is a vae run",
        ),
        (
            ("clf",),
            "dlrun: error: clf is a classification run: dlrun sample needs a generative run (task vae, gan or cgan)",
        ),
        (("missing_run",), "dlrun: error: checkpoint file not found: missing_run"),
        (
            ("broken.pt",),
            "dlrun: error: cannot read checkpoint broken.pt: the file is corrupt or truncated "
            "(not a PyTorch checkpoint archive)",
        ),
    ]
    for args, message in cases:
        done = cli("sample", *args)
        assert (done.returncode, done.stderr.strip()) == (2, message), args
    assert not (tmp_path / "samples.png").exists()


def test_generative_configs_fail_before_training(mnist_root):
    from dlrun.config import compose
    from dlrun.errors import ConfigError
    from dlrun.validate import validate

    cases = [
        (
            ["task=gan", "model=gan_mlp"],
            "task gan: the generator's tanh outputs pixels in [-1, 1], so the data must be "
            "normalized the same way: set dataset.normalize=symmetric (got 'unit')",
        ),
        (["task=vae", "model=mlp"], "task vae needs a VAE model (vae_conv, vae_mlp); got model 'mlp'"),
        (["model=vae_mlp"], "model 'vae_mlp' is a vae model: train it with task=vae"),
        (
            ["task=gan", "model=cgan_mlp", "dataset.normalize=symmetric"],
            "model 'cgan_mlp' with model.conditional=true needs task=cgan",
        ),
        (
            ["task=gan", "model=dcgan", "dataset.normalize=symmetric", "task.generator_optimizer.lr=-1"],
            "task.generator_optimizer.lr must be > 0, got -1",
        ),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError) as err:
            validate(compose([*data_args(mnist_root), *overrides]))
        assert str(err.value) == message
    with pytest.raises(ConfigError, match="task vae trains on images"):
        validate(compose(["dataset=digits", "task=vae", "model=vae_mlp"]))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_models_take_their_shapes_from_the_data(shape):
    from omegaconf import OmegaConf

    from dlrun.datasets.base import DataInfo
    from dlrun.models import build_model

    info = DataInfo("classification", shape, 10, 10, [str(k) for k in range(10)])
    x, labels = torch.rand(4, *shape) * 2 - 1, torch.arange(4)
    for name in ("vae_mlp", "vae_conv"):
        logits, mu, log_var = build_model(OmegaConf.create({"name": name}), info)(x)
        assert logits.shape == x.shape and mu.shape == log_var.shape
    for name, conditional in (("gan_mlp", False), ("cgan_mlp", True), ("dcgan", False), ("dcgan", True)):
        pair = build_model(OmegaConf.create({"name": name, "conditional": conditional}), info)
        y = labels if conditional else None
        fake = pair.generator(torch.randn(4, pair.generator.latent_dim), y)
        assert fake.shape == x.shape and fake.abs().max() <= 1
        assert pair.discriminator(fake, y).shape == (4,)


@pytest.mark.slow
def test_gan_trains_under_ddp_on_two_cpu_processes(cli_subprocess, mnist_root, tmp_path):
    args = [
        *data_args(mnist_root),
        "task=gan",
        "model=dcgan",
        "model.generator_width=8",
        "model.discriminator_width=8",
        "dataset.normalize=symmetric",
        "trainer.max_epochs=1",
        "trainer.batch_size=32",
        "device.type=cpu",
        "device.count=2",
        "logger=none",
        "task.num_samples=4",
        "hydra.run.dir=ddp",
    ]
    result = cli_subprocess("train", *args)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["history"][0]["train_samples"] == 360  # both ranks' shares of the epoch
    assert sorted(p.name for p in (tmp_path / "ddp" / "samples").iterdir()) == ["samples_epoch_001.png"]  # rank 0 only
    from dlrun.rundir.checkpoints import load_checkpoint

    state = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.pt")["task"]
    assert set(state["models"]) == set(state["optimizers"]) == {"generator", "discriminator"}
    assert not any(k.startswith("module.") for k in state["models"]["generator"])  # saved without the DDP wrapper


def test_generative_recipes_compose_and_pass_the_checks():
    from dlrun.config import compose
    from dlrun.validate import validate

    for data in ("mnist", "fashion_mnist"):
        for kind, task, normalize, monitor in (
            ("vae", "vae", "unit", "val/loss"),
            ("gan", "gan", "symmetric", None),
            ("cgan", "cgan", "symmetric", None),
            ("dcgan", "gan", "symmetric", None),
        ):
            cfg = compose([f"+experiment={data}_{kind}"])
            validate(cfg)
            assert (cfg.dataset.name, cfg.task.name, cfg.dataset.normalize) == (data, task, normalize)
            assert cfg.trainer.checkpoint.monitor == monitor
