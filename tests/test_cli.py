"""The command line: help without torch, list, show, cp (with local recipes winning), eval."""

import json
import subprocess
import sys

import pytest

from conftest import REPO, assert_one_line_error


@pytest.mark.slow
def test_help_does_not_import_torch():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom dlrun.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "assert 'train' in r.output and 'tensorboard' in r.output\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_python_m_dlrun_runs_the_command_with_its_exit_codes(cli_subprocess, tmp_path):
    """The real entry point in a new interpreter: everything it writes (import-time warnings included) is on the
    process's own stdout and stderr, which the in-process runs of the other tests cannot see."""
    shown = cli_subprocess("show", "+experiment=xor_mlp")
    assert shown.returncode == 0, shown.stderr
    assert "name: xor_mlp" in shown.stdout and shown.stderr == ""
    bad = cli_subprocess("train", "optimizer.lr=0")
    assert_one_line_error(bad, "dlrun: error: optimizer.lr must be > 0, got 0", tmp_path)
    assert bad.stdout == ""


def test_list_shows_recipes_and_components(cli):
    result = cli("list")
    assert result.returncode == 0, result.stderr
    for name in (
        "digits_mlp",
        "xor_mlp",
        "breast_cancer_mlp",
        "digits",
        "mlp",
        "classification",
        "rmsprop",
        "reduce_on_plateau",
        "huber",
        "top_k_accuracy",
        "early_stopping",
    ):
        assert name in result.stdout, name
    bad = cli("list", "modles")
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith("Did you mean 'models'?")


def test_show_prints_the_resolved_config(cli):
    result = cli("show", "+experiment=xor_mlp", "optimizer.lr=0.05")
    assert result.returncode == 0, result.stderr
    assert "name: xor_mlp" in result.stdout
    assert "lr: 0.05" in result.stdout
    assert "hidden:\n  - 4\n  - 4" in result.stdout
    assert "seed: 1" in result.stdout and "seed: ${seed}" not in result.stdout


def test_cp_copies_a_recipe_and_the_local_copy_wins(cli, tmp_path):
    result = cli("cp", "xor_mlp")
    assert result.returncode == 0, result.stderr
    local = tmp_path / "experiments" / "xor_mlp.yaml"
    assert local.read_text() == (REPO / "experiments" / "xor_mlp.yaml").read_text()
    again = cli("cp", "xor_mlp")
    assert again.returncode == 2 and "already exists" in again.stderr
    local.write_text(local.read_text().replace("name: xor_mlp", "name: my_xor"))
    shown = cli("show", "+experiment=xor_mlp")
    assert "name: my_xor" in shown.stdout
    listed = cli("list", "experiments")
    assert "xor_mlp" in listed.stdout and "digits_mlp" in listed.stdout


def test_cfg_job_passes_through_to_hydra(cli, tmp_path):
    result = cli("train", "--cfg", "job", "trainer.max_epochs=3")
    assert result.returncode == 0, result.stderr
    assert "max_epochs: 3" in result.stdout
    assert not (tmp_path / "outputs").exists()


def test_eval_reproduces_the_test_metrics_of_the_run(cli, tmp_path):
    for name, extra in (("plain", []), ("stopped", ["trainer.early_stopping.patience=2", "trainer.max_epochs=60"])):
        run = cli("train", "dataset=wine", f"hydra.run.dir={name}", *extra)
        assert run.returncode == 0, run.stderr
        recorded = json.loads((tmp_path / name / "metrics.json").read_text())["test"]
        result = cli("eval", name, "--json")
        assert result.returncode == 0, result.stderr
        measured = json.loads(result.stdout)
        assert {k: measured[k] for k in recorded} == recorded
    val = json.loads(cli("eval", "plain", "--split", "val", "--json").stdout)
    history = json.loads((tmp_path / "plain" / "metrics.json").read_text())["history"]
    assert val["accuracy"] == history[-1]["val/accuracy"]


def test_multirun_grid_makes_one_run_per_combination(cli, tmp_path):
    result = cli(
        "train",
        "-m",
        "dataset=iris",
        "trainer.max_epochs=2",
        "optimizer.lr=0.001,0.01",
        "model.hidden=[8],[8,8]",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    runs = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    assert len(runs) == 4


def test_in_process_runs_leave_the_interpreter_as_they_found_it(cli, tmp_path):
    """The `cli` fixture's promise: each run sees a fresh process and leaves no trace in this one."""
    import logging
    import os

    from hydra.core.global_hydra import GlobalHydra

    root = logging.getLogger()
    before = (list(root.handlers), root.level, os.getcwd(), list(sys.argv), dict(os.environ))
    for name in ("first", "second"):
        result = cli("train", "dataset=iris", "trainer.max_epochs=2", f"hydra.run.dir={name}", env={"DLRUN_X": "1"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("epoch   1 ") == 1  # Hydra's console handler of the first run is gone
        assert "epoch   1 " in (tmp_path / name / "train.log").read_text()
        assert (list(root.handlers), root.level, os.getcwd(), list(sys.argv), dict(os.environ)) == before
        assert not GlobalHydra.instance().is_initialized()
