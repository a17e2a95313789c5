"""Building the configured model (`MODELS` and the schemas live in `dlrun.models.config`), and `model.init_from`:
start from the matching layers of another run's weights."""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar
from dataclasses import replace

from omegaconf import DictConfig, OmegaConf
from torch import nn

from dlrun.datasets.base import DataInfo
from dlrun.models.config import MODELS
from dlrun.models.layers import EmbeddedColumns

log = logging.getLogger("dlrun")

# set while a task is rebuilt for a checkpoint's weights (resume, eval, predict...): pretrained weights and
# model.init_from are not read then (the checkpoint's replace them, and their files need not be there any more)
_restoring: ContextVar[bool] = ContextVar("restoring_weights", default=False)


def restoring_weights() -> bool:
    return _restoring.get()


@contextlib.contextmanager
def weights_from_checkpoint():
    """Build models inside this block without reading their initial weights (a checkpoint's follow)."""
    token = _restoring.set(True)
    try:
        yield
    finally:
        _restoring.reset(token)


def build_model(cfg: DictConfig, info: DataInfo, where: str = "model") -> nn.Module:
    """The configured model; with embedded table columns, behind an input layer that embeds them."""
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    name = kwargs.pop("name")
    init_from = kwargs.pop("init_from", None)
    if not info.embeddings:
        model = MODELS.build(name, info, where=where, **kwargs)
    else:
        inputs = EmbeddedColumns(info.in_features - len(info.embeddings), info.embeddings)
        inner = replace(info, input_shape=(inputs.out_features,), embeddings=[])
        model = nn.Sequential(inputs, MODELS.build(name, inner, where=where, **kwargs))
    if init_from and not restoring_weights():
        load_matching(model, init_from, where)
    return model


def load_matching(model: nn.Module, source: str, where: str = "model") -> tuple[list[str], list[str]]:
    """Load the tensors of another run's final weights whose names and shapes match `model`'s; log which layers
    were loaded and which were skipped. Returns (loaded, skipped) tensor names."""
    from dlrun.errors import CheckpointError, ConfigError
    from dlrun.rundir.checkpoints import open_checkpoint

    try:
        path, state = open_checkpoint(source, prefer="final")
    except (CheckpointError, ConfigError) as exc:
        raise CheckpointError(f"{where}.init_from: {exc}") from None
    nets = state["task"]["models"]
    weights = nets["model"] if "model" in nets else {f"{n}.{k}": v for n, sd in nets.items() for k, v in sd.items()}
    own = model.state_dict()
    loaded = [k for k, v in own.items() if k in weights and tuple(weights[k].shape) == tuple(v.shape)]
    skipped = [k for k in own if k not in loaded]
    model.load_state_dict({k: weights[k] for k in loaded}, strict=False)
    log.info(
        "%s.init_from: loaded %d of %d tensors from %s: layers %s; skipped (name or shape differ): %s",
        where,
        len(loaded),
        len(own),
        path,
        _layers(loaded),
        _layers(skipped),
    )
    return loaded, skipped


def _layers(keys: list[str]) -> str:
    """Tensor names grouped by layer, in order: 'fc (weight, bias)'."""
    if not keys:
        return "none"
    groups: dict[str, list[str]] = {}
    for key in keys:
        layer, _, tensor = key.rpartition(".")
        groups.setdefault(layer, []).append(tensor)
    return ", ".join(f"{layer or '(top)'} ({', '.join(t)})" for layer, t in groups.items())


def image_input_of(model_cfg: DictConfig) -> dict | None:
    """What the configured model needs its images to be (see `dlrun.models.config.image_input`)."""
    from dlrun.models.config import image_input

    return image_input(OmegaConf.to_container(model_cfg, resolve=True))
