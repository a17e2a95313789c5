"""`dlrun explain`: why a trained model predicts what it does (Captum attributions), by kind of data.

    explain_run(path, split, n, method, target, output) -> Explanation      (dlrun.explain.run)
    METHODS                                     the attribution methods by name (dlrun.explain.config)

Files go to the run's explain/METHOD/ folder (`RunDir.explain`): summary.json, and for tables columns.csv and
columns.png (attributions folded back to the original columns, and permutation importance on the run's
metric), for images images.png (also in TensorBoard), for text tokens.csv, tokens.md and class_tokens.csv,
for series steps.csv and steps.png. Importing this package does not import torch or Captum.
"""

from __future__ import annotations

from dlrun.explain.config import METHODS

__all__ = ["METHODS"]
