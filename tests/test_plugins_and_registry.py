"""Users' own components: a model defined in the user's module, trained through the CLI."""

import json
import textwrap

import pytest

from dlrun.errors import ConfigError
from dlrun.registry import Registry

USER_MODULE = textwrap.dedent('''
    """A user's module: one model registered under a new name."""
    from torch import nn

    from dlrun.models import MODELS


    class Quadratic(nn.Module):
        def __init__(self, d_in, d_out, width):
            super().__init__()
            self.inner = nn.Linear(d_in, width)
            self.outer = nn.Linear(width, d_out)

        def forward(self, x):
            return self.outer(self.inner(x.flatten(1)) ** 2)


    @MODELS.register("quadratic")
    def quadratic(info, width: int = 8):
        """Square-activation network from a user's module."""
        return Quadratic(info.in_features, info.output_size, width)
''')


def _user_project(tmp_path):
    (tmp_path / "my_models.py").write_text(USER_MODULE)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "quadratic.yaml").write_text(
        "# Square-activation network (user's own)\n"
        "name: quadratic  # str: registered model\n"
        "width: 16  # int: hidden width\n"
    )


def test_user_model_from_plugin_module_trains_through_the_cli(cli, tmp_path):
    _user_project(tmp_path)
    result = cli(
        "train",
        "plugins=[my_models]",
        "model=quadratic",
        "dataset=iris",
        "optimizer.lr=0.01",
        "trainer.max_epochs=40",
        "hydra.run.dir=run",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.8
    assert "ClassificationTask, 131 parameters" in result.stdout  # 4*16+16 + 16*3+3


def test_plugin_model_with_a_bad_argument_names_it(cli, tmp_path):
    _user_project(tmp_path)
    result = cli("train", "plugins=[my_models]", "model=quadratic", "model.width=wide")
    assert result.returncode == 2
    assert result.stderr.strip() == "dlrun: error: model.width must be an integer, got 'wide' (str)"
    result = cli("train", "model=quadratic")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "dlrun: error: unknown model 'quadratic'. Known models: cgan_mlp, cnn, dcgan, "
        "gan_mlp, gru, lstm, mlp, torchvision, vae_conv, vae_mlp."
    )


def test_registry_unknown_name_lists_known_and_closest():
    reg = Registry("widget")

    @reg.register("sprocket")
    def sprocket(size: int = 1):
        """A sprocket."""
        return size

    @reg.register()
    def gear(teeth: int = 10):
        return teeth

    assert reg.names() == ["gear", "sprocket"]
    assert reg.build("gear", teeth=12) == 12
    with pytest.raises(
        ConfigError,
        match=r"^unknown widget 'sprockett'. Known widgets: gear, sprocket. "
        r"Did you mean 'sprocket'\?$",
    ):
        reg.get("sprockett")
    with pytest.raises(ConfigError, match=r"^widget.size must be an integer, got 'big' \(str\)$"):
        reg.build("sprocket", size="big")
    with pytest.raises(ConfigError, match=r"^unknown config key 'widget.sise'. Did you mean 'widget.size'\?$"):
        reg.build("sprocket", sise=2)
    with pytest.raises(ConfigError, match=r"^widget 'gear' is already registered \(by "):
        reg.register("gear")(lambda: None)
