"""dlrun-demo-models: the config schema of one model, declared on import (light: no torch here).

The factory is named by import path, so `dlrun list` and the config checks never import torch; it is
imported when a run builds the model.
"""

from dataclasses import dataclass

from dlrun.models import MODELS
from dlrun.schema import option


@MODELS.declare("square_net", factory="dlrun_demo_models.net:square_net")
@dataclass
class SquareNet:
    """Two linear layers with a squared hidden activation (from the dlrun-demo-models package)."""

    width: int = option(16, "hidden units", ge=1)
    bias: bool = option(True, "learn the layers' biases")
