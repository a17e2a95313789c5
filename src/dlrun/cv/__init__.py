"""K-fold cross-validation: `conf/cv/default.yaml` (schema in `config.py`). Each fold is a normal run in
`<run dir>/fold_N/`; the parent run aggregates them (`cross_validate`) and may refit on all non-test rows.
"""

from dlrun.cv.config import CVConfig

__all__ = ["CVConfig", "KFoldSplitter", "cross_validate", "fold_rows"]


def fold_rows(cfg: CVConfig):
    """The row selector of a single-fold run (`cv.fold` set), else None (dataset.split decides)."""
    from dlrun.cv.splitter import KFoldSplitter

    return KFoldSplitter(cfg).fold(cfg.fold) if cfg.fold is not None and cfg.folds > 1 else None


def cross_validate(cfg, checked, run_dir, progress: bool, train):
    """The K-fold parent run (`dlrun.cv.run.cross_validate`); `train` trains one fold (`dlrun.train.train`)."""
    from dlrun.cv.run import cross_validate as run

    return run(cfg, checked, run_dir, progress, train)


def __getattr__(name: str):
    if name == "KFoldSplitter":
        from dlrun.cv.splitter import KFoldSplitter

        return KFoldSplitter
    raise AttributeError(f"module 'dlrun.cv' has no attribute '{name}'")
