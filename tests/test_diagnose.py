"""`dlrun diagnose`: each rule on synthetic run directories (firing and not), the output formats and exit codes,
and real short training runs that must get the right diagnosis (and a healthy recipe none)."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

from dlrun.diagnose import baseline_rules, diagnose, fitting, layers, learning_rate, summary_lines
from dlrun.rundir import RunDir, write_text

# ---------------------------------------------------------------------------------------------- synthetic runs


def curve(train, val=None, **more):
    """History rows from lists of train/loss (and val/loss, and other keys)."""
    rows = []
    for i, t in enumerate(train):
        row = {"epoch": i + 1, "lr": 1e-3, "train/loss": t}
        if val is not None:
            row["val/loss"] = val[i]
        for key, values in more.items():
            row[key.replace("__", "/")] = values[i]
        rows.append(row)
    return rows


def config(lr=1e-3, max_epochs=100, patience=None, restore_best=True, **model):
    return {
        "optimizer": {"name": "adam", "lr": lr},
        "model": {"name": "mlp", "hidden": [64, 64], "activation": "relu", "dropout": 0.0, "init": "default", **model},
        "regularization": {"l1": 0.0, "l2": 0.0},
        "trainer": {
            "max_epochs": max_epochs,
            "grad_clip": None,
            "early_stopping": {
                "monitor": "val/loss",
                "mode": "auto",
                "patience": patience,
                "restore_best": restore_best,
            },
            "checkpoint": {"monitor": "val/loss", "mode": "auto"},
        },
    }


def make_run(path, history, cfg=None, finished=True, baselines=None, test=None, diagnostics=None, failure=None):
    import yaml

    files = RunDir(path)
    path.mkdir(parents=True, exist_ok=True)
    if history:
        files.write_history(history)
    if finished:
        files.write_metrics({"history": history, "best": {}, "test": test or {}, "baselines": baselines or {}})
    if cfg is not None:
        files.config.parent.mkdir(exist_ok=True)
        write_text(files.config, yaml.safe_dump(cfg))
    if diagnostics is not None:
        files.write_diagnostics(diagnostics)
    if failure is not None:
        files.write_failure(failure)
    return path


def kinds(findings, severity=None):
    return [f.kind for f in findings if severity is None or f.severity == severity]


def only(findings, kind):
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, [f.message for f in findings]
    return found[0]


DECREASING = [2.0, 1.2, 0.8, 0.6, 0.5, 0.45, 0.42, 0.40]
VAL_OK = [1.9, 1.2, 0.85, 0.66, 0.57, 0.53, 0.51, 0.50]


def test_a_healthy_history_gets_one_healthy_note(tmp_path):
    found = diagnose(make_run(tmp_path / "r", curve(DECREASING, VAL_OK), config(max_epochs=20)))
    assert kinds(found) == ["healthy"] and found[0].severity == "info"
    assert summary_lines(tmp_path / "r") == ["diagnosis: no problems found"]


def test_summary_lines_are_the_warnings_with_their_suggestion(tmp_path):
    run = make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), config(), baselines=BASELINES, test={"accuracy": 0.05})
    lines = summary_lines(run, shown=("below_baseline",))
    assert lines[0] == f"diagnosis: 2 warning(s); details: dlrun diagnose {run}" and len(lines) == 2
    assert lines[1].startswith("  overfitting: Overfitting: val/loss was lowest at epoch 4")
    assert lines[1].endswith(" Try: trainer.early_stopping.patience=5 regularization=l2 model.dropout=0.3")


# ------------------------------------------------------------------------------------------- learning rate


def test_lr_too_high_on_spikes_between_epochs(tmp_path):
    run = make_run(
        tmp_path / "r", curve([2.0, 1.0, 0.8, 5.0, 0.9, 0.85], [1.5, 1.0, 0.9, 3.0, 1.0, 0.9]), config(lr=0.5)
    )
    f = only(diagnose(run), "lr_too_high")
    assert f.severity == "warning" and f.suggestion == "optimizer.lr=0.05"
    assert f.evidence["spikes"][0]["epoch"] == 4 and "epoch 4" in f.message


def test_lr_too_high_on_a_loss_that_exploded_within_an_epoch(tmp_path):
    run = make_run(tmp_path / "r", curve([3e5, 1800.0, 2.9, 3.0], [3.5, 3.2, 2.7, 3.0]), config(lr=10))
    f = only(diagnose(run), "lr_too_high")
    assert [s["epoch"] for s in f.evidence["in_epoch_spikes"]] == [1, 2] and f.suggestion == "optimizer.lr=1"


def test_lr_too_high_on_a_rising_loss_and_not_too_low(tmp_path):
    found = diagnose(make_run(tmp_path / "r", curve([1.0, 1.2, 1.5, 1.8, 2.0]), config()))
    assert "rising" in only(found, "lr_too_high").evidence and "lr_too_low" not in kinds(found)


def test_small_wobbles_near_zero_loss_are_no_spikes(tmp_path):
    train = [2.1, 1.2, 0.5, 0.2, 0.1, 0.05, 0.02, 0.0101, 0.0177, 0.0057, 0.0102, 0.0077]  # digits_mlp's tail
    assert learning_rate.lr_too_high(_record(tmp_path, curve(train))) == []


def test_lr_too_high_when_the_run_diverged(tmp_path):
    failure = {"error": "loss is not finite at epoch 3, step 1", "type": "TrainingDiverged", "exit_code": 3}
    run = make_run(tmp_path / "r", curve([2.0, 1.5]), config(lr=1.0), finished=False, failure={**failure, "epoch": 3})
    f = only(diagnose(run), "lr_too_high")
    assert f.evidence["diverged"] and f.evidence["epoch"] == 3 and f.evidence["epochs_completed"] == 2
    assert f.suggestion == "optimizer.lr=0.1 trainer.grad_clip=1.0"


def test_lr_too_low_on_a_flat_loss_only(tmp_path):
    flat = diagnose(make_run(tmp_path / "a", curve([2.3315, 2.3331, 2.3324, 2.3313]), config(lr=1e-7)))
    f = only(flat, "lr_too_low")
    assert f.suggestion == "optimizer.lr=auto" and f.evidence["epochs"] == 4
    assert learning_rate.lr_too_low(_record(tmp_path, curve(DECREASING))) == []
    assert learning_rate.lr_too_low(_record(tmp_path, curve([2.3, 2.3]))) == []  # too few epochs to tell


def _record(tmp_path, history, cfg=None, **kw):
    from dlrun.diagnose.run_record import read_run

    path = tmp_path / f"rec{len(list(tmp_path.iterdir()))}"
    return read_run(make_run(path, history, cfg, **kw))


# ------------------------------------------------------------------------------------------------- fitting

OVER_TRAIN = [0.7, 0.55, 0.45, 0.35, 0.25, 0.15, 0.08, 0.04, 0.02]
OVER_VAL = [0.65, 0.58, 0.55, 0.54, 0.56, 0.62, 0.70, 0.80, 0.90]


def test_overfitting_names_the_epoch_of_lowest_val_loss_and_the_gap(tmp_path):
    f = only(diagnose(make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), config())), "overfitting")
    assert f.severity == "warning" and f.evidence["best_epoch"] == 4 and "epoch 4" in f.message
    assert f.evidence["gap_last"] == pytest.approx(0.90 - 0.02)
    assert f.suggestion == "trainer.early_stopping.patience=5 regularization=l2 model.dropout=0.3"


def test_overfitting_is_a_note_when_early_stopping_restored_the_best_weights(tmp_path):
    f = only(diagnose(make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), config(patience=8))), "overfitting")
    assert f.severity == "info" and f.evidence["restored_best_weights"]
    assert f.suggestion == "regularization=l2 model.dropout=0.3"


def test_no_overfitting_on_a_small_rise_or_when_train_loss_rises_too(tmp_path):
    small = [0.65, 0.58, 0.55, 0.54, 0.55, 0.56, 0.57, 0.56, 0.57]  # +5% after the low
    assert fitting.overfitting(_record(tmp_path, curve(OVER_TRAIN, small))) == []
    both = [0.7, 0.55, 0.45, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8]
    assert fitting.overfitting(_record(tmp_path, curve(both, OVER_VAL))) == []
    assert fitting.overfitting(_record(tmp_path, curve(OVER_TRAIN[:5], OVER_VAL[:5]))) == []  # 1 epoch after the low


BASELINES = {"split": "test", "majority": {"accuracy": 0.10}, "stratified": {"accuracy": 0.11}}


def test_underfitting_when_training_metrics_do_not_beat_the_baselines(tmp_path):
    history = curve([2.3] * 3 + [2.2], [2.3] * 3 + [2.2], train__accuracy=[0.09, 0.09, 0.1, 0.105])
    f = only(diagnose(make_run(tmp_path / "r", history, config(max_epochs=20), baselines=BASELINES)), "underfitting")
    assert f.evidence["not_beaten"] == [
        {"baseline": "stratified", "metric": "accuracy", "train": 0.105, "baseline_value": 0.11}
    ]
    assert f.suggestion == "trainer.max_epochs=40 model.hidden=[128,128]"
    good = curve(DECREASING, VAL_OK, train__accuracy=[0.5] * 8)
    assert fitting.underfitting(_record(tmp_path, good, config(max_epochs=20), baselines=BASELINES)) == []


def test_underfitting_when_still_improving_at_the_last_of_max_epochs(tmp_path):
    f = only(diagnose(make_run(tmp_path / "r", curve(DECREASING, VAL_OK), config(max_epochs=8))), "underfitting")
    assert f.evidence["last_epoch"] == 8 and f.suggestion == "trainer.max_epochs=16"
    flat_end = VAL_OK[:-1] + [0.52]  # best is not the last epoch
    assert fitting.underfitting(_record(tmp_path, curve(DECREASING, flat_end), config(max_epochs=8))) == []


def test_early_stopping_cut_a_still_improving_run(tmp_path):
    val = [1.0, 0.9, 0.8, 0.7, 0.72, 0.71]  # best at 4, patience 1: stopped at 6 of 50
    run = make_run(tmp_path / "r", curve([1.0, 0.9, 0.8, 0.7, 0.65, 0.6], val), config(max_epochs=50, patience=1))
    f = only(diagnose(run), "early_stopping_cut")
    assert f.evidence["best_epoch"] == 4 and f.evidence["stopped_epoch"] == 6
    assert f.suggestion == "trainer.early_stopping.patience=5"
    patient = _record(tmp_path, curve([1.0] * 6, val), config(max_epochs=50, patience=8))
    assert fitting.early_stopping_cut(patient) == []


def test_below_baseline_matches_dlrun_baselines_not_beaten(tmp_path):
    from dlrun.baselines import not_beaten
    from dlrun.diagnose.baseline_rules import misses

    found = {"split": "test", "majority": {"accuracy": 0.5, "f1": 0.3}, "mean": {"mae": 2.0}}
    for model in ({"accuracy": 0.4, "f1": 0.35, "mae": 2.5}, {"accuracy": 0.5, "f1": 0.2, "mae": 1.0}):
        assert misses(model, found) == not_beaten(model, found)
    run = make_run(tmp_path / "r", curve(DECREASING), config(), baselines=BASELINES, test={"accuracy": 0.105})
    f = only(diagnose(run), "below_baseline")
    assert f.evidence["not_beaten"][0]["baseline"] == "stratified" and "test split" in f.message
    beaten = _record(tmp_path, curve(DECREASING), baselines=BASELINES, test={"accuracy": 0.9})
    assert baseline_rules.below_baseline(beaten) == []


# ------------------------------------------------------------------------------------------- per layer


def diag_rows(epoch, spec):
    """spec: [(layer, kind, grad_norm, dead_fraction)]"""
    return [
        {"epoch": epoch, "layer": layer, "kind": kind, "params": 10, "grad_norm": g, "weight_norm": 1.0,
         "update_ratio": 1e-3, "dead_fraction": dead, "act_mean": 0.1, "act_std": 1.0}
        for layer, kind, g, dead in spec
    ]  # fmt: skip


HEALTHY_LAYERS = [
    ("model.net.0", "Linear", 0.5, 0.05),
    ("model.net.3", "Linear", 0.4, 0.02),
    ("model.net.6", "Linear", 0.3, None),
]


def test_dead_units_per_layer_above_the_threshold(tmp_path):
    rows = diag_rows(1, HEALTHY_LAYERS) + diag_rows(2, [("model.net.0", "Linear", 0.5, 0.75), *HEALTHY_LAYERS[1:]])
    f = only(diagnose(make_run(tmp_path / "r", curve(DECREASING), config(), diagnostics=rows)), "dead_units")
    assert f.evidence["layers"] == {"model.net.0": 0.75} and f.evidence["epoch"] == 2
    assert f.suggestion == "model.activation=leaky_relu model.init=kaiming"
    assert layers.dead_units(_record(tmp_path, curve(DECREASING), diagnostics=diag_rows(1, HEALTHY_LAYERS))) == []


def test_dead_units_count_activation_rows_only_when_the_csv_has_them(tmp_path):
    rows = diag_rows(
        1,
        [
            ("model.net.0", "Linear", 0.5, None),
            ("model.net.1", "BatchNorm1d", 0.1, 0.9),
            ("model.net.2", "ReLU", None, 0.2),
        ],
    )
    assert layers.dead_units(_record(tmp_path, curve(DECREASING), diagnostics=rows)) == []
    rows[2]["dead_fraction"] = 0.5
    assert only(layers.dead_units(_record(tmp_path, curve(DECREASING), diagnostics=rows)), "dead_units").evidence[
        "layers"
    ] == {"model.net.2": 0.5}


def test_vanishing_and_exploding_gradients(tmp_path):
    vanishing = diag_rows(1, [("model.net.0", "Linear", 1e-7, None), ("model.net.1", "BatchNorm1d", 1e-9, None),
                              ("model.net.3", "Linear", 0.5, None)])  # fmt: skip
    f = only(layers.gradients(_record(tmp_path, curve(DECREASING), diagnostics=vanishing)), "vanishing_gradients")
    assert (
        f.evidence["networks"]["model"]["first"] == "model.net.0"
        and f.evidence["networks"]["model"]["last"] == "model.net.3"
    )
    exploding = diag_rows(1, [("model.net.0", "Linear", 5e3, None), ("model.net.3", "Linear", 1.0, None)])
    assert kinds(layers.gradients(_record(tmp_path, curve(DECREASING), diagnostics=exploding))) == [
        "exploding_gradients"
    ]
    growth = diag_rows(1, HEALTHY_LAYERS) + diag_rows(5, [("model.net.0", "Linear", 80.0, None), *HEALTHY_LAYERS[1:]])
    f = only(layers.gradients(_record(tmp_path, curve(DECREASING), diagnostics=growth)), "exploding_gradients")
    assert (
        f.evidence["growth"] == {"model.net.0": {"first": 0.5, "last": 80.0}}
        and f.suggestion == "trainer.grad_clip=1.0"
    )
    nan = diag_rows(1, [("model.net.0", "Linear", math.nan, None), ("model.net.3", "Linear", 1.0, None)])
    assert only(
        layers.gradients(_record(tmp_path, curve(DECREASING), diagnostics=nan)), "exploding_gradients"
    ).evidence["non_finite"] == ["model.net.0"]
    healthy = diag_rows(1, HEALTHY_LAYERS) + diag_rows(2, HEALTHY_LAYERS)
    assert layers.gradients(_record(tmp_path, curve(DECREASING), diagnostics=healthy)) == []


def test_missing_or_empty_diagnostics_csv_gives_no_layer_findings(tmp_path):
    empty = _record(tmp_path, curve(DECREASING), diagnostics=[])
    assert (
        RunDir(tmp_path / "rec0").diagnostics.read_text().strip()
        == "epoch,layer,kind,params,grad_norm,weight_norm,update_ratio,dead_fraction,act_mean,act_std"
    )
    assert layers.dead_units(empty) == [] and layers.gradients(empty) == []
    assert layers.gradients(_record(tmp_path, curve(DECREASING))) == []


# ------------------------------------------------------------------------ interrupted, K-fold, formats, exit codes


def test_an_interrupted_run_is_diagnosed_from_its_history(tmp_path):
    found = diagnose(make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), finished=False))
    assert kinds(found) == ["overfitting", "interrupted"]
    assert only(found, "interrupted").severity == "info"


def test_a_kfold_parent_is_diagnosed_fold_by_fold(tmp_path):
    parent = tmp_path / "kfold"
    make_run(parent / "fold_1", curve(DECREASING, VAL_OK))
    make_run(parent / "fold_2", curve(OVER_TRAIN, OVER_VAL))
    make_run(parent, [], config(), finished=False)  # the parent's .hydra/config.yaml stands for its folds'
    RunDir(parent).write_metrics({"cv": {"folds": 2, "per_fold": []}, "history": []})
    found = diagnose(parent)
    assert found[1].suggestion == "trainer.early_stopping.patience=5 regularization=l2 model.dropout=0.3"
    assert [(f.run, f.kind) for f in found] == [("fold_1", "healthy"), ("fold_2", "overfitting")]
    assert found[1].message.startswith("fold_2: Overfitting")


def test_json_markdown_text_and_exit_codes(cli, tmp_path):
    run = make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), config())
    result = cli("diagnose", str(run), "--format", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert isinstance(found, list) and found[0]["kind"] == "overfitting"
    assert set(found[0]) >= {"kind", "severity", "evidence", "suggestion", "message"}
    assert found[0]["severity"] == "warning" and found[0]["evidence"]["best_epoch"] == 4
    markdown = cli("diagnose", str(run), "--format", "markdown")
    assert markdown.returncode == 0
    assert markdown.stdout.startswith(f"## Diagnosis of `{run}`")
    assert "- **warning** `overfitting`: Overfitting: val/loss was lowest at epoch 4" in markdown.stdout
    text = cli("diagnose", str(run))
    assert (
        text.returncode == 0
        and "overfitting" in text.stdout
        and "try: trainer.early_stopping.patience=5" in text.stdout
    )
    healthy = cli("diagnose", str(make_run(tmp_path / "h", curve(DECREASING, VAL_OK), config(max_epochs=20))))
    assert healthy.returncode == 0 and "healthy" in healthy.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing"], "no such run directory: missing"),
        (["empty"], "empty is not a run directory"),
        (["r", "--format", "xml"], "--format must be one of text, markdown, json, got 'xml'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    make_run(tmp_path / "r", curve(DECREASING), config())
    result = cli("diagnose", *args)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dlrun: error: {message}")


# ------------------------------------------------------------------------------------ real training runs

FAST = ("logger=none", "plots.enabled=false")


def train_and_diagnose(cli, tmp_path, name, *overrides):
    result = cli("train", *FAST, *overrides, f"hydra.run.dir={name}")
    found = cli("diagnose", name, "--format", "json")
    assert found.returncode == 0, found.stderr
    return result, json.loads(found.stdout), RunDir(tmp_path / name)


def warnings_of(found):
    return [f["kind"] for f in found if f["severity"] == "warning"]


def test_digits_with_lr_10_is_learning_rate_too_high(cli, tmp_path):
    result, found, _ = train_and_diagnose(
        cli, tmp_path, "high", "+experiment=digits_mlp", "optimizer.lr=10", "trainer.max_epochs=4"
    )
    assert result.returncode == 0, result.stderr
    high = next(f for f in found if f["kind"] == "lr_too_high")
    assert high["severity"] == "warning" and high["suggestion"] == "optimizer.lr=1"
    # what the exploded loss also caused points at the learning rate, not at a bigger model or more epochs
    under = next(f for f in found if f["kind"] == "underfitting")
    assert under["evidence"]["likely_cause"] == "lr_too_high" and under["suggestion"] == "optimizer.lr=1"
    assert "diagnosis:" in result.stdout and "  lr_too_high: Learning rate too high" in result.stdout


def test_digits_with_lr_1e_7_is_learning_rate_too_low_and_underfitting(cli, tmp_path):
    _, found, _ = train_and_diagnose(
        cli, tmp_path, "low", "+experiment=digits_mlp", "optimizer.lr=1e-7", "trainer.max_epochs=4"
    )
    assert {"lr_too_low", "underfitting"} <= set(warnings_of(found))
    assert next(f for f in found if f["kind"] == "lr_too_low")["suggestion"] == "optimizer.lr=auto"


def test_a_wide_mlp_on_a_hundred_noisy_rows_overfits_at_the_epoch_of_lowest_val_loss(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20))
    y = ((x[:, 0] + x[:, 1] > 0) ^ (rng.random(200) < 0.2)).astype(int)  # 20% of the labels flipped
    lines = [",".join([*(f"x{i}" for i in range(20)), "label"])]
    lines += [",".join([*(f"{v:.5f}" for v in row), str(label)]) for row, label in zip(x, y, strict=True)]
    (tmp_path / "noisy.csv").write_text("\n".join(lines) + "\n")
    data = ("dataset=csv", "dataset.path=noisy.csv", "dataset.target=label", "dataset.split.val=0.3")
    _, found, run = train_and_diagnose(
        cli, tmp_path, "over", *data, "model.hidden=[256,256]", "trainer.max_epochs=25", "trainer.batch_size=16"
    )
    history = run.read_history()
    assert len(history) == 25 and len(run.read_metrics()["history"]) == 25
    lowest = min(history, key=lambda row: row["val/loss"])["epoch"]
    over = next(f for f in found if f["kind"] == "overfitting")
    assert over["severity"] == "warning" and over["evidence"]["best_epoch"] == lowest < 20
    assert over["evidence"]["gap_last"] > 2 * over["evidence"]["gap_at_best"]
    assert over["suggestion"] == "trainer.early_stopping.patience=5 regularization=l2 model.dropout=0.3"


DIVERGE = textwrap.dedent('''
    import torch
    from dlrun.callbacks import CALLBACKS, Callback

    @CALLBACKS.register("blow_up_at")
    class BlowUpAt(Callback):
        """Turn every weight into NaN when an epoch starts."""
        def __init__(self, epoch: int):
            self.epoch = epoch

        def on_epoch_start(self, trainer, epoch):
            if epoch == self.epoch:
                with torch.no_grad():
                    for p in trainer.task.models.parameters():
                        p.fill_(float("nan"))
''')


def test_a_single_run_that_diverges_leaves_failed_json_and_history_and_is_diagnosed(cli, tmp_path):
    (tmp_path / "blowup.py").write_text(DIVERGE)
    result = cli(
        "train",
        *FAST,
        "dataset=iris",
        "plugins=[blowup]",
        "callbacks=[{name: blow_up_at, epoch: 3}]",
        "hydra.run.dir=run",
    )
    assert result.returncode == 3
    run = RunDir(tmp_path / "run")
    failure = run.read_failure()
    assert failure["type"] == "TrainingDiverged" and failure["exit_code"] == 3
    assert (failure["epoch"], failure["step"]) == (3, 1) and math.isnan(failure["step_losses"][0])
    assert [row["epoch"] for row in run.read_history()] == [1, 2] and run.read_metrics() is None
    found = cli("diagnose", "run", "--format", "json")
    assert found.returncode == 0, found.stderr
    high = next(f for f in json.loads(found.stdout) if f["kind"] == "lr_too_high")
    assert (
        high["evidence"]["diverged"]
        and high["evidence"]["epoch"] == 3
        and "trainer.grad_clip=1.0" in high["suggestion"]
    )


def test_digits_mlp_as_shipped_gets_no_warning(cli, tmp_path):
    result, found, _ = train_and_diagnose(cli, tmp_path, "ship", "+experiment=digits_mlp")
    assert result.returncode == 0, result.stderr
    assert warnings_of(found) == [], found
    assert "diagnosis: no problems found" in result.stdout


def test_diagnose_imports_neither_torch_nor_scikit_learn(tmp_path):
    import subprocess
    import sys

    run = make_run(tmp_path / "r", curve(OVER_TRAIN, OVER_VAL), config())
    code = (
        "import sys; from dlrun.diagnose import diagnose; from dlrun.diagnose.render import render; "
        f"render(diagnose({str(run)!r}), 'markdown', 'r'); "
        "print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_books_xor_net_with_default_init_has_dead_units_and_the_suggested_fix_has_none(cli, tmp_path):
    """The book's 4-4 ReLU XOR net with PyTorch's default initialization (seed 1): half of the second layer's
    units never fire; the override the finding suggests (leaky ReLU, Kaiming init) trains without them."""
    epochs = "trainer.max_epochs=30"
    _, found, run = train_and_diagnose(cli, tmp_path, "xor", "+experiment=xor_mlp", "model.init=default", epochs)
    dead = next(f for f in found if f["kind"] == "dead_units")
    assert dead["severity"] == "warning"
    assert dead["evidence"]["layers"] == {"model.net.3": 0.5}, dead
    assert dead["suggestion"] == "model.activation=leaky_relu model.init=kaiming"
    last = [r for r in run.read_diagnostics() if r["epoch"] == 30 and r["layer"] == "model.net.3"]
    assert last[0]["dead_fraction"] == 0.5  # the evidence is the run's own diagnostics.csv

    _, fixed, _ = train_and_diagnose(cli, tmp_path, "fixed", "+experiment=xor_mlp", epochs, *dead["suggestion"].split())
    assert "dead_units" not in warnings_of(fixed)


def test_a_debug_run_gets_only_the_rules_that_apply_to_it(cli, tmp_path):
    """An overfit run trains and validates on the same 2 batches for trainer.overfit_epochs: neither its curves
    nor its config's max_epochs say anything about fitting, so no underfitting / stopped-too-soon finding."""
    _, found, _ = train_and_diagnose(
        cli, tmp_path, "overfit", "+experiment=digits_mlp", "debug=overfit", "trainer.overfit_epochs=30"
    )
    assert found[0]["kind"] == "debug_run" and found[0]["evidence"] == {"mode": "overfit"}
    assert warnings_of(found) == [], found
