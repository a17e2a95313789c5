"""Weight averaging with torch.optim.swa_utils: an exponential moving average (trainer.ema) and stochastic weight
averaging (trainer.swa).

EMA: the average is updated after every optimizer step. After each epoch's training pass the averaged weights are
swapped into the networks, so validation, the epoch-end callbacks (early stopping's best weights, checkpoints) and,
after the last epoch, the test split all see them; the raw training weights wait in this callback's state (and so
in every checkpoint) and are swapped back at the next epoch's start. A checkpoint's model weights are therefore the
EMA weights (eval, predict, export and serve use them unchanged) and a resumed run continues from the raw ones.

SWA: the weights at the end of each training pass from `start` on are averaged (an equal-weight running mean);
validation sees the raw weights. With `lr` (trainer.swa_lr), from epoch `start` on torch's SWALR anneals each
optimizer's learning rate to it over `anneal_epochs` (stepped at each epoch's end) and the task's own schedulers
are dropped (no longer stepped). At the end of training the average replaces the weights, batch-norm statistics
are recomputed over the training batches (torch's update_bn; with several processes each computes them over its
share and they are averaged, so every rank holds the same), and checkpoints/last.pt is written again with them.
The raw weights stay in the callback's state, so `trainer.resume` with a larger max_epochs continues training
from them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn

from dlrun.callbacks.base import Callback
from dlrun.device import distributed
from dlrun.rundir import RunDir
from dlrun.rundir.checkpoints import save_checkpoint
from dlrun.schedulers.factories import in_proportion

log = logging.getLogger("dlrun")


def weights_of(net: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a network's state dict (parameters and buffers)."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class _Averaging(Callback):
    """Shared: one AveragedModel per network of the task, the raw weights while the average is swapped in, and
    a state that survives a resume (the averages, their counts and the raw weights: plain tensors)."""

    def __init__(self) -> None:
        self.averaged: dict[str, AveragedModel] = {}
        self.raw: dict[str, dict[str, torch.Tensor]] | None = None  # the training weights, while swapped out
        self.pending: dict | None = None  # a loaded state, applied once the averaged models exist

    def make(self, net: nn.Module) -> AveragedModel:
        raise NotImplementedError

    def on_fit_start(self, trainer):
        task = trainer.task
        self.averaged = {name: self.make(task.net(name)) for name in task.models}
        self.names = {id(task.models[name]): name for name in task.models}  # the module a step passes -> name
        self.names.update({id(task.net(name)): name for name in task.models})
        if self.pending is not None:
            for name, state in self.pending["averaged"].items():
                self.averaged[name].load_state_dict(state)
            self.raw = self.pending["raw"]
            self.pending = None

    def on_epoch_start(self, trainer, epoch):
        if self.raw is not None:  # training continues from the raw weights
            for name, weights in self.raw.items():
                trainer.task.net(name).load_state_dict(weights)
            self.raw = None

    def swap_in(self, trainer, parameters_only: bool = False) -> None:
        """Keep the raw weights (unless kept already) and load the averaged ones into the networks."""
        task = trainer.task
        if self.raw is None:
            self.raw = {name: weights_of(task.net(name)) for name in self.averaged}
        for name, averaged in self.averaged.items():
            net = task.net(name)
            with torch.no_grad():
                if parameters_only:
                    for mine, theirs in zip(net.parameters(), averaged.module.parameters(), strict=True):
                        mine.copy_(theirs)
                else:
                    net.load_state_dict(averaged.module.state_dict())

    def count(self) -> int:
        return min((int(a.n_averaged) for a in self.averaged.values()), default=0)

    def summary(self) -> dict:
        """metrics.json's "weight_averaging" entry."""
        raise NotImplementedError

    def state_dict(self):
        if self.pending is not None:  # loaded but not started (a checkpoint written before fit)
            return self.pending
        return {"averaged": {name: a.state_dict() for name, a in self.averaged.items()}, "raw": self.raw}

    def load_state_dict(self, state):
        self.pending = dict(state)


class EMA(_Averaging):
    """trainer.ema: an exponential moving average of the weights, updated after every optimizer step."""

    priority = 5  # at an epoch's start the raw weights are back before any other callback looks at the model

    def __init__(self, decay: float):
        super().__init__()
        self.decay = decay

    def make(self, net):
        return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)

    def on_after_optimizer_step(self, trainer, optimizer, module):
        name = self.names.get(id(module))
        for key in [name] if name is not None else list(self.averaged):
            self.averaged[key].update_parameters(trainer.task.net(key))

    def on_train_epoch_end(self, trainer, epoch, logs):
        if self.count() > 0:
            self.swap_in(trainer)

    def summary(self):
        return {"method": "ema", "decay": self.decay, "steps": {k: int(a.n_averaged) for k, a in self.averaged.items()}}


class SWA(_Averaging):
    """trainer.swa: average the weights at the end of each training pass from epoch `start` on; at the end of
    training the average replaces them and batch-norm statistics are recomputed over `bn_batches()`."""

    priority = 6

    def __init__(
        self,
        start: int,
        bn_batches: Callable[[], Iterable],
        save: bool = True,
        lr: float | None = None,
        anneal_epochs: int = 1,
    ):
        super().__init__()
        self.start, self.bn_batches, self.save = start, bn_batches, save
        self.lr, self.anneal_epochs = lr, anneal_epochs
        self.annealers: dict[str, SWALR] = {}
        self.anneal_steps: int | None = None  # SWALR steps taken (None: not started)
        self.last_epoch = 0

    def on_fit_start(self, trainer):
        steps = self.pending.get("anneal_steps") if self.pending is not None else None
        super().on_fit_start(trainer)
        if steps is not None:  # resumed after swa_start: SWALR continues where it was
            self.take_over_lr(trainer, steps, resumed=True)

    def on_epoch_start(self, trainer, epoch):
        super().on_epoch_start(trainer, epoch)
        if self.lr is not None and epoch >= self.start and self.anneal_steps is None:
            self.take_over_lr(trainer, 0, resumed=False)

    def take_over_lr(self, trainer, steps: int, resumed: bool) -> None:
        """SWALR on every optimizer, `steps` epoch-end steps in; the task's schedulers are dropped."""
        trainer.task.schedulers.clear()
        for name, optimizer in trainer.task.optimizers.items():
            lrs = [group["lr"] for group in optimizer.param_groups]
            swa_lrs = in_proportion(optimizer, self.lr)  # param groups keep their ratio (backbone_lr_scale)
            annealer = SWALR(optimizer, swa_lrs, anneal_epochs=self.anneal_epochs, anneal_strategy="cos")
            if resumed:  # as if stepped `steps` times; the optimizer's learning rates are the checkpoint's
                annealer.last_epoch, annealer._step_count = steps, steps + 1
                for group, lr in zip(optimizer.param_groups, lrs, strict=True):
                    group["lr"] = lr
                annealer._last_lr = lrs
            self.annealers[name] = annealer
        self.anneal_steps = steps

    def on_epoch_end(self, trainer, epoch, logs):
        if self.annealers:
            for annealer in self.annealers.values():
                annealer.step()
            self.anneal_steps += 1

    def make(self, net):
        return AveragedModel(net)  # equal weights; buffers (batch norm) are recomputed at the end instead

    def on_train_epoch_end(self, trainer, epoch, logs):
        if epoch >= self.start:
            for name, averaged in self.averaged.items():
                averaged.update_parameters(trainer.task.net(name))

    def summary(self):
        n = self.count()
        return {"method": "swa", "epochs": [self.last_epoch - n + 1, self.last_epoch] if n else [], "swa_lr": self.lr}

    def on_fit_end(self, trainer):
        self.last_epoch = trainer.epoch
        n = self.count()
        if n == 0:
            log.info(
                "swa: training ended before epoch %d (trainer.swa_start): the weights are not averaged", self.start
            )
            return
        self.swap_in(trainer, parameters_only=True)
        recomputed = [name for name in self.averaged if recompute_batch_norm(trainer.task.net(name), self.bn_batches)]
        log.info(
            "swa: the weights are the average of epochs %d-%d%s",
            trainer.epoch - n + 1,
            trainer.epoch,
            "; batch-norm statistics recomputed over the training data" if recomputed else "",
        )
        state = trainer.checkpoint_state()  # a collective: every rank
        if self.save:  # last.pt holds the averaged weights (and the raw ones in this callback's state)
            save_checkpoint(state, RunDir(trainer.run_dir).checkpoint("last"))
        distributed.barrier()

    def state_dict(self):
        if self.pending is not None:
            return self.pending
        return {**super().state_dict(), "anneal_steps": self.anneal_steps}


def recompute_batch_norm(net: nn.Module, batches: Callable[[], Iterable]) -> bool:
    """torch's update_bn over the training batches ((x, y) tuples on the device); with several processes the
    statistics of each process's share are averaged. False when the network has no batch norm."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    was_training = net.training
    update_bn(batches(), net)
    net.train(was_training)
    if distributed.world() > 1:
        for m in norms:
            for buf in (m.running_mean, m.running_var):
                buf.copy_(distributed.all_reduce_sum(buf.clone()) / distributed.world())
    return True
