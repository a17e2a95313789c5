"""`dlrun export` (ONNX, TorchScript) and `dlrun predict --backend onnx`: the exported models give the torch path's
outputs (within 1e-4) on the test split, at batch sizes 1 and 64 and, for sequences, two lengths; signature.json
says how to feed them; the generators of a VAE and a CGAN run in onnxruntime; bad input is one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import train_in_process
from test_images import learnable_images, write_idx

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

TOLERANCE = 1e-4
WORDS = {
    "ham": "see you at home later ok call me when you get there".split(),
    "spam": "win free prize cash now claim text stop urgent".split(),
}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def quick(run_dir, overrides):
    train_in_process(["plots.enabled=false", "seed=1", "device=cpu", *overrides], run_dir)
    return run_dir


def test_split(run_dir, split="test"):
    """The run, its rebuilt task, and the split's model inputs exactly as the torch path sees them (normalized)."""
    from dlrun.datasets.build import build_data
    from dlrun.saved_run import load_run

    loaded = load_run(run_dir)
    bundle = build_data(loaded.config, loaded.preprocessing)
    x = torch.cat([x for x, _ in bundle.batches(split, 512)])
    return loaded, x


test_split.__test__ = False  # a helper, not a test


def export(run_dir, fmt="onnx"):
    from dlrun.export.writer import export_run

    return export_run(run_dir, fmt)


def onnx_outputs(forward, x: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([forward(x[lo : lo + batch]) for lo in range(0, len(x), batch)])


def assert_exports_match(run_dir, lengths=(None,), batch1_rows=None):
    """ONNX (batches 1 and 64) and TorchScript (64) outputs equal task.predictions on the test split, per length."""
    from dlrun.export import OnnxForward

    loaded, x = test_split(run_dir)
    onnx_path, signature = export(run_dir, "onnx")
    ts_path, _ = export(run_dir, "torchscript")
    forward, scripted = OnnxForward(onnx_path), torch.jit.load(str(ts_path))
    worst = 0.0
    for steps in lengths:
        xs = x if steps is None else x[:, :steps]
        expected = loaded.task.predictions(xs)
        arrays = xs.numpy()
        rows = slice(None) if batch1_rows is None else slice(0, batch1_rows)
        for batch, got, want in (
            (64, onnx_outputs(forward, arrays, 64), expected),
            (1, onnx_outputs(forward, arrays[rows], 1), expected[rows]),
        ):
            assert got.shape == want.shape, (batch, steps)
            worst = max(worst, float(np.abs(got - want).max()))
        with torch.no_grad():
            traced = torch.cat([scripted(xs[lo : lo + 64]) for lo in range(0, len(xs), 64)]).numpy()
        worst = max(worst, float(np.abs(traced - expected).max()))
    assert worst <= TOLERANCE, worst
    print(f"{run_dir.name}: max abs difference {worst:.2e}")
    return signature, loaded


# ------------------------------------------------------------------------------------------------ MLP on tables


@pytest.fixture(scope="module")
def auto_mpg_run(tmp_path_factory):
    return quick(tmp_path_factory.mktemp("auto_mpg") / "run", ["+experiment=auto_mpg", "trainer.max_epochs=3"])


def test_mlp_on_a_table_exports_with_its_fitted_columns(auto_mpg_run):
    signature, loaded = assert_exports_match(auto_mpg_run)
    assert signature["format"] == "onnx" and signature["model_file"] == "model.onnx"
    assert signature["inputs"] == [
        {"name": "features", "shape": [None, 9], "dtype": "float32", "dynamic_axes": {"0": "batch"}}
    ]
    assert signature["outputs"][0]["name"] == "values" and "original units" in signature["outputs"][0]["meaning"]
    prep = signature["preprocessing"]
    assert prep["kind"] == "table" and prep["target"] == "mpg"
    assert len(prep["feature_names"]) == 9 and prep["feature_names"][-3:] == ["origin=1", "origin=2", "origin=3"]
    columns = {c["name"]: c for c in prep["columns"]}
    assert columns["model_year"]["boundaries"] == [73, 76, 79] and columns["origin"]["levels"] == ["1", "2", "3"]
    assert columns["weight"]["mean"] == pytest.approx(loaded.preprocessing["columns"][3]["mean"])
    assert (auto_mpg_run / "export" / "onnx" / "signature.json").is_file()
    assert (auto_mpg_run / "export" / "torchscript" / "model.pt").is_file()


def test_predict_with_the_onnx_backend_gives_the_torch_table(auto_mpg_run, cli, tmp_path):
    from dlrun.packaged_data import packaged_file

    rows = [line for line in open(packaged_file("auto_mpg"), encoding="utf-8") if "?" not in line][:40]
    (tmp_path / "cars.data").write_text("".join(rows), encoding="utf-8")
    exported = cli("export", str(auto_mpg_run), "--format", "onnx")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines()[1] == (
        "inputs: features (batch, 9) float32; output: values: predicted values in the data's original units "
        "(the target scaling is undone in the model)"
    )
    torch_table = cli("predict", str(auto_mpg_run), "cars.data")
    assert torch_table.returncode == 0, torch_table.stderr
    for target in (auto_mpg_run, auto_mpg_run / "export" / "onnx", auto_mpg_run / "export" / "onnx" / "model.onnx"):
        onnx_table = cli("predict", str(target), "cars.data", "--backend", "onnx")
        assert onnx_table.returncode == 0, onnx_table.stderr
        torch_rows, onnx_rows = torch_table.stdout.splitlines(), onnx_table.stdout.splitlines()
        assert len(onnx_rows) == 41 and onnx_rows[0] == torch_rows[0]
        got = np.array([float(r.rsplit(",", 1)[1]) for r in onnx_rows[1:]])
        want = np.array([float(r.rsplit(",", 1)[1]) for r in torch_rows[1:]])
        assert np.abs(got - want).max() <= TOLERANCE


def test_mlp_on_digits_gives_class_probabilities(tmp_path):
    run = quick(tmp_path / "digits", ["+experiment=digits_mlp", "trainer.max_epochs=2"])
    signature, _ = assert_exports_match(run)
    assert signature["class_names"] == [str(i) for i in range(10)]
    assert signature["outputs"][0]["shape"] == [None, 10] and signature["preprocessing"]["kind"] == "features"


# ------------------------------------------------------------------------------------------------ CNN on images


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    write_idx(root / "MNIST" / "raw", "train", *learnable_images(300, rng))
    write_idx(root / "MNIST" / "raw", "t10k", *learnable_images(100, rng))
    return root


def mnist_args(root):
    return ["dataset=mnist", f"dataset.root={root}", "dataset.download=false", "trainer.batch_size=32"]


def test_cnn_on_images_exports_with_its_normalization(mnist_root, tmp_path):
    run = quick(
        tmp_path / "cnn",
        [*mnist_args(mnist_root), "model=cnn", "model.blocks=[{channels: 4, pool: 2}]", "trainer.max_epochs=1"],
    )
    signature, loaded = assert_exports_match(run)
    prep = signature["preprocessing"]
    assert (prep["kind"], prep["channels"], prep["height"], prep["width"]) == ("image", 1, 28, 28)
    assert prep["mean"] == loaded.preprocessing["mean"] and prep["std"] == loaded.preprocessing["std"]
    assert signature["inputs"][0]["name"] == "images" and signature["inputs"][0]["shape"] == [None, 1, 28, 28]


# ------------------------------------------------------------------------------------------------ LSTM on sequences


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory):
    rng = np.random.default_rng(2)
    lines = []
    for i in range(240):
        label = "spam" if i % 4 == 0 else "ham"
        words = rng.choice(WORDS[label] + WORDS["ham"][:3], rng.integers(2, 30))
        lines.append(f"{label}\t{' '.join(words)}\n")
    path = tmp_path_factory.mktemp("sms") / "SMSSpamCollection"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_bidirectional_lstm_on_text_exports_with_dynamic_lengths_and_its_vocabulary(texts_file, tmp_path):
    run = quick(
        tmp_path / "sms",
        [
            "+experiment=sms_spam_lstm",
            f"dataset.path={texts_file}",
            "dataset.max_len=32",
            "model.hidden=8",
            "model.embedding_dim=8",
            "trainer.max_epochs=1",
        ],
    )
    signature, loaded = assert_exports_match(run, lengths=(None, 12))
    assert signature["inputs"] == [
        {"name": "token_ids", "shape": [None, None], "dtype": "int64", "dynamic_axes": {"0": "batch", "1": "steps"}}
    ]
    prep = signature["preprocessing"]
    assert (prep["pad_id"], prep["oov_id"], prep["first_word_id"], prep["max_len"]) == (0, 1, 2, 32)
    words = (run / "export" / "onnx" / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    assert words == loaded.preprocessing["words"] and prep["vocab_size"] == len(words) + 2
    assert signature["class_names"] == ["ham", "spam"] and signature["outputs"][0]["shape"] == [None]


def test_lstm_on_a_series_exports_with_its_scaling(tmp_path):
    from dlrun.packaged_data import packaged_file

    run = quick(
        tmp_path / "temps",
        [
            "+experiment=temperature_lstm",
            f"dataset.path={packaged_file('daily_min_temperatures')}",
            "model.hidden=8",
            "trainer.max_epochs=1",
            "trainer.batch_size=128",
        ],
    )
    signature, loaded = assert_exports_match(run, lengths=(None, 10), batch1_rows=100)
    prep = signature["preprocessing"]
    assert prep["kind"] == "series" and prep["window"] == 30 and prep["columns"] == ["Temp"]
    assert prep["mean"] == loaded.preprocessing["mean"] and prep["scale"] == loaded.preprocessing["scale"]
    assert signature["inputs"][0]["shape"] == [None, None, 1]


# ------------------------------------------------------------------------------------------------ generators


@pytest.mark.parametrize(
    "overrides, inputs",
    [
        (["task=vae", "model=vae_mlp", "model.hidden=[16]", "model.latent_dim=2"], ["z"]),
        (
            [
                "task=cgan",
                "model=cgan_mlp",
                "model.generator_hidden=[16]",
                "model.discriminator_hidden=[16]",
                "model.latent_dim=4",
                "dataset.normalize=symmetric",
                "dataset.split.val=0",
                "trainer.checkpoint.monitor=null",
            ],
            ["z", "labels"],
        ),
    ],
    ids=["vae", "cgan"],
)
def test_generators_export_their_sampling_path(mnist_root, tmp_path, overrides, inputs):
    from dlrun.export import OnnxForward
    from dlrun.saved_run import load_run

    run = quick(tmp_path / "gen", [*mnist_args(mnist_root), *overrides, "trainer.max_epochs=1", "task.num_samples=4"])
    path, signature = export(run)
    assert [i["name"] for i in signature["inputs"]] == inputs
    latent = signature["sampling"]["latent_dim"]
    z = np.random.default_rng(0).standard_normal((5, latent)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 9])
    arrays = (z, labels)[: len(inputs)]
    images = OnnxForward(path)(*arrays)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    task = load_run(run).task
    expected = task.generate(torch.from_numpy(z), torch.from_numpy(labels) if len(inputs) == 2 else None).numpy()
    assert np.abs(images - expected).max() <= TOLERANCE


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_export_input_is_one_line_and_exit_2(auto_mpg_run, cli, tmp_path):
    def one_line(result, message):
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr, result.stderr

    export(auto_mpg_run)
    one_line(cli("export", str(tmp_path), "--format", "onnx"), "no checkpoint in run directory")
    one_line(cli("export", str(auto_mpg_run), "--format", "tflite"), "--format must be one of onnx, torchscript")
    corrupt = tmp_path / "broken"
    corrupt.mkdir()
    signature = json.loads((auto_mpg_run / "export" / "onnx" / "signature.json").read_text())
    (corrupt / "signature.json").write_text(json.dumps(signature))
    (corrupt / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "rows.csv").write_text("1,2\n")
    one_line(cli("predict", str(corrupt), "rows.csv", "--backend", "onnx"), "cannot load ONNX model")
    one_line(cli("predict", str(tmp_path / "rows.csv"), "rows.csv", "--backend", "onnx"), "not an ONNX export")
    one_line(cli("predict", str(auto_mpg_run), "rows.csv", "--backend", "tf"), "--backend must be one of torch, onnx")


def test_without_the_export_extra_the_error_names_the_install_command(auto_mpg_run, cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    result = cli("predict", str(auto_mpg_run), "rows.csv", "--backend", "onnx")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'dlrun[export]'" in result.stderr
    monkeypatch.setitem(sys.modules, "onnx", None)
    result = cli("export", str(auto_mpg_run), "--format", "onnx")
    assert result.returncode == 2 and "pip install 'dlrun[export]'" in result.stderr, result.stderr


def test_an_exporter_failure_is_one_line(auto_mpg_run, cli, monkeypatch, tmp_path):
    def unsupported(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::frobnicate' to ONNX opset version 17 is not supported.\nmore")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    result = cli("export", str(auto_mpg_run), "--format", "onnx", "-o", "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot export model 'mlp' to onnx: Exporting the operator 'aten::frobnicate'" in result.stderr
    assert not (tmp_path / "out" / "model.onnx").exists() and not list(tmp_path.glob("out/.model.onnx.*"))
