"""Training-health signals per layer and epoch (`trainer.diagnostics`): diagnostics.csv, diagnostics.png and
TensorBoard scalars `diagnostics/<layer>/<signal>`.

A layer is a leaf module with parameters of its own (Linear, Conv, LSTM/GRU, BatchNorm, Embedding...), named by
its module path (`model.net.0`). Per recorded epoch each layer gets:

- `grad_norm`: the L2 norm of its gradients just before the optimizer step (before clipping), averaged over the
  sampled steps (the first step of the epoch and every `grad_every_n_steps`-th);
- `weight_norm`: the L2 norm of its parameters at the end of the epoch;
- `update_ratio`: ||w_after - w_before|| / ||w_before|| of one optimizer step, measured by snapshotting the
  weights around the sampled steps (learning rate, momentum and Adam's scaling included), averaged;
- `act_mean`, `act_std`: of its outputs on a fixed sample of training rows, forwarded in eval mode without
  gradients at the end of the epoch;
- `dead_fraction`: for a layer whose output feeds an `nn.ReLU` module, the fraction of its units (features of a
  Linear, channels of a Conv) that the ReLU never let through on that sample; empty for other layers. ReLUs
  called as functions inside `forward` are not seen.

It changes nothing in training: the sample is fixed (the first rows of the training split, taken once with the
random number generators saved and restored), the forward runs in eval mode under no_grad and the train mode is
restored. With several processes only rank 0 records, from its own shard of the sample and its own gradients
(which DDP has already averaged over the processes).

`train` adds it when `trainer.diagnostics.enabled` (with the run's data); listed by name under `callbacks:` it has
no data, so it records everything but the activation signals.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dlrun.callbacks.base import Callback
from dlrun.rundir import RunDir

SIGNALS = ("grad_norm", "weight_norm", "update_ratio", "dead_fraction", "act_mean", "act_std")
RELUS = (nn.ReLU, nn.ReLU6)


def layers_of(net: nn.Module, prefix: str) -> dict[str, nn.Module]:
    """{module path: leaf module with parameters of its own}, in registration order."""
    return {
        f"{prefix}.{name}" if name else prefix: module
        for name, module in net.named_modules()
        if not list(module.children()) and any(True for _ in module.parameters(recurse=False))
    }


def relu_owners(net: nn.Module, prefix: str) -> dict[str, nn.Module]:
    """{layer path: the ReLU module its output feeds}: each ReLU belongs to the last layer registered before it."""
    owners: dict[str, nn.Module] = {}
    last = None
    for name, module in net.named_modules():
        if list(module.children()):
            continue
        if any(True for _ in module.parameters(recurse=False)):
            last = f"{prefix}.{name}" if name else prefix
        elif isinstance(module, RELUS) and last is not None and last not in owners:
            owners[last] = module
    return owners


def unit_dim(layer: nn.Module, out: torch.Tensor) -> int:
    """The dimension of an output that indexes units: channels (dim 1) of conv and batch-norm outputs, features
    (the last dim) otherwise."""
    if out.dim() <= 2:
        return out.dim() - 1
    channel_first = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)
    return 1 if isinstance(layer, channel_first) else out.dim() - 1


def _first_tensor(out: Any) -> torch.Tensor | None:
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    return out if isinstance(out, torch.Tensor) else None


def _norm(tensors) -> torch.Tensor:
    """The L2 norm of several tensors taken together (a 0-d tensor on their device)."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t.detach().float()) for t in tensors]))


class Diagnostics(Callback):
    """Record the signals listed in the module doc; rows are kept in the state, so a resumed run keeps them."""

    priority = 65  # after early stopping and the scheduler, before TensorBoard flushes and the checkpoint saves

    def __init__(
        self,
        data=None,
        batches: int = 2,
        min_samples: int = 256,
        every_n_epochs: int = 1,
        grad_every_n_steps: int = 50,
        draw: bool = True,
        dpi: int = 100,
    ):
        self.data, self.batches, self.min_samples = data, batches, min_samples
        self.every_n_epochs, self.grad_every = every_n_epochs, grad_every_n_steps
        self.draw, self.dpi = draw, dpi
        self.rows: list[dict[str, Any]] = []
        self.layers: dict[str, nn.Module] = {}
        self.nets: dict[int, dict[str, nn.Module]] = {}  # id(net) -> its layers
        self.owners: dict[str, nn.Module] = {}
        self.sample: list[dict[str, tuple]] = []
        self.buffers: dict[str, list[torch.Tensor]] = {}  # each layer's weights before a sampled step, reused
        self._reset()

    @classmethod
    def from_config(cls, cfg, data, plots) -> Diagnostics:
        """From `trainer.diagnostics` (a DiagnosticsConfig), the run's data and its `plots` config."""
        return cls(
            data,
            batches=cfg.batches,
            min_samples=cfg.min_samples,
            every_n_epochs=cfg.every_n_epochs,
            grad_every_n_steps=cfg.grad_every_n_steps,
            draw=plots.enabled,
            dpi=plots.dpi,
        )

    def _reset(self) -> None:
        self.step = 0
        self.grads: dict[str, list[torch.Tensor]] = {}
        self.updates: dict[str, list[torch.Tensor]] = {}
        self.before: dict[str, torch.Tensor] = {}  # layer -> ||w|| before the sampled step

    # ------------------------------------------------------------------ set-up
    def on_fit_start(self, trainer):
        task = trainer.task
        for name in task.models:
            net = task.net(name)
            found = layers_of(net, name)
            self.nets[id(net)] = found
            self.layers.update(found)
            self.owners.update(relu_owners(net, name))
        self.sample = self._fixed_sample(trainer)

    def _fixed_sample(self, trainer) -> list[dict[str, tuple]]:
        """The networks' inputs for the first rows of the training split, in `batches` chunks (no augmentation)."""
        data = self.data if self.data is not None else getattr(trainer, "data", None)
        if data is None:
            return []
        rows = min(len(data.train), max(self.min_samples, self.batches * trainer.batch_size))
        chunk = max(1, math.ceil(rows / self.batches))
        sample = []
        with torch.random.fork_rng(devices=_cuda_devices()):  # a DataLoader draws its base seed from the RNG
            for i, (x, _) in enumerate(data.batches("train", chunk)):
                if i >= self.batches:
                    break
                sample.append(trainer.task.summary_inputs(x))
        return sample

    def _recording(self, trainer) -> bool:
        return bool(self.layers) and trainer.epoch % self.every_n_epochs == 0

    # ------------------------------------------------------------------ gradients and updates
    def on_epoch_start(self, trainer, epoch):
        self._reset()

    def on_before_optimizer_step(self, trainer, optimizer, module):
        if self.step % self.grad_every or not self._recording(trainer):
            return
        layers = self.nets.get(id(getattr(module, "module", module)), {})
        with torch.no_grad():
            for name, layer in layers.items():
                params = list(layer.parameters(recurse=False))
                grads = [p.grad for p in params if p.grad is not None]
                if grads:
                    self.grads.setdefault(name, []).append(_norm(grads))
                    buffers = self.buffers.setdefault(name, [torch.empty_like(p) for p in params])
                    for buffer, p in zip(buffers, params, strict=True):
                        buffer.copy_(p)  # into a kept buffer: a fresh clone per step costs page faults
                    self.before[name] = _norm(params)

    def on_batch_end(self, trainer, step, logs):
        if not trainer.task.accumulating:  # counts optimizer steps, not the batches of an accumulation
            self.step += 1
        if not self.before:
            return
        with torch.no_grad():
            for name, norm in self.before.items():
                new = self.layers[name].parameters(recurse=False)
                delta = _norm([old.sub_(n.detach()) for old, n in zip(self.buffers[name], new, strict=True)])
                self.updates.setdefault(name, []).append(delta / norm.clamp_min(1e-12))
        self.before = {}

    # ------------------------------------------------------------------ activations and the epoch's rows
    def on_epoch_end(self, trainer, epoch, logs):
        if not self._recording(trainer):
            return
        acts = self.activation_stats(trainer.task)
        rows = []
        for name, layer in self.layers.items():
            params = list(layer.parameters(recurse=False))
            row: dict[str, Any] = {
                "epoch": epoch,
                "layer": name,
                "kind": type(layer).__name__,
                "params": sum(p.numel() for p in params),
                "grad_norm": _mean(self.grads.get(name)),
                "weight_norm": float(_norm(params)),
                "update_ratio": _mean(self.updates.get(name)),
                **acts.get(name, {}),
            }
            rows.append({k: row.get(k) for k in ("epoch", "layer", "kind", "params", *SIGNALS)})
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + rows
        RunDir(trainer.run_dir).write_diagnostics(self.rows)
        logger = next((cb for cb in trainer.callbacks if hasattr(cb, "add_scalars")), None)
        if logger is not None:
            logger.add_scalars(
                {
                    f"diagnostics/{r['layer']}/{k}": r[k]
                    for r in rows
                    for k in SIGNALS
                    if r[k] is not None and math.isfinite(r[k])
                },
                epoch,
            )

    @torch.no_grad()
    def activation_stats(self, task) -> dict[str, dict[str, float]]:
        """act_mean, act_std and dead_fraction of each layer on the fixed sample (eval mode, no grad)."""
        if not self.sample:
            return {}
        stats: dict[str, list] = {}  # name -> [sum, sum of squares, count]
        active: dict[str, torch.Tensor] = {}
        handles = []

        def record(name: str, layer: nn.Module):
            def hook(_module, _inputs, out):
                out = _first_tensor(out)
                if out is None or not out.is_floating_point():
                    return
                out = out.detach().float()
                s = stats.setdefault(name, [0.0, 0.0, 0])
                s[0] += out.sum().double()
                s[1] += out.pow(2).sum().double()
                s[2] += out.numel()

            return hook

        def record_relu(name: str, layer: nn.Module):
            def hook(_module, _inputs, out):
                if not isinstance(out, torch.Tensor) or out.dim() < 2:
                    return
                dim = unit_dim(layer, out)
                moved = out.detach().movedim(dim, -1)
                fired = (moved > 0).reshape(-1, moved.shape[-1]).any(dim=0)
                active[name] = fired | active[name] if name in active and len(active[name]) == len(fired) else fired

            return hook

        for name, layer in self.layers.items():
            handles.append(layer.register_forward_hook(record(name, layer)))
        for name, relu in self.owners.items():
            handles.append(relu.register_forward_hook(record_relu(name, self.layers[name])))
        was_training = {name: task.net(name).training for name in task.models}
        try:
            task.train(False)
            for inputs in self.sample:
                for name, args in inputs.items():
                    with task.autocast():
                        task.net(name)(*[a for a in args if a is not None])
        finally:
            for h in handles:
                h.remove()
            for name, mode in was_training.items():
                task.net(name).train(mode)
        out: dict[str, dict[str, float]] = {}
        for name, (total, squares, count) in stats.items():
            mean = float(total) / max(count, 1)
            var = max(float(squares) / max(count, 1) - mean * mean, 0.0)
            out[name] = {"act_mean": mean, "act_std": math.sqrt(var)}
        for name, fired in active.items():
            out.setdefault(name, {})["dead_fraction"] = 1.0 - float(fired.float().mean())
        return out

    # ------------------------------------------------------------------ the picture, and state for resuming
    def on_fit_end(self, trainer):
        if self.draw and self.rows:
            from dlrun.plots.diagnostics import diagnostics_figure

            RunDir(trainer.run_dir).write_diagnostics_plot(diagnostics_figure(self.rows), self.dpi)

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict) -> None:
        self.rows = list(state.get("rows", []))


def _mean(values: list[torch.Tensor] | None) -> float | None:
    return float(torch.stack(values).mean()) if values else None


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() and torch.cuda.is_initialized() else []
