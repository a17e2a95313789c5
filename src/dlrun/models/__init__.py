"""Models: `conf/model/NAME.yaml` names a factory registered here; sizes come from the data."""

from dlrun.models.registry import MODELS, build_model, check_model_config
from dlrun.models import cnn, dcgan, gan, mlp, recurrent, vae  # noqa: F401  (registers the factories)

__all__ = ["MODELS", "build_model", "check_model_config"]
