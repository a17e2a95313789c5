"""dlrun's Optuna sweeper (hydra/sweeper=dlrun_optuna): search space, samplers, pruning, multi-objective
studies, the report of a study, the dashboard, and the joblib and submitit launchers."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dlrun.device.launch import free_port

optuna = pytest.importorskip("optuna")

from dlrun.errors import ConfigError  # noqa: E402
from dlrun.optuna_trial import PRUNERS, SAMPLERS, build, spec  # noqa: E402
from hydra_plugins.dlrun_optuna_sweeper.dlrun_optuna_sweeper import (  # noqa: E402
    DlrunOptunaSweeper,
    grid_choices,
    search_space,
)

SEARCH = [
    "train",
    "-m",
    "hparams_search=optuna",
    "dataset=iris",
    "trainer.max_epochs=3",
    "hydra.sweep.dir=search",
]
ALWAYS_PRUNE = "hydra.sweeper.pruner={name:threshold,upper:0.0}"  # val/loss > 0: pruned at its first report


def _trials(db: Path):
    with sqlite3.connect(db) as con:
        return con.execute("select number, state from trials order by number").fetchall()


def _intermediate(db: Path):
    with sqlite3.connect(db) as con:
        return con.execute(
            "select t.number, v.step from trial_intermediate_values v join trials t using (trial_id) order by 1, 2"
        ).fetchall()


def test_hydra_sweep_syntax_becomes_optuna_distributions():
    space, fixed = search_space(
        [
            "a=choice(16, 32, 64)",
            "b=interval(0.0, 0.5)",
            "c=tag(log, interval(1e-4, 1e-1))",
            "d=range(1, 10, 3)",
            "e=tag(log, int, interval(1, 1024))",
            "f=range(0.1, 0.4, 0.1)",
            "g=7",
        ]
    )
    d = optuna.distributions
    assert space["a"] == d.CategoricalDistribution([16, 32, 64])
    assert space["b"] == d.FloatDistribution(0.0, 0.5)
    assert space["c"] == d.FloatDistribution(1e-4, 1e-1, log=True)
    assert space["d"] == d.IntDistribution(1, 7, step=3)  # Hydra's range excludes its stop
    assert space["e"] == d.IntDistribution(1, 1024, log=True)
    assert space["f"].low == pytest.approx(0.1) and space["f"].high == pytest.approx(0.3)
    assert fixed == {"g": "7"}
    assert grid_choices(space["d"]) == [1, 4, 7] and grid_choices(space["a"]) == [16, 32, 64]
    with pytest.raises(ValueError, match="grid sampler"):
        grid_choices(space["b"])


def test_samplers_and_pruners_by_name_with_arguments_or_target_and_seeded():
    assert build(spec("median", PRUNERS, "pruner")).__class__ is optuna.pruners.MedianPruner
    halving = build(spec({"name": "successive_halving", "min_resource": 2}, PRUNERS, "pruner"))
    assert isinstance(halving, optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(build(spec("hyperband", PRUNERS, "pruner")), optuna.pruners.HyperbandPruner)
    assert isinstance(build(spec("none", PRUNERS, "pruner")), optuna.pruners.NopPruner)
    custom = build(spec({"_target_": "optuna.pruners.PercentilePruner", "percentile": 30.0}, PRUNERS, "pruner"))
    assert isinstance(custom, optuna.pruners.PercentilePruner)
    with pytest.raises(ConfigError, match="hydra.sweeper.pruner must be one of median, successive_halving"):
        spec("medium", PRUNERS, "pruner")

    sweeper = DlrunOptunaSweeper("tpe", "none", 3, "minimize", None, None, None, 4, 1, 1.0, {})
    space, _ = search_space(["x=interval(0.0, 1.0)", "y=choice(1, 2)"])
    kinds = {"tpe": "TPESampler", "cmaes": "CmaEsSampler", "random": "RandomSampler", "gp": "GPSampler"}
    for name, cls in kinds.items():
        sweeper.sampler_spec = name
        assert type(sweeper.build_sampler(space)).__name__ == cls
    sweeper.sampler_spec = {"name": "grid"}
    assert isinstance(sweeper.build_sampler({"y": space["y"]}), optuna.samplers.GridSampler)

    def proposals(offset):
        sweeper.sampler_spec = "random"
        study = optuna.create_study(sampler=sweeper.build_sampler(space, offset))
        return [study.ask(space).params["x"] for _ in range(3)]

    assert proposals(0) == proposals(0) and proposals(0) != proposals(2)  # seeded; a resumed search moves on
    assert set(SAMPLERS) >= {"tpe", "cmaes", "random", "grid", "gp"}


def test_pruned_trials_stop_after_their_first_epoch_are_recorded_pruned_and_reported(cli, tmp_path):
    result = cli(*SEARCH, "hydra.sweeper.n_trials=2", ALWAYS_PRUNE)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "search" / "optuna.db"
    assert _trials(db) == [(0, "PRUNED"), (1, "PRUNED")]
    assert _intermediate(db) == [(0, 1), (1, 1)]  # each reported epoch 1, then stopped
    metrics = json.loads((tmp_path / "search" / "0" / "metrics.json").read_text())
    assert metrics["pruned"] == {"epoch": 1} and len(metrics["history"]) == 1
    report = cli("report", "search", "--format", "csv")
    assert report.returncode == 0, report.stderr
    statuses = [line.rsplit(",", 1)[-1] for line in report.stdout.strip().splitlines()[1:]]
    assert statuses == ["pruned at epoch 1", "pruned at epoch 1"]


def test_unpruned_trials_report_every_epoch_and_failed_trials_do_not_stop_the_grid_search(cli, tmp_path):
    result = cli(
        *SEARCH,
        "hydra.sweeper.sampler=grid",
        "hydra.sweeper.pruner=median",
        "hydra.sweeper.n_trials=10",
        "hydra.sweeper.params=null",
        "optimizer.lr=choice(0.01,-1)",
    )
    assert result.returncode == 0, result.stderr
    db = tmp_path / "search" / "optuna.db"
    states = dict(_trials(db))
    assert sorted(states.values()) == ["COMPLETE", "FAIL"]  # the grid has 2 points: n_trials is cut to 2
    good = next(n for n, s in states.items() if s == "COMPLETE")
    assert [step for n, step in _intermediate(db) if n == good] == [1, 2, 3]
    assert "sweep: 1 of 2 jobs succeeded" in result.stdout


def test_an_interrupted_trial_is_marked_failed_and_the_search_continues_after_it(cli, tmp_path):
    (tmp_path / "search").mkdir()
    db = tmp_path / "search" / "optuna.db"
    study = optuna.create_study(study_name="default", storage=f"sqlite:///{db}")
    study.ask()  # left RUNNING, as by a killed search
    result = cli(*SEARCH, "hydra.sweeper.n_trials=2")
    assert result.returncode == 0, result.stderr
    assert _trials(db) == [(0, "FAIL"), (1, "COMPLETE")]
    assert (tmp_path / "search" / "1" / "metrics.json").is_file() and not (tmp_path / "search" / "0").exists()


def test_kfold_trials_report_the_running_mean_over_folds_and_a_pruned_one_skips_the_rest(cli, tmp_path):
    result = cli(*SEARCH, "cv.folds=3", "trainer.max_epochs=2", "hydra.sweeper.n_trials=1", ALWAYS_PRUNE)
    assert result.returncode == 0, result.stderr
    db = tmp_path / "search" / "optuna.db"
    assert _trials(db) == [(0, "PRUNED")] and _intermediate(db) == [(0, 1)]  # step 1 = after fold 1
    job = tmp_path / "search" / "0"
    assert (job / "fold_0" / "metrics.json").is_file() and not (job / "fold_1").exists()
    metrics = json.loads((job / "metrics.json").read_text())
    fold = json.loads((job / "fold_0" / "metrics.json").read_text())
    assert metrics["pruned"] == {"epoch": 1, "folds_done": 1} and "pruned" not in fold
    with sqlite3.connect(db) as con:
        (value,) = con.execute("select intermediate_value from trial_intermediate_values").fetchone()
    assert value == pytest.approx(fold["best"]["val/loss"])
    assert "pruned after fold 1" in cli("report", "search", "--format", "csv").stdout


def test_multi_objective_study_has_its_pareto_front_in_the_report_as_a_table_and_a_png(cli, tmp_path):
    result = cli(
        *SEARCH,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler=random",
        "hydra.sweeper.direction=[maximize,minimize]",
        "hydra.sweeper.objectives=[val/accuracy,parameters]",
        "hydra.sweeper.params=null",
        "model.hidden=choice([4],[16],[64])",
    )
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="default", storage=f"sqlite:///{tmp_path / 'search' / 'optuna.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for trial in study.trials:
        metrics = json.loads((tmp_path / "search" / str(trial.number) / "metrics.json").read_text())
        assert trial.values[1] == metrics["parameters"] and trial.state.name == "COMPLETE"
    report = cli("report", "search")
    assert report.returncode == 0, report.stderr
    front = report.stdout[report.stdout.index("Pareto front (") :].splitlines()
    assert "val/accuracy (max)" in front[1] and "parameters (min)" in front[1]
    assert len(front) - 3 == len(study.best_trials) >= 1
    assert (tmp_path / "search" / "pareto_front.png").stat().st_size > 1000


@pytest.mark.slow
def test_joblib_launcher_runs_trials_in_parallel_processes_with_pruning(cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    result = cli(
        *SEARCH, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=2", ALWAYS_PRUNE,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    db = tmp_path / "search" / "optuna.db"
    assert _trials(db) == [(0, "PRUNED"), (1, "PRUNED")] and _intermediate(db) == [(0, 1), (1, 1)]


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_search_each_job_a_run_directory_with_pruning(cli_subprocess, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = cli_subprocess(
        *SEARCH, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=3", "hydra.sweeper.pruner={name:threshold,upper:0.0,n_warmup_steps:2}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    db = tmp_path / "search" / "optuna.db"
    assert _trials(db) == [(0, "PRUNED"), (1, "PRUNED"), (2, "PRUNED")]
    for job in "012":
        metrics = json.loads((tmp_path / "search" / job / "metrics.json").read_text())
        assert metrics["pruned"] == {"epoch": 2} and len(metrics["history"]) == 2  # warm-up: epoch 1 not pruned
        assert (tmp_path / "search" / job / ".hydra" / "config.yaml").is_file()


@pytest.mark.slow
def test_report_dashboard_serves_optuna_dashboard_on_localhost(tmp_path):
    pytest.importorskip("optuna_dashboard")
    study = optuna.create_study(study_name="demo", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "report", "--dashboard", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        deadline, page = time.time() + 60, None
        while time.time() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/", timeout=2) as response:
                    page = response.read().decode()
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.5)
        assert page is not None and "<html" in page.lower()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
            assert "demo" in response.read().decode()
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if browser:  # a real headless browser runs the dashboard's JavaScript, which lists the study
            rendered = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
                + ["--dump-dom", f"http://127.0.0.1:{port}/dashboard/"],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            assert "demo" not in page and "demo" in rendered, rendered[-2000:]
    finally:
        server.terminate()
        server.wait(10)


def test_dashboard_without_a_study_is_one_line(cli, tmp_path):
    result = cli("report", "--dashboard", str(tmp_path))
    assert result.returncode != 0 and "no Optuna study in" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_pruner_or_sampler_name_is_one_line_and_exit_2(cli, tmp_path):
    for setting, message in (
        ("hydra.sweeper.pruner=medium", "hydra.sweeper.pruner must be one of median, successive_halving, hyperband"),
        ("hydra.sweeper.sampler=tpee", "hydra.sweeper.sampler must be one of tpe, cmaes, random, grid, gp"),
    ):
        result = cli(*SEARCH, setting)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"dlrun: error: {message}"), lines
        assert "Traceback" not in result.stderr and not (tmp_path / "search" / "0").exists()
