"""The Optuna study of a sweep folder (`hparams_search=optuna`), for `dlrun report`: the Pareto front of a
multi-objective study (a table and a PNG) and `dlrun report --dashboard` (optuna-dashboard on 127.0.0.1).

Optuna is imported only when the folder holds a study (optuna.db).
"""

from __future__ import annotations

from pathlib import Path

from dlrun.errors import DlrunError
from dlrun.optuna_trial import OBJECTIVES_ATTR
from dlrun.rundir import OPTUNA_STUDY_FILE, PARETO_PLOT_FILE


def study_file(root: Path) -> Path | None:
    path = Path(root) / OPTUNA_STUDY_FILE
    return path if path.is_file() else None


def storage_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def load_studies(root: Path) -> list:
    path = study_file(root)
    if path is None:
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(path)
    return [optuna.load_study(study_name=s.study_name, storage=url) for s in optuna.get_all_study_summaries(url)]


def pareto_front(root: Path) -> tuple[list[str], list[list[str]], Path | None] | None:
    """(header, rows, PNG) of the Pareto front of the folder's multi-objective study; None when there is none."""
    studies = [s for s in load_studies(root) if len(s.directions) > 1]
    if not studies:
        return None
    import optuna

    study = studies[0]
    names = study.user_attrs.get(OBJECTIVES_ATTR) or [f"objective {i}" for i in range(len(study.directions))]
    front = sorted(study.best_trials, key=lambda t: t.values)
    params = sorted({k for t in front for k in t.params})
    header = ["trial", *[f"{n} ({d.name.lower()[:3]})" for n, d in zip(names, study.directions, strict=False)], *params]
    rows = [[str(t.number), *[f"{v:.4g}" for v in t.values], *[_short(t.params.get(k)) for k in params]] for t in front]
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    return header, rows, plot_front(done, front, names, Path(root) / PARETO_PLOT_FILE)


def _short(value) -> str:
    return "-" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def plot_front(trials, front, names: list[str], path: Path) -> Path | None:
    """The first two objectives of every finished trial, the Pareto front highlighted and joined."""
    if not trials:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter([t.values[0] for t in trials], [t.values[1] for t in trials], c="0.6", s=18, label="trials")
    best = sorted(front, key=lambda t: t.values[0])
    ax.plot([t.values[0] for t in best], [t.values[1] for t in best], "o-", c="C3", label="Pareto front")
    for t in best:
        ax.annotate(str(t.number), (t.values[0], t.values[1]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(f"Pareto front: {len(front)} of {len(trials)} trials")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def dashboard(root: Path, port: int, host: str = "127.0.0.1") -> None:
    """Serve optuna-dashboard on the folder's study until interrupted (bound to 127.0.0.1)."""
    path = study_file(root)
    if path is None:
        raise DlrunError(f"no Optuna study in {root} (no {OPTUNA_STUDY_FILE}; run a search with hparams_search=optuna)")
    try:
        import optuna_dashboard
    except ImportError:
        raise DlrunError('--dashboard needs optuna-dashboard: pip install -e ".[dashboard]"') from None
    print(f"optuna-dashboard on {path}: http://{host}:{port}/ (Ctrl+C stops it)", flush=True)
    optuna_dashboard.run_server(storage_url(path), host=host, port=port)
