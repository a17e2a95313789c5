"""The `optimizer` config group: one schema per optimizer (torch.optim underneath, built in `factories.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dlrun.errors import ConfigError
from dlrun.registry import Registry
from dlrun.schema import option

ENGINE_KEYS = ("backbone_lr_scale",)  # keys of every optimizer, used by build_optimizer, not passed to the factory
OPTIMIZERS = Registry("optimizer", group="optimizer", engine_keys=ENGINE_KEYS)

LR_DOC = "learning rate; auto = the range test's suggestion (conf/lr_find/, `dlrun lr-find`)"
LR = float | Literal["auto"]
DECAY_DOC = "L2 penalty applied by the optimizer"
EPS_DOC = "term added to the denominator for stability"
BETAS_DOC = "coefficients of the running averages of the gradient and its square"


@dataclass
class Optimizer:
    """Keys of every optimizer."""

    backbone_lr_scale: float = option(
        1.0,
        "learning rate of a pretrained backbone (model=torchvision) as a fraction of lr (the new head's); "
        "schedulers keep the ratio. Other models: 1.0",
        gt=0,
    )


@OPTIMIZERS.declare("sgd", factory="dlrun.optimizers.factories:sgd")
@dataclass
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum (torch.optim.SGD)."""

    lr: LR = option(0.01, LR_DOC, gt=0)
    weight_decay: float = option(0.0, DECAY_DOC + " (decoupled from the reported loss)", ge=0)
    momentum: float = option(0.0, "momentum factor", ge=0, lt=1)
    nesterov: bool = option(False, "Nesterov momentum (needs momentum > 0)")

    def __post_init__(self):
        if self.nesterov and self.momentum <= 0:
            raise ConfigError("optimizer.nesterov needs optimizer.momentum > 0")


@OPTIMIZERS.declare("adam", factory="dlrun.optimizers.factories:adam")
@dataclass
class Adam(Optimizer):
    """Adam (torch.optim.Adam)."""

    lr: LR = option(0.001, LR_DOC, gt=0)
    weight_decay: float = option(0.0, DECAY_DOC, ge=0)
    betas: tuple[float, float] = option([0.9, 0.999], BETAS_DOC, ge=0, lt=1)
    eps: float = option(1e-08, EPS_DOC, gt=0)


@OPTIMIZERS.declare("adamw", factory="dlrun.optimizers.factories:adamw")
@dataclass
class AdamW(Optimizer):
    """AdamW: Adam with decoupled weight decay (torch.optim.AdamW)."""

    lr: LR = option(0.001, LR_DOC, gt=0)
    weight_decay: float = option(0.01, "decoupled weight decay", ge=0)
    betas: tuple[float, float] = option([0.9, 0.999], BETAS_DOC, ge=0, lt=1)
    eps: float = option(1e-08, EPS_DOC, gt=0)


@OPTIMIZERS.declare("rmsprop", factory="dlrun.optimizers.factories:rmsprop")
@dataclass
class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop); alpha 0.9 and eps 1e-7 match Keras' defaults used by the books."""

    lr: LR = option(0.001, LR_DOC, gt=0)
    weight_decay: float = option(0.0, DECAY_DOC, ge=0)
    alpha: float = option(0.9, "smoothing constant of the squared-gradient average", gt=0, lt=1)
    eps: float = option(1e-07, EPS_DOC, gt=0)
    momentum: float = option(0.0, "momentum factor", ge=0)


@OPTIMIZERS.declare("adagrad", factory="dlrun.optimizers.factories:adagrad")
@dataclass
class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad)."""

    lr: LR = option(0.01, LR_DOC, gt=0)
    weight_decay: float = option(0.0, DECAY_DOC, ge=0)
    lr_decay: float = option(0.0, "learning-rate decay", ge=0)
    eps: float = option(1e-10, EPS_DOC, gt=0)
