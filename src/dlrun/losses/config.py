"""Losses by name (`task.loss`): declared here without torch, built by `dlrun.losses.functions`."""

from dlrun.registry import Registry

LOSSES = Registry("loss", "losses")

LOSSES.add_lazy(
    "cross_entropy",
    "dlrun.losses.functions:cross_entropy",
    "Softmax cross-entropy on logits (multiclass classification).",
)
LOSSES.add_lazy(
    "bce", "dlrun.losses.functions:bce", "Binary cross-entropy on one logit (sigmoid inside, numerically stable)."
)
LOSSES.add_lazy("mse", "dlrun.losses.functions:mse", "Mean squared error.")
LOSSES.add_lazy("mae", "dlrun.losses.functions:mae", "Mean absolute error (L1).")
LOSSES.add_lazy("huber", "dlrun.losses.functions:huber", "Huber loss: quadratic below delta, linear above.")
