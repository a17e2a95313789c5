"""`dlrun explain`: on a table whose target depends on two columns, those two rank first by integrated gradients
(folded back to the original columns, one-hot and embedded ones included) and by permutation importance; on
digits, hiding the pixels the attributions point at hurts more than hiding random ones (faithfulness); text,
series and image runs write their files; bad input is one line with exit code 2."""

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import assert_one_line_error, train_in_process
from dlrun.explain.run import explain_run
from dlrun.saved_run import load_run
from test_images import learnable_images, write_idx


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory, one_thread):
    """y depends on `signal` (numeric) and `group` (one-hot, 4 levels) only; the other columns are noise, one of
    them a categorical with 15 levels (embedded), so the attributions live on the embedding layer's output."""
    root = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    n = 800
    signal = rng.normal(size=n)
    group = rng.choice(["a", "b", "c", "d"], n)
    effect = pd.Series(group).map({"a": -1.5, "b": -0.5, "c": 0.5, "d": 1.5}).to_numpy()
    frame = pd.DataFrame(
        {
            "signal": signal,
            "group": group,
            "noise1": rng.normal(size=n),
            "noise2": rng.normal(size=n),
            "noise3": rng.uniform(size=n),
            "city": rng.choice([f"city{i}" for i in range(15)], n),
            "y": np.where(signal + effect > 0, "yes", "no"),
        }
    )
    frame.to_csv(root / "table.csv", index=False)
    run = root / "run"
    args = ["dataset=csv", f"dataset.path={root / 'table.csv'}", "dataset.target=y", "model.hidden=[32]"]
    train_in_process([*args, "trainer.max_epochs=25", "plots.enabled=false", "seed=1"], run)
    return run


def test_table_two_informative_columns_rank_first_by_both_methods(table_run, tmp_path):
    result = explain_run(table_run, n=100, output=tmp_path / "out")
    ranked = [name for name, _ in result.rankings["attribution"]]
    permuted = [name for name, _ in result.rankings["permutation (accuracy drop)"]]
    assert set(ranked[:2]) == {"signal", "group"}, result.rankings
    assert set(permuted[:2]) == {"signal", "group"}, result.rankings
    assert sorted(ranked) == sorted(["signal", "group", "noise1", "noise2", "noise3", "city"])  # folded back
    with open(tmp_path / "out" / "columns.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["column"] for r in rows] == ranked and {r["permutation_rank"] for r in rows[:2]} == {"1", "2"}
    assert (tmp_path / "out" / "columns.png").stat().st_size > 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["kind"] == "table" and summary["examples"] == 100


@pytest.mark.parametrize("method", ["saliency", "gradient_shap", "occlusion"])
def test_every_method_writes_its_folder_in_the_run(table_run, method):
    result = explain_run(table_run, n=20, method=method)
    assert result.folder == table_run / "explain" / method
    assert (result.folder / "columns.csv").is_file() and (result.folder / "summary.json").is_file()
    assert {name for name, _ in result.rankings["attribution"][:2]} & {"signal", "group"}


@pytest.mark.slow
def test_digits_masking_the_top_attributed_pixels_hurts_more_than_random_ones(tmp_path, one_thread):
    run = tmp_path / "digits"
    train_in_process(["dataset=digits", "model.hidden=[64]", "trainer.max_epochs=15", "plots.enabled=false"], run)
    result = explain_run(run, n=400)
    x, labels = result.inputs, torch.as_tensor(result.labels)
    model = load_run(run).task.net("model").eval()
    k = int(round(0.1 * x.shape[1]))  # 10% of the 64 pixels

    def accuracy(order):
        masked = x.clone()
        masked.scatter_(1, order[:, :k], 0.0)  # the baseline the attributions are measured from
        with torch.no_grad():
            return float((model(masked).argmax(dim=1) == labels).float().mean())

    top = result.attributions.abs().argsort(dim=1, descending=True)
    generator = torch.Generator().manual_seed(0)
    random = [accuracy(torch.stack([torch.randperm(x.shape[1], generator=generator) for _ in x])) for _ in range(5)]
    with torch.no_grad():
        clean = float((model(x).argmax(dim=1) == labels).float().mean())
    assert clean > 0.85
    print(f"digits accuracy: clean {clean:.3f}, top 10% masked {accuracy(top):.3f}, random 10% {np.mean(random):.3f}")
    assert accuracy(top) < np.mean(random) - 0.1, (clean, accuracy(top), random)


def _texts(path, rng, n=240):
    good, bad = ["great", "lovely", "fine", "nice"], ["awful", "bad", "poor", "ugly"]
    filler = ["the", "a", "film", "was", "it", "plot", "and", "very"]
    rows = []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(filler, 5)) + [rng.choice(good if label else bad)]
        rng.shuffle(words)
        rows.append(f"{'pos' if label else 'neg'}\t{' '.join(words)}\n")
    path.write_text("".join(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "model", [["model=lstm", "model.hidden=16", "model.embedding_dim=16"], ["model=mlp", "dataset.encoding=multi_hot"]]
)
def test_text_runs_name_the_tokens_that_pushed_each_prediction(tmp_path, one_thread, model):
    path = _texts(tmp_path / "texts.tsv", np.random.default_rng(0))
    run = tmp_path / "run"
    args = ["dataset=text_csv", f"dataset.path={path}", "dataset.max_len=8", *model, "trainer.max_epochs=30"]
    train_in_process([*args, "optimizer.lr=0.01", "plots.enabled=false"], run)
    result = explain_run(run, n=24)
    assert {f.name for f in result.folder.iterdir()} == {"tokens.csv", "tokens.md", "class_tokens.csv", "summary.json"}
    with open(result.folder / "tokens.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["example"] for r in rows} == {str(i) for i in range(24)}
    assert "| 0 |" in (result.folder / "tokens.md").read_text()
    # the words that decide the class push it most, on average over the examples predicted as it
    assert result.rankings["tokens for pos"][0][0] in {"great", "lovely", "fine", "nice"}, result.rankings
    assert result.rankings["tokens for neg"][0][0] in {"awful", "bad", "poor", "ugly"}, result.rankings


def test_series_run_attributes_over_the_window_steps(tmp_path, one_thread):
    steps = np.arange(400)
    frame = pd.DataFrame({"Temp": np.sin(steps / 5.0) + 0.1 * np.random.default_rng(0).normal(size=400)})
    frame.to_csv(tmp_path / "series.csv", index=False)
    run = tmp_path / "run"
    args = ["dataset=timeseries_csv", f"dataset.path={tmp_path / 'series.csv'}", "dataset.value=Temp"]
    train_in_process([*args, "dataset.window=12", "model=mlp", "trainer.max_epochs=5", "plots.enabled=false"], run)
    result = explain_run(run, n=30, method="gradient_shap")
    with open(result.folder / "steps.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == [f"t-{12 - s}" for s in range(12)]
    assert result.attributions.shape == (30, 12, 1)
    assert (result.folder / "steps.png").stat().st_size > 0


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    write_idx(root / "MNIST" / "raw", "train", *learnable_images(300, rng))
    write_idx(root / "MNIST" / "raw", "t10k", *learnable_images(60, rng))
    return root


@pytest.mark.slow
def test_image_run_writes_a_grid_and_a_tensorboard_figure(mnist_root, tmp_path, one_thread):
    run = tmp_path / "cnn"
    data = ["dataset=mnist", f"dataset.root={mnist_root}", "dataset.download=false", "plots.enabled=false"]
    train_in_process([*data, "model=cnn", "trainer.max_epochs=2"], run)
    result = explain_run(run, n=12, method="occlusion")
    assert (run / "explain" / "occlusion" / "images.png").stat().st_size > 0
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert result.attributions.shape == result.inputs.shape == (12, 1, 28, 28)
    # class k is a bright square in cell k: the heat map is strongest there
    maps = result.attributions.abs().sum(dim=1)
    inside = [
        maps[i, r * 7 : r * 7 + 6, c * 7 : c * 7 + 6].mean()
        for i, (r, c) in enumerate(divmod(int(k), 4) for k in result.predicted)
    ]
    assert float(torch.stack(inside).mean()) > 2 * float(maps.mean())


def test_bad_input_is_one_line_with_exit_code_2(cli, tmp_path, table_run, mnist_root):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(cli("explain", "empty"), "is not a run directory", tmp_path)
    assert_one_line_error(cli("explain", str(table_run), "-n", "0"), "-n must be at least 1, got 0", tmp_path)
    line = assert_one_line_error(
        cli("explain", str(table_run), "--method", "saliancy"), "unknown explain method", tmp_path
    )
    assert "Did you mean 'saliency'?" in line
    assert_one_line_error(cli("explain", str(table_run), "--target", "maybe"), "--target must be one of", tmp_path)
    vae = tmp_path / "vae"
    data = ["dataset=mnist", f"dataset.root={mnist_root}", "dataset.download=false", "plots.enabled=false"]
    train_in_process([*data, "task=vae", "model=vae_mlp", "model.hidden=[16]", "trainer.max_epochs=1"], vae)
    assert_one_line_error(cli("explain", str(vae)), "explains classification and regression models", tmp_path)


def test_without_captum_one_line_names_the_extra(cli, tmp_path, table_run, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "captum", None)  # `import captum` raises ImportError
    line = assert_one_line_error(cli("explain", str(table_run)), "dlrun explain needs Captum", tmp_path)
    assert "pip install 'dlrun[explain]'" in line


def test_console_summary_lists_rankings_and_files(cli, table_run, tmp_path):
    result = cli("explain", str(table_run), "-n", "10", "-o", str(tmp_path / "here"))
    assert result.returncode == 0, result.stderr
    assert "integrated_gradients on 10 test examples (table)" in result.stdout
    assert "permutation (accuracy drop):" in result.stdout and "columns.csv" in result.stdout
