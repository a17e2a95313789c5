"""Class weights for the loss (`task.class_weights`, `task.pos_weight`), from the training split's class counts.

`balanced` weighs class c by n / (k * n_c) (scikit-learn's compute_class_weight("balanced")); for a
binary task `pos_weight: balanced` is n_negative / n_positive (BCEWithLogits' pos_weight).
"""

from __future__ import annotations

from dlrun.errors import ConfigError


def balanced(counts: list[int]) -> list[float]:
    n, k = sum(counts), len(counts)
    return [n / (k * c) if c > 0 else 0.0 for c in counts]


def class_weights(spec, counts: list[int], class_names: list[str]) -> list[float] | None:
    """The weight of each class, in class order, as `task.class_weights` says (null: none)."""
    if spec is None:
        return None
    if spec == "balanced":
        if not counts or not any(counts):
            raise ConfigError("task.class_weights=balanced needs the training split's class counts")
        return balanced(counts)
    if isinstance(spec, dict):
        unknown = [str(k) for k in spec if str(k) not in class_names]
        if unknown:
            raise ConfigError(
                f"task.class_weights names unknown class '{unknown[0]}'; the classes are {', '.join(class_names)}"
            )
        given = {str(k): float(v) for k, v in spec.items()}
        return [given.get(name, 1.0) for name in class_names]
    weights = [float(w) for w in spec]
    if len(weights) != len(class_names):
        raise ConfigError(
            f"task.class_weights has {len(weights)} weights but the data has {len(class_names)} classes "
            f"({', '.join(class_names)})"
        )
    return weights


def pos_weight(spec, counts: list[int]) -> float | None:
    """BCEWithLogits' pos_weight as `task.pos_weight` says: a number, `balanced` (negatives / positives), null."""
    if spec is None:
        return None
    if spec == "balanced":
        if len(counts) != 2 or counts[1] == 0:
            raise ConfigError("task.pos_weight=balanced needs training rows of both classes")
        return counts[0] / counts[1]
    return float(spec)


def check_spec(class_weights_spec, pos_weight_spec) -> None:
    """What can be checked before the data is loaded: positive numbers only."""
    values = []
    if isinstance(class_weights_spec, dict):
        values = list(class_weights_spec.values())
    elif isinstance(class_weights_spec, list):
        values = class_weights_spec
        if not values:
            raise ConfigError("task.class_weights is an empty list; give one weight per class, or balanced")
    bad = [v for v in values if not float(v) > 0]
    if bad:
        raise ConfigError(f"task.class_weights must be positive, got {bad[0]}")
    if isinstance(pos_weight_spec, (int, float)) and not pos_weight_spec > 0:
        raise ConfigError(f"task.pos_weight must be > 0, got {pos_weight_spec}")
