"""The plugin contract, end to end: a package installed with pip registers a model through the `dlrun.plugins`
entry point and ships its config option with it (from its schema, no YAML), so `model=square_net` just works."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent / "plugin_pkg"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """tests/plugin_pkg installed as pip installs any package (a wheel built by its own build backend)."""
    work = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PACKAGE, work / "src")  # pip's build writes build/ and egg-info next to the sources
    site = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(work / "src"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


@pytest.mark.slow
def test_an_installed_plugin_package_adds_a_config_option_that_trains(installed, cli_subprocess, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}

    listed = cli_subprocess("list", "models", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("square_net"))
    assert "package dlrun-demo-models 0.1.0" in row
    assert "mlp" in listed.stdout and "  dlrun  " in listed.stdout  # dlrun's own models are still there

    shown = cli_subprocess("show", "model=square_net", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "  name: square_net\n  width: 16\n  bias: true\n" in shown.stdout  # the defaults of its schema

    typo = cli_subprocess("train", "model=square_net", "model.widht=3", env=env)
    assert typo.returncode == 2
    assert typo.stderr.strip() == "dlrun: error: unknown config key 'model.widht'. Did you mean 'model.width'?"
    too_small = cli_subprocess("train", "model=square_net", "model.width=0", env=env)
    assert too_small.stderr.strip() == "dlrun: error: model.width must be >= 1, got 0"
    assert not (tmp_path / "outputs").exists()  # bad input leaves no run behind

    run = cli_subprocess(
        "train",
        "model=square_net",
        "model.width=32",
        "dataset=iris",
        "trainer.max_epochs=30",
        "logger=none",
        "hydra.run.dir=run",
        env=env,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.6  # three balanced classes: chance and the majority class are 0.33
    summary = (tmp_path / "run" / "model_summary.txt").read_text()
    assert summary.startswith("model 'model' (SquareNet)") and "(batch, 32)" in summary


def test_without_the_package_the_option_is_unknown(cli):
    result = cli("train", "model=square_net")
    assert result.returncode == 2
    assert result.stderr.startswith("dlrun: error: unknown model 'square_net'. Known: ")
