"""Pictures of a run (`conf/plots/default.yaml`): PNG files in the run directory, also logged to TensorBoard.

matplotlib is imported only when a picture is drawn, through its object-oriented API (no pyplot,
no global backend), so drawing works headless and never changes a user's matplotlib state.
"""

from __future__ import annotations

from pathlib import Path

from dlrun.plots.config import PlotsConfig


def draw_run(
    cfg: PlotsConfig, run_dir: Path, results: dict, task, data, name: str = "test", predicted=None
) -> dict[str, Path]:
    """Draw the run's pictures into `run_dir`; returns {name: PNG path}.

    `predicted` is the task's (outputs, targets) on split `name` (test, or val when there is no test).
    """
    if not cfg.enabled:
        return {}
    from dlrun.plots import figures

    pictures = {"learning_curves": figures.learning_curves(results["history"], task.log_keys(), cfg.skip_first)}
    if predicted is not None and hasattr(task, "in_data_units"):  # supervised tasks: one prediction per row
        scores = task.scores(predicted[0]).cpu().numpy()
        targets = predicted[1].detach().cpu().numpy()
        values = task.in_data_units(scores, scores)[1]
        if data.info.kind == "classification":
            pictures["confusion_matrix"] = figures.confusion_matrix(
                targets.astype(int), values, data.info.class_names, name
            )
        else:
            truth = task.in_data_units(targets, targets)[0]
            pictures["predicted_vs_true"] = figures.predicted_vs_true(truth, values, name)
            pictures["residuals"] = figures.residuals(truth, values, name)
    paths = {}
    for key, fig in pictures.items():
        paths[key] = run_dir / f"{key}.png"
        fig.savefig(paths[key], dpi=cfg.dpi)
    return paths
