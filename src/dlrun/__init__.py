"""dlrun: a declarative experiment runner for PyTorch.

Importing this package is cheap (no torch); the heavy modules load when a command needs them.
"""

__version__ = "0.1.0"
