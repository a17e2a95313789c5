"""Optimizers: `conf/optimizer/NAME.yaml` names a factory registered here (torch.optim underneath)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.errors import ConfigError
from dlrun.registry import Registry

OPTIMIZERS = Registry("optimizer")


def _check_common(lr: float, weight_decay: float) -> None:
    if not lr > 0:
        raise ConfigError(f"optimizer.lr must be > 0, got {lr}")
    if weight_decay < 0:
        raise ConfigError(f"optimizer.weight_decay must be >= 0, got {weight_decay}")


@OPTIMIZERS.register("sgd")
def sgd(params: Iterable, lr: float = 0.01, weight_decay: float = 0.0, momentum: float = 0.0,
        nesterov: bool = False) -> torch.optim.Optimizer:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    _check_common(lr, weight_decay)
    if nesterov and momentum <= 0:
        raise ConfigError("optimizer.nesterov needs optimizer.momentum > 0")
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov)


@OPTIMIZERS.register("adam")
def adam(params: Iterable, lr: float = 1e-3, weight_decay: float = 0.0, betas: list[float] = (0.9, 0.999),
         eps: float = 1e-8) -> torch.optim.Optimizer:
    """Adam."""
    _check_common(lr, weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps)


@OPTIMIZERS.register("adamw")
def adamw(params: Iterable, lr: float = 1e-3, weight_decay: float = 0.01, betas: list[float] = (0.9, 0.999),
          eps: float = 1e-8) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay)."""
    _check_common(lr, weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps)


@OPTIMIZERS.register("rmsprop")
def rmsprop(params: Iterable, lr: float = 1e-3, weight_decay: float = 0.0, alpha: float = 0.9, eps: float = 1e-7,
            momentum: float = 0.0) -> torch.optim.Optimizer:
    """RMSprop (Keras-like defaults: alpha 0.9, eps 1e-7)."""
    _check_common(lr, weight_decay)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, alpha=alpha, eps=eps, momentum=momentum)


@OPTIMIZERS.register("adagrad")
def adagrad(params: Iterable, lr: float = 0.01, weight_decay: float = 0.0, lr_decay: float = 0.0,
            eps: float = 1e-10) -> torch.optim.Optimizer:
    """Adagrad."""
    _check_common(lr, weight_decay)
    return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps)


def build_optimizer(cfg: DictConfig, params: Iterable, where: str = "optimizer") -> torch.optim.Optimizer:
    """The optimizer `cfg` names; `where` is its config node in messages (task.generator_optimizer for a GAN's)."""
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    try:
        return OPTIMIZERS.build(kwargs.pop("name"), params, where=where, **kwargs)
    except ConfigError as exc:  # the factories' own checks name the top-level node
        if where != "optimizer" and str(exc).startswith("optimizer."):
            raise ConfigError(where + str(exc)[len("optimizer"):]) from None
        raise
