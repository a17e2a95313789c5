"""Shared helpers: run the CLI in this process (fast) or in a real subprocess (when the process is the point),
or train in-process without the CLI."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import traceback
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# A test plugin (write it as killer.py beside a run, then `plugins=[killer] "callbacks=[{name: kill_at, epoch: E,
# step: S}]"`): kill the process hard in the middle of an epoch, as a power cut would. The resume tests of every
# stateful switch use it.
KILLER = textwrap.dedent('''
    """Test plugin: kill this process hard in the middle of an epoch, as a power cut would."""
    import os
    import signal

    from dlrun.callbacks import CALLBACKS, Callback


    @CALLBACKS.register("kill_at")
    class KillAt(Callback):
        def __init__(self, epoch: int, step: int = 3):
            self.epoch, self.step = epoch, step

        def on_batch_end(self, trainer, step, logs):
            if trainer.epoch == self.epoch and step == self.step:
                os.kill(os.getpid(), signal.SIGKILL)
''')


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m dlrun ARGS` in a new process: for signals, torchrun workers, import costs, the real entry point."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    full_env.pop("DLRUN_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "dlrun", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


class _ProcessState:
    """What a `dlrun` command changes in the interpreter and a new process would have started without: logging
    handlers and levels (Hydra's job logging), registries and imported plugin modules, sys.path, os.environ, warning
    filters, torch's thread count and determinism flags. `restore()` puts all of it back."""

    def __init__(self, cwd: Path):
        import torch

        from dlrun import plugins, registry

        self.cwd = Path(cwd).resolve()
        self.environ = dict(os.environ)
        self.path = list(sys.path)
        self.modules = set(sys.modules)
        self.warnings = list(warnings.filters)
        manager = logging.Logger.manager
        self.loggers = {
            name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
            for name, lg in manager.loggerDict.items()
            if isinstance(lg, logging.Logger)
        }
        root = logging.getLogger()
        self.root = (root.level, list(root.handlers))
        self.plugins_loaded = set(getattr(plugins, "_loaded", ()))
        self.registries = {
            id(r): (r, {k: dict(v) for k, v in vars(r).items() if isinstance(v, dict)}) for r in _registries(registry)
        }
        self.torch = (
            torch.get_num_threads(),
            torch.are_deterministic_algorithms_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )

    def restore(self) -> None:
        import torch

        from dlrun import plugins, registry

        # logging: close and drop the handlers the command added (Hydra's console and file handlers)
        kept = set(self.root[1])
        for _, handlers, _, _ in self.loggers.values():
            kept.update(handlers)
        every = [
            logging.getLogger(),
            *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
        ]
        for lg in every:
            for handler in lg.handlers:
                if handler not in kept:
                    handler.close()
        root = logging.getLogger()
        root.setLevel(self.root[0])
        root.handlers[:] = self.root[1]
        for name, lg in logging.Logger.manager.loggerDict.items():
            if not isinstance(lg, logging.Logger):
                continue
            if name in self.loggers:
                lg.level, handlers, lg.propagate, lg.disabled = self.loggers[name]
                lg.handlers[:] = handlers
            else:
                lg.handlers.clear()
                lg.setLevel(logging.NOTSET)
                lg.disabled = False
        logging.Logger.manager._clear_cache()

        # plugin modules imported from the working directory, and what they registered
        for name in set(sys.modules) - self.modules:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).resolve().is_relative_to(self.cwd):
                del sys.modules[name]
        for reg in _registries(registry):
            saved = self.registries.get(id(reg))
            if saved is not None:
                for attr, content in saved[1].items():
                    current = getattr(reg, attr)
                    current.clear()
                    current.update(content)
        if hasattr(plugins, "_loaded"):
            plugins._loaded.clear()
            plugins._loaded.update(self.plugins_loaded)
        sys.path[:] = self.path
        os.environ.clear()
        os.environ.update(self.environ)
        warnings.filters[:] = self.warnings

        threads, deterministic, cudnn_deterministic, benchmark = self.torch
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = benchmark


def _registries(registry_module) -> list:
    """Every Registry instance in the imported dlrun modules (models, datasets, callbacks...)."""
    kind = getattr(registry_module, "Registry", None)
    if kind is None:
        return []
    found = {}
    for name, module in list(sys.modules.items()):
        if name == "dlrun" or name.startswith("dlrun."):
            for value in list(vars(module).values()):
                if isinstance(value, kind):
                    found[id(value)] = value
    return list(found.values())


def run_cli_in_process(
    *args: str, cwd: Path, env: dict | None = None, timeout: int | None = None
) -> subprocess.CompletedProcess:
    """`dlrun ARGS` through the console script's own `main()`, in this process, as a subprocess would see it: the
    working directory is `cwd`, `env` is added to os.environ, stdout and stderr are captured, the exit code is that of
    SystemExit (an uncaught exception prints its traceback and gives 1, as Python does). Hydra's global state,
    logging handlers, registries, plugin modules, sys.argv, sys.path, the environment and the cwd are restored
    afterwards. `timeout` is accepted for run_cli's signature and ignored."""
    from hydra.core.global_hydra import GlobalHydra

    from dlrun import cli as cli_module

    out, err = io.StringIO(), io.StringIO()
    code = 0
    state = _ProcessState(cwd)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(cwd)
            mp.setattr(sys, "argv", ["dlrun", *args])
            mp.setitem(cli_module._state, "debug", False)
            mp.delenv("HYDRA_FULL_ERROR", raising=False)
            mp.delenv("DLRUN_DEBUG", raising=False)
            for key, value in (env or {}).items():
                mp.setenv(key, str(value))
            GlobalHydra.instance().clear()
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    cli_module.main()
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                    if exc.code is not None and not isinstance(exc.code, int):
                        print(exc.code, file=sys.stderr)
                except Exception:  # noqa: BLE001 - what the interpreter would print, then exit code 1
                    traceback.print_exc()
                    code = 1
    finally:
        GlobalHydra.instance().clear()
        state.restore()
    return subprocess.CompletedProcess(["dlrun", *args], code, out.getvalue(), err.getvalue())


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
    copy.pop("baseline_fits", None)  # the fitted baselines' fit times
    for row in copy["history"]:
        row.pop("train_time_s", None)
    return copy


@pytest.fixture
def cli(tmp_path):
    """`cli(*args, cwd=tmp_path, env=None)`: run `dlrun ARGS` in this process; returns a CompletedProcess."""

    def _run(*args, **kw):
        return run_cli_in_process(*args, cwd=kw.pop("cwd", tmp_path), **kw)

    return _run


@pytest.fixture
def cli_subprocess(tmp_path):
    """`cli_subprocess(*args, cwd=tmp_path, env=None, timeout=600)`: `python -m dlrun ARGS` in a new process."""

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
