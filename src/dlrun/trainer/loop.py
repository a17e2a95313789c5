"""The training loop. It reads top to bottom: for each epoch, train, validate, hand the logs to callbacks.

Per-batch work belongs to the task; early stopping, checkpoints and logging are callbacks.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlrun.callbacks.base import Callback, overrides_after_optimizer_step, overrides_before_optimizer_step
from dlrun.datasets.base import DataBundle
from dlrun.device import distributed
from dlrun.errors import Preempted, TrainingDiverged
from dlrun.rundir import RunDir
from dlrun.rundir.checkpoints import save_checkpoint
from dlrun.tasks.base import Task
from dlrun.trainer import debug
from dlrun.trainer.config import TrainerConfig
from dlrun.trainer.preemption import Position, Preemption, resume_command, stopped_line
from dlrun.trainer.progress import Progress

log = logging.getLogger("dlrun")


class Trainer:
    def __init__(
        self,
        cfg: TrainerConfig,
        run_dir: Path,
        seed: int,
        callbacks: list[Callback],
        meta: dict[str, Any] | None = None,
        progress: bool = True,
    ):
        self.cfg, self.run_dir, self.seed = cfg, Path(run_dir), seed
        self.callbacks = sorted(callbacks, key=lambda c: c.priority)
        self.meta = meta or {}  # config, preprocessing, data info: stored in every checkpoint
        self.progress = progress
        self.log = log
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.should_stop = False
        self.task: Task | None = None
        self.log_keys: list[str] = []
        self.example_batch = None
        self.keep_global_batch = False
        self.preemption = Preemption(cfg.log_every_n_steps)  # stops on what preemption.handle_signals() records
        self.position: Position | None = None  # set: a checkpoint inside this epoch (stopped, or resumed)

    # ------------------------------------------------------------------ the loop
    def fit(self, task: Task, data: DataBundle) -> list[dict[str, float]]:
        self.task = task
        hooked = [cb for cb in self.callbacks if overrides_before_optimizer_step(cb)]
        task.before_step_hooks = tuple(functools.partial(cb.on_before_optimizer_step, self) for cb in hooked)
        after = [cb for cb in self.callbacks if overrides_after_optimizer_step(cb)]
        task.after_step_hooks = tuple(functools.partial(cb.on_after_optimizer_step, self) for cb in after)
        splits = ["train"] + (["val"] if data.val is not None else [])
        self.log_keys = [f"{s}/{k}" for s in splits for k in task.log_keys()] + ["lr"]
        batches = data.batches("train", self.batch_size, train=True, seed=self.seed)
        val_batches = data.batches("val", self.eval_batch_size)
        batches, val_batches = debug.fit_batches(self.cfg, data, batches, val_batches, self.batch_size)
        self.example_batch = next(iter(batches), None)
        self._call("on_fit_start")
        for epoch in range(self.epoch + 1, self.cfg.max_epochs + 1):
            if self.should_stop:
                break
            self.epoch = epoch
            self._call("on_epoch_start", epoch)
            logs: dict[str, float] = {"epoch": epoch, "lr": self.position.lr if self.position else task.lr}
            batches.set_epoch(epoch)
            logs.update(self.train_epoch(task, batches, epoch, logs["lr"]))
            self._call("on_train_epoch_end", epoch, logs)  # weight averaging swaps its weights in here
            if val_batches is not None:
                logs.update({f"val/{k}": v for k, v in task.evaluate(val_batches).items()})
            self.history.append(logs)
            if distributed.is_main():
                log.info(self._summary_line(logs))
            self._call("on_epoch_end", epoch, logs)
            if epoch < self.cfg.max_epochs and not self.should_stop and self.preemption.stop_after_epoch(task.device):
                self._preempted(epoch, None, len(batches))
        self._call("on_fit_end")
        return self.history

    def train_epoch(self, task: Task, batches, epoch: int, lr: float | None = None) -> dict[str, float]:
        task.train(True)
        # per-step scalars, reduced once at the end (no per-step kernels); a resumed epoch starts from its position
        done = self.position.to(task.device) if self.position else Position(epoch, 0, task.lr if lr is None else lr)
        self.position = None
        steps, sizes, outputs = done.steps, done.sizes, done.outputs
        if done.step:
            batches.skip(done.step)  # the steps already done are not loaded again
        start = time.perf_counter() - done.train_time_s
        with Progress(
            len(batches), f"epoch {epoch}/{self.cfg.max_epochs}", enabled=self.progress and distributed.is_main()
        ) as bar:
            for step, batch in enumerate(batches, start=done.step + 1):
                task.last_batch = step == len(batches)  # an unfinished gradient accumulation steps after it
                logs = task.training_step(batch)
                sizes.append(len(batch[0]))
                batch_outputs = logs.pop("_outputs", None)
                if self.cfg.train_metrics and batch_outputs is not None:
                    outputs.append(batch_outputs)
                steps.append(logs)
                if step % self.cfg.log_every_n_steps == 0 or step == len(batches):
                    loss = float(logs["loss"])  # reads the device: only every log_every_n_steps
                    if not math.isfinite(loss):
                        self._diverged(epoch, [s["loss"] for s in steps])
                    bar.update(step, loss)
                self._call("on_batch_end", step, logs)
                if self.preemption.stop_mid_epoch(step, len(batches), task, task.device):
                    elapsed = time.perf_counter() - start
                    self.position = Position(epoch, step, done.lr, steps, sizes, outputs, elapsed)
                    self._preempted(epoch, step, len(batches))
        keys = list(steps[0])
        weights = torch.tensor(sizes, dtype=torch.float32, device=steps[0]["loss"].device)
        sums = [weights @ torch.stack([s[k].float() for s in steps]) for k in keys]
        totals = distributed.all_reduce_sum(torch.stack(sums + [weights.sum()]))
        seen = int(totals[-1])
        train_time = time.perf_counter() - start
        means = {f"train/{k}": float(v) / seen for k, v in zip(keys, totals.tolist(), strict=False)}
        if not all(math.isfinite(v) for v in means.values()):
            self._diverged(epoch, [s["loss"] for s in steps])
        if outputs:
            gathered = [
                (
                    distributed.gather_cat(torch.cat([o[0] for o in outputs])),
                    distributed.gather_cat(torch.cat([o[1] for o in outputs])),
                )
            ]
            means.update({f"train/{k}": v for k, v in task.epoch_metrics(gathered).items()})
        means.update(train_time_s=train_time, train_samples=seen)
        return means

    @property
    def batch_size(self) -> int:
        """Per-process batch: trainer.batch_size, or its share when device.keep_global_batch is set."""
        return max(1, self.cfg.batch_size // distributed.world()) if self.keep_global_batch else self.cfg.batch_size

    def batches_per_epoch(self, data: DataBundle) -> int:
        """Training batches of one epoch in this process (under the debug modes' limits), before `fit` draws them."""
        available = len(data.batches("train", self.batch_size, train=True, seed=self.seed))
        return debug.train_batch_count(self.cfg, available)

    @property
    def eval_batch_size(self) -> int:
        return max(self.cfg.batch_size, 512)

    # ------------------------------------------------------------------ helpers
    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _diverged(self, epoch: int, losses: list[torch.Tensor]) -> None:
        bad = (~torch.isfinite(torch.stack(losses))).nonzero()
        step = int(bad[0]) + 1 if len(bad) else len(losses)
        last = RunDir(self.run_dir).checkpoint("last")
        kept = f"; the last good checkpoint is {last}" if last.exists() else ""
        error = TrainingDiverged(f"loss is not finite at epoch {epoch}, step {step}{kept}")
        if distributed.is_main():  # what `dlrun diagnose` reads of a run that diverged (a sweep job adds its own)
            record = {"error": str(error), "type": type(error).__name__, "exit_code": error.exit_code}
            step_losses = [float(x) for x in torch.stack(losses).float().cpu()]
            RunDir(self.run_dir).write_failure({**record, "epoch": epoch, "step": step, "step_losses": step_losses})
        raise error

    def _preempted(self, epoch: int, step: int | None, total: int) -> None:
        """Stop on a signal: a checkpoint of this position (every process joins its gathering; a stop after an
        epoch has its checkpoint already), the record `dlrun diagnose` reads, and the one line."""
        run = RunDir(self.run_dir)
        if step is not None:
            state = self.checkpoint_state()
            if distributed.is_main():
                save_checkpoint(state, run.checkpoint("last"))
            distributed.barrier()
        line = stopped_line(
            self.preemption.signal, epoch, step, total, run.checkpoint("last"), resume_command(self.run_dir)
        )
        error = Preempted(line)
        if not distributed.is_main():
            raise SystemExit(error.exit_code)  # rank 0 says it, once
        record = {"error": line, "type": type(error).__name__, "exit_code": error.exit_code}
        run.write_failure({**record, "signal": self.preemption.signal, "epoch": epoch, "step": step})
        raise error

    @staticmethod
    def _summary_line(logs: dict[str, float]) -> str:
        metrics = [f"{k} {v:.4f}" for k, v in logs.items() if k.startswith(("train/", "val/"))]
        return "  ".join(
            [f"epoch {logs['epoch']:>3}", *metrics, f"lr {logs['lr']:.3g}", f"{logs['train_time_s']:.2f}s"]
        )

    # ------------------------------------------------------------------ state for checkpoints
    def state_dict(self) -> dict:
        position = distributed.gather_objects(self.position.state_dict()) if self.position else None
        return {
            "epoch": self.epoch - 1 if position else self.epoch,  # the last epoch done
            "position": position,  # inside epoch `epoch + 1`: one per process
            "history": self.history,
            "should_stop": self.should_stop,
            "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
            "rng": distributed.gather_objects(rng_state()),  # one state per process
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.history, self.should_stop = state["epoch"], list(state["history"]), state["should_stop"]
        positions = state.get("position")
        if positions:  # the same number of processes continues inside the epoch; another restarts the epoch
            if len(positions) == distributed.world():
                self.position = Position.from_state(positions[distributed.rank()])
        for cb in self.callbacks:
            if cb.name in state["callbacks"]:
                cb.load_state_dict(state["callbacks"][cb.name])
        states = state["rng"] if isinstance(state["rng"], list) else [state["rng"]]
        # the same number of processes continues exactly; another number reseeds the extra ranks
        set_rng_state(states[distributed.rank()] if len(states) == distributed.world() else states[0])

    def checkpoint_state(self) -> dict:
        return {"task": self.task.state_dict(), "trainer": self.state_dict(), **self.meta}


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
