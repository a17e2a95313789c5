"""dlrun's resumable Optuna sweeper for Hydra (see dlrun_optuna_sweeper.py)."""
