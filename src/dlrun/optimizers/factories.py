"""The optimizers declared in `dlrun.optimizers.config`, built with torch.optim."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from omegaconf import DictConfig, OmegaConf

from dlrun.errors import ConfigError
from dlrun.optimizers.config import OPTIMIZERS


def sgd(params: Iterable, lr, weight_decay, momentum, nesterov) -> torch.optim.Optimizer:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov)


def adam(params: Iterable, lr, weight_decay, betas, eps) -> torch.optim.Optimizer:
    """Adam."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps)


def adamw(params: Iterable, lr, weight_decay, betas, eps) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas), eps=eps)


def rmsprop(params: Iterable, lr, weight_decay, alpha, eps, momentum) -> torch.optim.Optimizer:
    """RMSprop (Keras-like defaults: alpha 0.9, eps 1e-7)."""
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, alpha=alpha, eps=eps, momentum=momentum)


def adagrad(params: Iterable, lr, weight_decay, lr_decay, eps) -> torch.optim.Optimizer:
    """Adagrad."""
    return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps)


def build_optimizer(
    cfg: DictConfig, params: Iterable, where: str = "optimizer", model: torch.nn.Module | None = None
) -> torch.optim.Optimizer:
    """The optimizer `cfg` names; `where` is its config node in messages (task.generator_optimizer for a GAN's).

    A `model` with a pretrained backbone (`parameter_groups()`: head, backbone) gets two parameter groups: the
    head at lr, the backbone at lr x backbone_lr_scale (head first: the lr the logs show is the head's).
    """
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    if kwargs.get("lr") == "auto":  # train and lr-find replace it with a number before building
        raise ConfigError(f"{where}.lr=auto is only resolved by `dlrun train` (the range test); give a number here")
    scale = kwargs.pop("backbone_lr_scale", 1.0)
    groups = getattr(model, "parameter_groups", None)
    if groups is not None:
        head, backbone = groups()
        params = [{"params": head, "lr": kwargs["lr"]}, {"params": backbone, "lr": kwargs["lr"] * scale}]
    elif scale != 1.0:
        raise ConfigError(
            f"{where}.backbone_lr_scale is for models with a pretrained backbone (model=torchvision); "
            "this model has none: leave it at 1.0"
        )
    try:
        return OPTIMIZERS.build(kwargs.pop("name"), params, where=where, **kwargs)
    except ConfigError as exc:  # the factories' own checks name the top-level node
        if where != "optimizer" and str(exc).startswith("optimizer."):
            raise ConfigError(where + str(exc)[len("optimizer") :]) from None
        raise
