"""Sanity experiments (`conf/sanity/default.yaml`): `sanity.shuffle_labels=true` permutes the training labels, the
books' random-label experiment (a net that can memorize noise climbs in training accuracy while validation stays
at chance). The config is `config.py`; the permutation of a DataBundle is `labels.py`. Importing this package
does not import torch."""

from dlrun.sanity.config import SanityConfig

__all__ = ["SanityConfig", "apply_sanity"]


def __getattr__(name: str):
    if name == "apply_sanity":
        from dlrun.sanity.labels import apply_sanity

        return apply_sanity
    raise AttributeError(f"module 'dlrun.sanity' has no attribute '{name}'")
