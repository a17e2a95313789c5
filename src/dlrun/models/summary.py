"""A Keras-style model summary: every layer with its output shape and parameter count.

Output shapes come from one forward pass of a tiny example batch in eval mode, without gradients,
so the summary changes neither the weights, nor batch-norm statistics, nor any random state.
"""

from __future__ import annotations

import torch
from torch import nn


def model_summary(models: dict[str, nn.Module], inputs: dict[str, tuple[torch.Tensor, ...]] | None) -> str:
    """The summary of every network; `inputs` holds each one's example inputs (Task.summary_inputs)."""
    return "\n\n".join(_one(name, model, (inputs or {}).get(name)) for name, model in models.items())


def _one(name: str, model: nn.Module, example: tuple[torch.Tensor, ...] | None) -> str:
    shapes: dict[str, str] = {}
    hooks = []
    for layer_name, layer in model.named_modules():
        if layer_name and not list(layer.children()):
            hooks.append(layer.register_forward_hook(_record(shapes, layer_name)))
    if example is not None:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(*example)
        except Exception as exc:  # noqa: BLE001 - a model that needs other inputs still gets its layer list
            shapes["(forward)"] = f"not traced: {type(exc).__name__}"
        finally:
            model.train(was_training)
            for hook in hooks:
                hook.remove()
    rows = [("layer", "type", "output shape", "params")]
    for layer_name, layer in model.named_modules():
        if layer_name and not list(layer.children()):
            count = sum(p.numel() for p in layer.parameters(recurse=False))
            rows.append((layer_name, type(layer).__name__, shapes.get(layer_name, "-"), f"{count:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"model '{name}' ({type(model).__name__})"]
    for i, row in enumerate(rows):
        lines.append("  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=False)), row[3].rjust(widths[3])]))
        if i == 0:
            lines.append("-" * len(lines[-1]))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines.append(f"total parameters: {total:,} (trainable: {trainable:,})")
    if "(forward)" in shapes:
        lines.append(f"output shapes {shapes['(forward)']}")
    return "\n".join(lines)


def _record(shapes: dict[str, str], name: str):
    def hook(module, inputs, output):
        if torch.is_tensor(output):
            shapes[name] = "(" + ", ".join(["batch", *(str(d) for d in output.shape[1:])]) + ")"

    return hook
