"""Several processes on this CPU with torch.distributed (gloo), launched by `dlrun train device.count=2`."""

import json
import textwrap
import time

import pytest
import torch

from conftest import train_in_process, without_times
from dlrun.datasets.batches import shard

COMMON = ["dataset=digits", "device.type=cpu", "trainer.max_epochs=4", "model.hidden=[32]", "logger=none"]


def test_shards_are_disjoint_and_cover_the_epoch():
    for n, world in ((10, 2), (11, 2), (7, 3)):
        train = [shard(n, seed=3, epoch=2, train=True, rank=r, world=world) for r in range(world)]
        assert len({len(t) for t in train}) == 1  # the same number of steps on every rank
        every = torch.cat(train).tolist()
        assert set(every) == set(range(n)) and len(every) - n == (-n) % world  # padding only to even out
        evaluation = torch.cat([shard(n, 0, 0, False, r, world) for r in range(world)])
        assert evaluation.tolist() == list(range(n))  # contiguous chunks: gathering keeps the order


@pytest.mark.slow
def test_two_processes_train_one_run_directory(cli, cli_subprocess, tmp_path):
    # keep_global_batch: 16 rows per process x 2 = the 32 of the single-process run, the same number of steps
    result = cli_subprocess("train", *COMMON, "device.count=2", "device.keep_global_batch=true", "hydra.run.dir=ddp")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("dlrun summary") == 1 and result.stdout.count("epoch   1 ") == 1
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert [r["train_samples"] for r in metrics["history"]] == [1294] * 4  # the whole epoch, across ranks
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    _, single = train_in_process(COMMON, tmp_path / "single")
    assert abs(metrics["test"]["accuracy"] - single["test"]["accuracy"]) <= 0.03

    # validation metrics reduced over both ranks equal one process's on the same weights
    evaluated = cli("eval", "ddp", "--checkpoint", "last", "--split", "val", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    val = json.loads(evaluated.stdout)
    last = metrics["history"][-1]
    assert abs(val["loss"] - last["val/loss"]) < 1e-6 and val["accuracy"] == last["val/accuracy"]

    # a checkpoint written by two processes resumes in one
    _, resumed = train_in_process(
        [*COMMON, "trainer.max_epochs=6", f"trainer.resume={tmp_path / 'ddp'}"], tmp_path / "resumed"
    )
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3, 4, 5, 6]
    assert resumed["history"][:4] == metrics["history"]


FAILING = textwrap.dedent("""
    from dlrun.callbacks import CALLBACKS, Callback
    from dlrun.device import distributed


    @CALLBACKS.register("fail_on_rank")
    class FailOnRank(Callback):
        def __init__(self, rank: int, epoch: int):
            self.rank, self.epoch = rank, epoch

        def on_epoch_start(self, trainer, epoch):
            if distributed.rank() == self.rank and epoch == self.epoch:
                raise RuntimeError(f"rank {self.rank} broke on purpose")
""")


@pytest.mark.slow
def test_a_failing_rank_ends_the_job_with_its_message(cli_subprocess, tmp_path):
    (tmp_path / "failing.py").write_text(FAILING)
    start = time.monotonic()
    result = cli_subprocess(
        "train",
        *COMMON,
        "device.count=2",
        "device.timeout_s=30",
        "plugins=[failing]",
        "callbacks=[{name: fail_on_rank, rank: 1, epoch: 2}]",
        "hydra.run.dir=run",
    )
    assert result.returncode != 0
    assert "rank 1 broke on purpose" in result.stderr
    assert "dlrun: error: training process of rank 1 failed with exit code 1" in result.stderr
    assert time.monotonic() - start < 120
    assert not (tmp_path / "run" / "metrics.json").exists()


KILLER = textwrap.dedent('''
    import os
    import signal
    import time
    from pathlib import Path

    from dlrun.callbacks import CALLBACKS, Callback
    from dlrun.device import distributed
    from dlrun.trainer import preemption


    @CALLBACKS.register("kill_on_rank")
    class KillOnRank(Callback):
        """On the first attempt only (torchrun counts restarts): SIGKILL rank `rank` at the start of `epoch`, and
        hold the other ranks there until torchrun's agent stops them. Without the hold a survivor reaches the next
        collective, fails with PeerLost (exit 1) and, when the agent's monitor (every 0.2 s) is late under load, gets
        reported as the first failure in the same poll as the killed rank."""

        def __init__(self, rank: int, epoch: int):
            self.rank, self.epoch = rank, epoch

        def on_epoch_start(self, trainer, epoch):
            if os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") != "0" or epoch != self.epoch:
                return
            if distributed.rank() == self.rank:
                Path(f"killed_rank_{self.rank}_epoch_{epoch}").touch()
                os.kill(os.getpid(), signal.SIGKILL)
            deadline = time.monotonic() + 120  # the agent sends SIGTERM long before this ends
            while preemption.received() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # SIGTERM is recorded (a graceful stop), not fatal: end on it, as the loop would
            raise SystemExit(1)
''')


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_the_job_ends_as_if_undisturbed(cli_subprocess, tmp_path):
    (tmp_path / "killer.py").write_text(KILLER)
    killed = cli_subprocess(
        "train",
        *COMMON,
        "device.count=2",
        "device.max_restarts=1",
        "trainer.resume=auto",
        "plugins=[killer]",
        "callbacks=[{name: kill_on_rank, rank: 1, epoch: 3}]",
        "hydra.run.dir=killed",
    )
    assert killed.returncode == 0, killed.stderr
    assert (tmp_path / "killed_rank_1_epoch_3").is_file()
    assert "failed (exitcode: -9) local_rank: 1" in killed.stderr  # torchrun saw the kill...
    # ...and the workers continued from the checkpoint of epoch 2 (every rank waits for it before epoch 3)
    assert "resumed from" in killed.stdout and "after epoch 2" in killed.stdout
    assert "Traceback" not in killed.stderr
    plain = cli_subprocess("train", *COMMON, "device.count=2", "hydra.run.dir=plain")
    assert plain.returncode == 0, plain.stderr
    metrics = [without_times(json.loads((tmp_path / run / "metrics.json").read_text())) for run in ("killed", "plain")]
    assert metrics[0] == metrics[1]


def test_a_rank_whose_peer_died_in_a_collective_gets_a_one_line_error(monkeypatch):
    from dlrun.device.distributed import lost_peer
    from dlrun.errors import PeerLost

    closed = RuntimeError(
        "[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:4242"
    )
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert lost_peer(closed) is None  # not in a distributed job: the traceback stays
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    lost = lost_peer(closed)
    assert isinstance(lost, PeerLost) and lost.exit_code == 1
    assert str(lost) == (
        "rank 1: another process of the job ended during a collective operation "
        "([../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
        "[127.0.0.1]:4242)"
    )
    assert lost_peer(ValueError("a bug of the job itself")) is None
