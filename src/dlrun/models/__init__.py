"""Models: `conf/model/NAME.yaml` names a model declared in `dlrun.models.config` (its keys) and built by the
factory it names (`mlp.py`, `cnn.py`...); sizes come from the data.

Importing this package is cheap: the factories (and torch) load when a model is built.
"""

from dlrun.models.config import MODELS, model_task

__all__ = ["MODELS", "build_model", "model_task"]


def __getattr__(name: str):
    if name == "build_model":
        from dlrun.models.build import build_model

        return build_model
    raise AttributeError(f"module 'dlrun.models' has no attribute '{name}'")
