"""A run's config as TensorBoard's HParams tab takes it: one scalar per leaf."""

from __future__ import annotations

from omegaconf import OmegaConf


def flat_hparams(cfg) -> dict:
    """Scalar config leaves keyed by their dotted path (lists become strings; plugins and callbacks left out)."""
    plain = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
    flat: dict = {}

    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, (int, float, str, bool)):
                flat[f"{prefix}{key}"] = value
            elif value is not None:
                flat[f"{prefix}{key}"] = str(value)

    walk({k: v for k, v in plain.items() if k not in ("plugins", "callbacks")})
    return flat
