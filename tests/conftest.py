"""Shared helpers: run the real CLI in a subprocess, or train in-process for speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def train_in_process(overrides: list[str], run_dir: Path):
    from dlrun.config import compose
    from dlrun.train import train

    cfg = compose(["logger=none", *overrides])
    best = train(cfg, run_dir, progress=False)
    return best, json.loads((run_dir / "metrics.json").read_text())


def without_times(metrics: dict) -> dict:
    """metrics.json minus wall-clock fields, which differ between any two runs."""
    copy = json.loads(json.dumps(metrics))
    copy.pop("wall_time_s", None)
    for row in copy["history"]:
        row.pop("train_time_s", None)
    return copy


@pytest.fixture
def cli(tmp_path):
    def _run(*args, **kw):
        return run_cli(*args, cwd=kw.pop("cwd", tmp_path), **kw)

    return _run


def assert_one_line_error(result: subprocess.CompletedProcess, message: str, run_root: Path) -> str:
    """A bad-input failure: exit code 2, one `dlrun: error:` line holding `message`, no traceback, no run written.
    Returns the line."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dlrun: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(run_root.glob("outputs/**/metrics.json"))
    return lines[0]
