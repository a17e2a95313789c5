"""One finding of `dlrun diagnose`: what is wrong (or fine), how sure, the evidence, and the override to try."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WARNING = "warning"
INFO = "info"
SEVERITIES = (WARNING, INFO)

KINDS = (
    "lr_too_high",
    "lr_too_low",
    "overfitting",
    "underfitting",
    "dead_units",
    "exploding_gradients",
    "vanishing_gradients",
    "below_baseline",
    "early_stopping_cut",
    "failed",
    "interrupted",
    "debug_run",
    "healthy",
)


@dataclass(frozen=True)
class Finding:
    """`message` is the evidence as a sentence; `evidence` the same numbers as a dict (epochs, values);
    `suggestion` the command-line overrides to try (None when no single override helps)."""

    kind: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    suggestion: str | None = None
    run: str = "."  # which run directory (a fold of a K-fold parent: fold_1, refit)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be warning or info, got {self.severity!r}")

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "run": self.run,
        }
