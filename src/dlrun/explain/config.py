"""Attribution methods by name (`dlrun explain --method NAME`), declared here without torch or Captum.

A method is a factory `(model, layer) -> attribute`, where `attribute(inputs, target, baselines)` returns a
tensor of attributions. `model` maps inputs to one score per class (or per output); `layer` is None
(attributions on the inputs, shaped like them) or the module whose output holds the real features (a text
model's token embedding, the embedding layer of a table with embedded columns): attributions are then on
that layer's output. Add your own from a plugin module::

    from dlrun.explain import METHODS

    @METHODS.register("deeplift")
    def deeplift(model, layer):
        from captum.attr import DeepLift, LayerDeepLift
        method = DeepLift(model) if layer is None else LayerDeepLift(model, layer)
        return lambda inputs, target, baselines: method.attribute(inputs, baselines=baselines, target=target)
"""

from __future__ import annotations

from dlrun.registry import Registry

METHODS = Registry("explain method", "explain methods")

METHODS.add_lazy(
    "integrated_gradients",
    "dlrun.explain.methods:integrated_gradients",
    "Integrated gradients from an all-zero (text: all-padding) baseline, 32 steps.",
)
METHODS.add_lazy("saliency", "dlrun.explain.methods:saliency", "The absolute gradient of the class score.")
METHODS.add_lazy(
    "gradient_shap",
    "dlrun.explain.methods:gradient_shap",
    "GradientSHAP: expected gradients x (input - baseline) over 20 noisy samples around the baseline.",
)
METHODS.add_lazy(
    "occlusion",
    "dlrun.explain.methods:occlusion",
    "The drop of the class score when a patch (one feature, a step, an image square, a word -> unknown) is hidden.",
)
