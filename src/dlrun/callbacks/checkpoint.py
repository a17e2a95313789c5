"""Write checkpoints/last.pt every epoch and checkpoints/best.pt when the monitored metric improves.

`monitor: null` writes last.pt only (for runs without a meaningful validation figure, such as GANs):
the final weights are then the last epoch's, and metrics.json has no "best" entry.

`save_top_k` keeps the k best epochs by the monitor as checkpoints/epoch=NNN-<monitor>=<value>.pt (a file that
falls out of the top k is deleted; -1 keeps every epoch) and `every_n_epochs` keeps checkpoints/epoch=NNN.pt every
n epochs; both are listed in metrics.json ("checkpoints") and remembered in this callback's state, so a resumed run
neither forgets nor duplicates them. Ties rank the earlier epoch first; a NaN monitor value is not ranked.
"""

from __future__ import annotations

import math

from dlrun.callbacks.base import Callback
from dlrun.callbacks.monitor import Monitor
from dlrun.device import distributed
from dlrun.rundir import RunDir
from dlrun.rundir.checkpoints import save_checkpoint


class ModelCheckpoint(Callback):
    """Keras' ModelCheckpoint (last and best); also decides the "best" entry of metrics.json."""

    priority = 90  # after everything that changes state at epoch end, so the file holds it all

    def __init__(
        self,
        monitor: str | None = "val/loss",
        mode: str = "auto",
        save: bool = True,
        save_top_k: int = 0,
        every_n_epochs: int | None = None,
    ):
        self.monitor = Monitor(monitor, mode, "trainer.checkpoint") if monitor is not None else None
        self.save = save  # only rank 0 writes files in a multi-process run
        self.save_top_k, self.every_n_epochs = save_top_k, every_n_epochs
        self.top: list[dict] = []  # {"path", "epoch", "value"} of the kept best epochs, best first
        self.periodic: list[dict] = []  # {"path", "epoch", "value"} of the every_n_epochs copies

    def on_fit_start(self, trainer):
        if self.monitor is not None:
            self.monitor.check_logged(trainer.log_keys)
        if self.save and self.save_top_k != 0:  # a run killed between writing last.pt and deleting a dropped file
            run = RunDir(trainer.run_dir)
            listed = {e["path"] for e in self.top}
            for path in run.epoch_checkpoints():
                if "-" in path.name and path.relative_to(run.path).as_posix() not in listed:
                    run.remove(path)

    def on_epoch_end(self, trainer, epoch, logs):
        improved = self.monitor is not None and self.monitor.update(epoch, logs)
        run = RunDir(trainer.run_dir)
        added, dropped = self._rank(run, epoch, logs)
        if self.every_n_epochs and epoch % self.every_n_epochs == 0:
            added.append(self._entry(run, epoch, logs, named=False))
            self.periodic.append(added[-1])
        state = trainer.checkpoint_state()  # includes this callback's updated state (a collective: every rank)
        if self.save:
            for entry in added:  # first the kept files, then last.pt, which lists them
                save_checkpoint(state, run.path / entry["path"])
            save_checkpoint(state, run.checkpoint("last"))
            if improved:
                save_checkpoint(state, run.checkpoint("best"))
            for entry in dropped:
                run.remove(run.path / entry["path"])
        # no rank starts the next epoch before this epoch's checkpoint is on disk: a process that dies there
        # (and gets restarted with its peers by torchrun) resumes after this epoch, not the one before
        distributed.barrier()

    def _entry(self, run: RunDir, epoch: int, logs: dict, named: bool) -> dict:
        value = logs.get(self.monitor.key) if self.monitor is not None else None
        value = float(value) if value is not None else None
        path = run.epoch_checkpoint(epoch, self.monitor.key, value) if named else run.epoch_checkpoint(epoch)
        return {"path": path.relative_to(run.path).as_posix(), "epoch": epoch, "value": value}

    def _rank(self, run: RunDir, epoch: int, logs: dict) -> tuple[list[dict], list[dict]]:
        """Put this epoch into the top k: (entries to write, entries that fell out)."""
        value = logs.get(self.monitor.key) if self.monitor is not None else None
        if self.save_top_k == 0 or value is None or math.isnan(value):
            return [], []
        entry = self._entry(run, epoch, logs, named=True)
        sign = 1 if self.monitor.mode == "min" else -1
        ranked = sorted([*self.top, entry], key=lambda e: (sign * e["value"], e["epoch"]))
        keep = ranked if self.save_top_k < 0 else ranked[: self.save_top_k]
        self.top = keep
        dropped = [e for e in ranked[len(keep) :] if e is not entry]
        return ([entry] if any(e is entry for e in keep) else []), dropped

    def listing(self) -> list[dict]:
        """metrics.json's "checkpoints": the kept files, the top k by rank (1 = best), then the periodic copies."""
        key = self.monitor.key if self.monitor is not None else None

        def row(entry: dict, rank: int | None) -> dict:
            out = {"path": entry["path"], "epoch": entry["epoch"]}
            if key is not None:
                out[key] = entry["value"]
            return {**out, "rank": rank}

        return [row(e, i) for i, e in enumerate(self.top, start=1)] + [row(e, None) for e in self.periodic]

    def best(self) -> dict:
        if self.monitor is None or self.monitor.best_epoch is None:
            return {}
        return {"epoch": self.monitor.best_epoch, self.monitor.key: self.monitor.best}

    def state_dict(self):
        return {
            "monitor": self.monitor.state_dict() if self.monitor is not None else None,
            "top": [dict(e) for e in self.top],
            "periodic": [dict(e) for e in self.periodic],
        }

    def load_state_dict(self, state):
        if self.monitor is not None and state.get("monitor") is not None:
            self.monitor.load_state_dict(state["monitor"])
        self.top = [dict(e) for e in state.get("top", [])]
        self.periodic = [dict(e) for e in state.get("periodic", [])]
