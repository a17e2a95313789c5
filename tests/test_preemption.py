"""Preemption and interruption: a signal stops a run at a checkpoint of its exact position (exit code 75) and
`trainer.resume=auto` ends with the same metrics.json as an undisturbed run; a second run into a directory in use
is refused (a lock); a full disk is one line, and the previous checkpoint resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import without_times

SIGNALLER = textwrap.dedent('''
    """Test plugin: send this process a signal after training step `step` of epoch `epoch` (of fold `fold`, on
    process `rank` of a distributed job)."""
    import os
    import signal
    from pathlib import Path

    from dlrun.callbacks import CALLBACKS, Callback
    from dlrun.device import distributed


    @CALLBACKS.register("signal_at")
    class SignalAt(Callback):
        def __init__(self, epoch: int, step: int, sig: str = "SIGTERM", times: int = 1, fold=None, rank=None):
            self.epoch, self.step, self.sig, self.times, self.fold, self.rank = epoch, step, sig, times, fold, rank

        def on_batch_end(self, trainer, step, logs):
            if self.fold is not None and Path(trainer.run_dir).name != self.fold:
                return
            if self.rank is not None and distributed.rank() != self.rank:
                return
            if trainer.epoch == self.epoch and step == self.step:
                for _ in range(self.times):
                    os.kill(os.getpid(), getattr(signal, self.sig))
''')

# dropout consumes the RNG, the plateau scheduler and early stopping carry state across epochs, and the
# classification task keeps the epoch's training outputs for train/accuracy and train/f1: all of it must resume
COMMON = [
    "dataset=wine",
    "model.hidden=[32]",
    "model.dropout=0.3",
    "trainer.max_epochs=4",
    "trainer.batch_size=16",  # 128 training rows: 8 steps per epoch
    "scheduler=reduce_on_plateau",
    "scheduler.patience=1",
    "trainer.early_stopping.patience=20",
    "seed=7",
    "logger=none",
    "plots.enabled=false",  # what follows only saves time
    "trainer.diagnostics.enabled=false",
    "baselines.fitted=false",
]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> dict:
    """metrics.json of COMMON trained without a stop (once for the module)."""
    from conftest import train_in_process

    return without_times(train_in_process(COMMON, tmp_path_factory.mktemp("undisturbed") / "run")[1])


def _signal_at(epoch: int, step: int, sig: str = "SIGTERM", **extra) -> list[str]:
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return ["plugins=[signaller]", f"callbacks=[{{name: signal_at, epoch: {epoch}, step: {step}, sig: {sig}{more}}}]"]


def _metrics(path) -> dict:
    return without_times(json.loads((path / "metrics.json").read_text()))


def _expected_line(tmp_path, run: str, sig: str, where: str, extra: list[str]) -> str:
    words = [*COMMON, *extra]
    quoted = " ".join(f"'{w}'" if any(c in w for c in "[]{}: ,") else w for w in words)
    return (
        f"dlrun: stopped by {sig} {where}; checkpoint {tmp_path / run / 'checkpoints' / 'last.pt'} holds the "
        f"position; resume with: dlrun train {quoted} trainer.resume=auto hydra.run.dir={tmp_path / run} "
        "(exit code 75)"
    )


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGUSR1", "SIGINT"])
def test_a_signal_stops_mid_epoch_at_a_checkpoint_and_resume_auto_matches_an_undisturbed_run(
    cli, tmp_path, sig, undisturbed
):
    from dlrun.rundir.checkpoints import load_checkpoint

    (tmp_path / "signaller.py").write_text(SIGNALLER)
    extra = _signal_at(2, 3, sig)
    stopped = cli("train", *COMMON, *extra, "hydra.run.dir=run")
    assert stopped.returncode == 75, stopped.stderr
    assert stopped.stderr.strip().splitlines() == [_expected_line(tmp_path, "run", sig, "at epoch 2, step 3/8", extra)]
    assert not (tmp_path / "run" / "metrics.json").exists()

    trainer = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]
    assert trainer["epoch"] == 1 and [r["epoch"] for r in trainer["history"]] == [1]
    (position,) = trainer["position"]
    assert (position["epoch"], position["step"], position["sizes"]) == (2, 3, [16, 16, 16])
    assert len(position["steps"]) == 3 and len(position["outputs"]) == 3  # per-step sums, kept outputs
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    assert (failed["type"], failed["exit_code"], failed["signal"], failed["epoch"], failed["step"]) == (
        "Preempted",
        75,
        sig,
        2,
        3,
    )

    resumed = cli("train", *COMMON, "trainer.resume=auto", "hydra.run.dir=run")
    assert resumed.returncode == 0, resumed.stderr
    assert "after epoch 1 and 3 steps of epoch 2" in resumed.stdout
    assert not (tmp_path / "run" / "failed.json").exists()  # no longer stopped
    assert _metrics(tmp_path / "run") == undisturbed


def test_diagnose_calls_a_stopped_run_interrupted_and_resumable(cli, tmp_path):
    (tmp_path / "signaller.py").write_text(SIGNALLER)
    assert cli("train", *COMMON, *_signal_at(2, 5), "hydra.run.dir=run").returncode == 75
    found = cli("diagnose", "run", "--format", "json")
    assert found.returncode == 0, found.stderr
    findings = json.loads(found.stdout)
    findings = findings["findings"] if isinstance(findings, dict) else findings
    interrupted = [f for f in findings if f["kind"] == "interrupted"]
    assert len(interrupted) == 1 and not [f for f in findings if f["kind"] == "failed"]
    assert interrupted[0]["message"] == (
        "Interrupted: SIGTERM stopped the run at epoch 2, step 5, with a checkpoint of that position; "
        "trainer.resume=auto continues it exactly."
    )


def test_a_signal_during_the_last_step_or_validation_stops_after_the_epoch_and_its_checkpoint(
    cli, tmp_path, undisturbed
):
    from dlrun.rundir.checkpoints import load_checkpoint

    (tmp_path / "signaller.py").write_text(SIGNALLER)
    extra = _signal_at(2, 8)  # the last step: the epoch validates and writes its checkpoint, then the run stops
    stopped = cli("train", *COMMON, *extra, "hydra.run.dir=run")
    assert stopped.returncode == 75, stopped.stderr
    assert stopped.stderr.strip().splitlines() == [_expected_line(tmp_path, "run", "SIGTERM", "after epoch 2", extra)]
    trainer = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]
    assert trainer["epoch"] == 2 and trainer["position"] is None
    assert cli("train", *COMMON, "trainer.resume=auto", "hydra.run.dir=run").returncode == 0
    assert _metrics(tmp_path / "run") == undisturbed


def test_a_second_ctrl_c_stops_at_once(cli, tmp_path):
    (tmp_path / "signaller.py").write_text(SIGNALLER)
    stopped = cli("train", *COMMON, *_signal_at(2, 3, "SIGINT", times=2), "hydra.run.dir=run")
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.stderr.strip().splitlines() == ["dlrun: interrupted (the last checkpoint written is kept)"]
    from dlrun.rundir.checkpoints import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]["epoch"] == 1  # epoch 1's
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are put back


def test_a_kfold_run_stopped_in_a_fold_resumes_to_the_same_aggregate(cli, tmp_path):
    (tmp_path / "signaller.py").write_text(SIGNALLER)
    kfold = [*COMMON, "cv.folds=2", "trainer.max_epochs=3"]
    stopped = cli("train", *kfold, *_signal_at(2, 2, fold="fold_1"), "hydra.run.dir=run")
    assert stopped.returncode == 75, stopped.stderr
    line = stopped.stderr.strip()
    assert "stopped by SIGTERM at epoch 2, step 2/" in line and str(tmp_path / "run" / "fold_1" / "checkpoints") in line
    assert line.endswith(f"trainer.resume=auto hydra.run.dir={tmp_path / 'run'} (exit code 75)")  # the parent
    assert (tmp_path / "run" / "fold_0" / "metrics.json").exists()
    assert not (tmp_path / "run" / "fold_1" / "metrics.json").exists()

    assert cli("train", *kfold, "trainer.resume=auto", "hydra.run.dir=run").returncode == 0
    assert cli("train", *kfold, "hydra.run.dir=full").returncode == 0
    assert _metrics(tmp_path / "run") == _metrics(tmp_path / "full")


def test_skipped_batches_are_the_tail_of_the_epoch_on_both_batch_paths():
    import torch

    from dlrun.datasets.base import Split
    from dlrun.datasets.batches import LoaderBatches, TensorBatches

    split = Split(torch.arange(50.0).reshape(25, 2), torch.arange(25))
    for batches in (
        TensorBatches(split, 4, True, 3, None),
        LoaderBatches(split, 4, True, 3, None, torch.device("cpu"), 0),
    ):
        batches.set_epoch(2)
        whole = [y.tolist() for _, y in batches]
        batches.skip(5)
        assert [y.tolist() for _, y in batches] == whole[5:]
        assert [y.tolist() for _, y in batches] == whole  # the skip is for one pass only
        assert len(batches) == 7


# ------------------------------------------------------------------ real processes


@pytest.mark.slow
def test_sigterm_from_outside_stops_the_process_with_the_requeue_code(tmp_path):
    """As SLURM or Kubernetes would: SIGTERM to the running `python -m dlrun train`, once it trains."""
    (tmp_path / "slow.py").write_text(
        textwrap.dedent("""
        import time
        from pathlib import Path

        from dlrun.callbacks import CALLBACKS, Callback


        @CALLBACKS.register("slow_steps")
        class SlowSteps(Callback):
            def on_batch_end(self, trainer, step, logs):
                Path("training").touch()
                time.sleep(0.05)
        """)
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [*COMMON, "trainer.max_epochs=200", "plugins=[slow]", "callbacks=[slow_steps]", "hydra.run.dir=run"]
    process = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "train", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "training").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 75, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlrun: stopped by SIGTERM at epoch "), err
    assert "trainer.resume=auto" in lines[0] and "Traceback" not in out + err
    from dlrun.rundir.checkpoints import load_checkpoint

    trainer = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    if failed["step"] is None:  # between two epochs' steps: stopped after the epoch
        assert trainer["epoch"] == failed["epoch"] and trainer["position"] is None
    else:
        assert trainer["position"][0]["step"] == failed["step"] and trainer["epoch"] == failed["epoch"] - 1


HOLDER = textwrap.dedent('''
    """Test plugin: hold the run (and its lock) until the file `release` appears."""
    import time
    from pathlib import Path

    from dlrun.callbacks import CALLBACKS, Callback


    @CALLBACKS.register("hold")
    class Hold(Callback):
        def on_fit_start(self, trainer):
            Path("holding").touch()
            deadline = time.monotonic() + 120
            while not Path("release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
''')


@pytest.mark.slow
def test_a_second_run_into_a_directory_in_use_is_refused(cli, tmp_path):
    (tmp_path / "holder.py").write_text(HOLDER)
    args = ["dataset=iris", "trainer.max_epochs=1", "logger=none", "hydra.run.dir=run"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "train", *args, "plugins=[holder]", "callbacks=[hold]"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "holding").exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        config_before = (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
        second = cli("train", *args, "trainer.max_epochs=2")
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"dlrun: error: run directory {tmp_path / 'run'} is in use by another dlrun process (pid {first.pid}); "
            "wait for it to end or choose another hydra.run.dir"
        ]
        assert (tmp_path / "run" / ".hydra" / "config.yaml").read_text() == config_before  # nothing written
    finally:
        (tmp_path / "release").touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["history"][-1]["epoch"] == 1
    again = cli("train", *args)  # the lock went with the process
    assert again.returncode == 0, again.stderr


def test_the_lock_is_reentrant_in_one_process_and_released_by_kill_9(tmp_path):
    from dlrun.errors import RunDirLocked
    from dlrun.rundir import RunDir

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dlrun.rundir import RunDir\n"
            "with RunDir(sys.argv[1]).lock():\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path / "run"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirLocked, match=rf"in use by another dlrun process \(pid {holder.pid}\)"):
            with RunDir(tmp_path / "run").lock():
                pass
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs
        holder.wait()
    with RunDir(tmp_path / "run").lock(), RunDir(tmp_path / "run").lock(), RunDir(tmp_path / "run" / "fold_0").lock():
        pass  # the OS released the dead process's lock; one process may nest its own


DISK_FULL = textwrap.dedent('''
    """Test plugin: from the end of epoch `epoch` on, a checkpoint write runs out of disk space halfway."""
    import errno
    import os

    import torch

    from dlrun.callbacks import CALLBACKS, Callback


    @CALLBACKS.register("disk_full_at")
    class DiskFullAt(Callback):
        priority = 80  # before ModelCheckpoint (90) writes the epoch's checkpoint

        def __init__(self, epoch: int):
            self.epoch = epoch

        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == self.epoch:
                def full(obj, f, *args, **kwargs):
                    f.write(b"PK partial")
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

                torch.save = full
''')


@pytest.mark.slow
def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_the_previous_checkpoint_resumes(
    cli, cli_subprocess, tmp_path, undisturbed
):
    from dlrun.rundir.checkpoints import load_checkpoint

    (tmp_path / "diskfull.py").write_text(DISK_FULL)
    full = cli_subprocess(
        "train", *COMMON, "plugins=[diskfull]", "callbacks=[{name: disk_full_at, epoch: 3}]", "hydra.run.dir=run"
    )
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    assert full.returncode == 2, full.stderr
    assert full.stderr.strip().splitlines() == [
        f"dlrun: error: cannot write {last}: No space left on device (ENOSPC); the previous file is intact"
    ]
    assert "Traceback" not in full.stdout + full.stderr
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.pt", "last.pt"]  # no temp file left
    assert load_checkpoint(last)["trainer"]["epoch"] == 2

    resumed = cli("train", *COMMON, "trainer.resume=auto", "hydra.run.dir=run")
    assert resumed.returncode == 0, resumed.stderr
    assert "after epoch 2" in resumed.stdout
    assert _metrics(tmp_path / "run") == undisturbed


@pytest.mark.slow
def test_sigterm_to_one_rank_of_a_ddp_job_stops_every_rank_at_one_step_and_resumes_exactly(cli_subprocess, tmp_path):
    """Rank 1 alone gets SIGTERM after step 1 of epoch 2; the ranks agree at step 2 (every log_every_n_steps), write
    one checkpoint with both positions, and the job exits 75; resumed with two processes it ends as undisturbed."""
    from dlrun.rundir.checkpoints import load_checkpoint

    (tmp_path / "signaller.py").write_text(SIGNALLER)
    ddp = [*COMMON, "trainer.max_epochs=3", "device.count=2", "trainer.log_every_n_steps=2"]
    stopped = cli_subprocess("train", *ddp, *_signal_at(2, 1, rank=1), "hydra.run.dir=run")
    assert stopped.returncode == 75, stopped.stderr
    lines = [ln for ln in stopped.stderr.splitlines() if ln.startswith("dlrun: ")]
    assert len(lines) == 1 and lines[0].startswith("dlrun: stopped by SIGTERM at epoch 2, step 2/4; "), stopped.stderr
    trainer = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]
    assert trainer["epoch"] == 1 and [(p["epoch"], p["step"]) for p in trainer["position"]] == [(2, 2), (2, 2)]

    resumed = cli_subprocess("train", *ddp, "trainer.resume=auto", "hydra.run.dir=run")
    assert resumed.returncode == 0, resumed.stderr
    plain = cli_subprocess("train", *ddp, "hydra.run.dir=plain")
    assert plain.returncode == 0, plain.stderr
    assert _metrics(tmp_path / "run") == _metrics(tmp_path / "plain")


def test_a_signal_stops_a_sweep_as_a_whole(cli, tmp_path):
    (tmp_path / "signaller.py").write_text(SIGNALLER)
    swept = cli("train", "-m", *COMMON, *_signal_at(1, 2), "seed=7,8", "hydra.sweep.dir=sweep")
    assert swept.returncode == 75, swept.stderr
    line = [ln for ln in swept.stderr.splitlines() if ln.startswith("dlrun: ")]
    assert len(line) == 1 and line[0].startswith("dlrun: stopped by SIGTERM at epoch 1, step 2/8; ")
    assert f"hydra.run.dir={tmp_path / 'sweep' / '0'} " in line[0]  # that job's own directory
    assert (tmp_path / "sweep" / "0" / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "sweep" / "1").exists()  # the next job did not start


def test_a_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path):
    import errno

    from dlrun.errors import DiskFull
    from dlrun.rundir import atomic_open, write_text

    write_text(tmp_path / "kept.txt", "before\n")
    with pytest.raises(DiskFull) as caught:
        with atomic_open(tmp_path / "kept.txt") as f:
            f.write("after")
            raise RuntimeError("file write failed") from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(caught.value) == (
        f"cannot write {tmp_path / 'kept.txt'}: No space left on device (ENOSPC); the previous file is intact"
    )
    with pytest.raises(DiskFull, match=r"cannot write .*new.txt: Disk quota exceeded \(EDQUOT\); nothing was written"):
        with atomic_open(tmp_path / "new.txt"):
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
    assert (tmp_path / "kept.txt").read_text() == "before\n"
    with pytest.raises(OSError, match="Permission denied"):  # any other error is itself
        with atomic_open(tmp_path / "other.txt"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))


def test_a_signal_inside_an_accumulation_cycle_with_warmup_ema_and_top_k_on_resumes_exactly(cli, tmp_path):
    """Every issue-16 switch with state at once: the stop waits for the cycle's optimizer step (step 6 of 8, not
    4), and the resumed run ends with the undisturbed run's metrics.json and kept checkpoint files."""
    from conftest import train_in_process

    (tmp_path / "signaller.py").write_text(SIGNALLER)
    switches = [
        *[w for w in COMMON if not w.startswith("scheduler")],
        "trainer.accumulate_grad_batches=3",
        "scheduler=warmup_cosine",
        "scheduler.warmup_epochs=1.5",
        "trainer.ema=true",
        "trainer.ema_decay=0.9",
        "trainer.checkpoint.save_top_k=2",
    ]
    undisturbed = without_times(train_in_process(switches, tmp_path / "undisturbed")[1])
    stopped = cli("train", *switches, *_signal_at(2, 4), "hydra.run.dir=run")
    assert stopped.returncode == 75, stopped.stderr
    assert "stopped by SIGTERM at epoch 2, step 6/8;" in stopped.stderr
    resumed = cli("train", *switches, "trainer.resume=auto", "hydra.run.dir=run")
    assert resumed.returncode == 0, resumed.stderr
    assert "after epoch 1 and 6 steps of epoch 2" in resumed.stdout
    assert _metrics(tmp_path / "run") == undisturbed
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch=*.pt"))
    assert kept == sorted(p.name for p in (tmp_path / "undisturbed" / "checkpoints").glob("epoch=*.pt"))
    assert len(kept) == 2
