"""Fitted classical baselines: the models a user would have tried instead of a network (`fitted/models.py`)."""
