"""dlrun's attribution methods (Captum), and the class-score model they explain.

Each factory takes `(model, layer)` and returns `attribute(inputs, target, baselines) -> attributions`
(see `dlrun.explain.config`). With a `layer`, the gradient methods attribute to that layer's output
(Captum's Layer* classes); occlusion always hides parts of the inputs themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from dlrun.datasets.vocabulary import OOV, PAD

STEPS = 32  # integrated gradients' Riemann steps
INTERNAL_BATCH = 1024  # examples x steps evaluated at once


class ClassScores(nn.Module):
    """The model's raw outputs as one score per class: a binary model's single logit z becomes (-z, z)."""

    def __init__(self, model: nn.Module, binary: bool):
        super().__init__()
        self.model, self.binary = model, binary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return torch.cat([-out, out], dim=-1) if self.binary else out


def integrated_gradients(model: nn.Module, layer: nn.Module | None):
    """Captum's IntegratedGradients (LayerIntegratedGradients on `layer`)."""
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    method = IntegratedGradients(model) if layer is None else LayerIntegratedGradients(model, layer)

    def attribute(inputs, target, baselines):
        return method.attribute(
            inputs, baselines=baselines, target=target, n_steps=STEPS, internal_batch_size=INTERNAL_BATCH
        )

    return attribute


def saliency(model: nn.Module, layer: nn.Module | None):
    """Captum's Saliency (|gradient|); on a layer, the absolute gradient at its output."""
    from captum.attr import LayerGradientXActivation, Saliency

    if layer is None:
        method = Saliency(model)
        return lambda inputs, target, baselines: method.attribute(inputs, target=target, abs=True)
    on_layer = LayerGradientXActivation(model, layer, multiply_by_inputs=False)
    return lambda inputs, target, baselines: on_layer.attribute(inputs, target=target).abs()


def gradient_shap(model: nn.Module, layer: nn.Module | None):
    """Captum's GradientShap (LayerGradientShap on `layer`), 20 samples, noise 0.1 around the baselines."""
    from captum.attr import GradientShap, LayerGradientShap

    method = GradientShap(model) if layer is None else LayerGradientShap(model, layer)

    def attribute(inputs, target, baselines):
        torch.manual_seed(0)
        return method.attribute(inputs, baselines=baselines, target=target, n_samples=20, stdevs=0.1)

    return attribute


def occlusion(model: nn.Module, layer: nn.Module | None):
    """Captum's Occlusion over the inputs: one feature of a table, one step of a series (all its features), a
    square of about 1/7 of an image's side (all channels), or one word of a text (replaced by the unknown word)."""
    from captum.attr import Occlusion

    method = Occlusion(model)

    def attribute(inputs, target, baselines):
        window = occlusion_window(tuple(inputs.shape[1:]))
        if not inputs.is_floating_point():  # token ids: hiding a word is making it unknown, padding stays
            baselines = torch.where(inputs != PAD, torch.full_like(inputs, OOV), inputs)
        return method.attribute(
            inputs, sliding_window_shapes=window, strides=window, baselines=baselines, target=target
        ).float()

    return attribute


def occlusion_window(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(features,) -> (1,); (steps, features) -> (1, features); (channels, H, W) -> (channels, ~H/7, ~W/7)."""
    if len(shape) == 3:
        return (shape[0], max(1, shape[1] // 7), max(1, shape[2] // 7))
    return (1, *shape[1:])
