"""The `dlrun` command. Only typer is imported up front, so `dlrun --help` stays fast (no torch)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from dlrun.errors import DlrunError, raised_by_resolver

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="dlrun: declarative deep-learning experiments for PyTorch (Hydra configs in, reproducible runs out).",
    pretty_exceptions_enable=False,
)
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
_state = {"debug": False}

LIST_KINDS = (
    "experiments",
    "datasets",
    "models",
    "tasks",
    "optimizers",
    "schedulers",
    "losses",
    "metrics",
    "callbacks",
    "groups",
)


def _debug() -> bool:
    return _state["debug"] or os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("DLRUN_DEBUG") == "1"


def fail(exc: DlrunError) -> None:
    """One line on stderr and the error's exit code; the full trace only with --debug."""
    if _debug():
        raise exc
    print(f"dlrun: {getattr(exc, 'label', 'error: ')}{exc}", file=sys.stderr)
    raise SystemExit(exc.exit_code)


def _strip_debug(args: list[str]) -> list[str]:
    if "--debug" in args:
        _state["debug"] = True
    return [a for a in args if a != "--debug"]


def _print_version(value: bool) -> None:
    if value:
        from dlrun import __version__

        print(f"dlrun {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = _state["debug"] or debug


@app.command(context_settings=PASSTHROUGH)
def train(ctx: typer.Context) -> None:
    """Train: every Hydra argument passes through (+experiment=NAME, key=value, -m, --cfg job, hydra.run.dir=...)."""
    args = _strip_debug(list(ctx.args))
    from dlrun import config
    from dlrun.hydra_app import run_hydra, run_once

    try:
        if config.hydra_only(args) or config.is_multirun(args) or config.overrides_of(args) != args:
            run_hydra(args, fail)  # a sweep, a question for Hydra (--cfg job, --help), or Hydra's own flags
        else:
            run_once(args, fail)
    except KeyboardInterrupt:  # Ctrl-C before training, or a second one during it (typer would exit silently)
        interrupted()


@app.command(context_settings=PASSTHROUGH)
def show(ctx: typer.Context) -> None:
    """Print the composed, resolved config for the given overrides (and check it)."""
    args = _strip_debug(list(ctx.args))
    from omegaconf import OmegaConf

    from dlrun import config

    try:
        cfg = config.compose(args)
        from dlrun.validate import validate

        validate(cfg)
    except DlrunError as exc:
        fail(exc)
    print(OmegaConf.to_yaml(cfg, resolve=True), end="")


@app.command("lr-find", context_settings=PASSTHROUGH)
def lr_find(ctx: typer.Context) -> None:
    """Learning-rate range test: the rate grows exponentially over a few hundred training steps of the configured
    run (overrides as for train; lr_find.* keys tune the test); writes lr_find.json and lr_find.png and prints the
    suggested rate with the override to use."""
    args = _strip_debug(list(ctx.args))
    from dlrun.find_lr import lr_find_command

    try:
        lr_find_command(args)
    except DlrunError as exc:
        fail(exc)


@app.command("list")
def list_(kind: Optional[str] = typer.Argument(None, help="One of: " + ", ".join(LIST_KINDS))) -> None:
    """List recipes and registered components."""
    from dlrun import catalog

    try:
        catalog.print_list(kind, LIST_KINDS)
    except DlrunError as exc:
        fail(exc)


@app.command("eval", context_settings=PASSTHROUGH)
def eval_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A run directory or a checkpoint file."),
    split: str = typer.Option("test", help="Which split to evaluate: test, val or train."),
    checkpoint: str = typer.Option(
        "final",
        help="In a run directory: final (the weights the run ended with, as in its metrics.json), best, last, "
        "or a kept file (checkpoints/epoch=007-val_loss=0.2345.pt).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Metrics of a saved run on a split (default: test). Extra key=value arguments override its config."""
    args = _strip_debug(list(ctx.args))
    from dlrun.evaluate import evaluate_run, print_metrics

    try:
        metrics = evaluate_run(path, args, split=split, prefer=checkpoint)
    except DlrunError as exc:
        fail(exc)
    print_metrics(metrics, split, json_out)


@app.command()
def predict(
    run: Path = typer.Argument(
        ...,
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="A run directory or a checkpoint file of a supervised run (tables, texts, series, images).",
    ),
    input_file: Path = typer.Argument(
        ...,
        metavar="INPUT.csv",
        help="New rows, written like the training file (same sep, header or names; the target column may be left "
        'out): a table, or texts of a text_csv run; or a JSON file {"rows": [...]} of records for any run.',
    ),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Write the rows with their predictions here (default: standard output)."
    ),
    checkpoint: str = typer.Option(
        "final", help="In a run directory: final (the weights the run ended with), best or last."
    ),
    backend: str = typer.Option(
        "torch",
        "--backend",
        help="torch (the checkpoint) or onnx (onnxruntime on `dlrun export`'s model: RUN may then also be an "
        "export folder or its model.onnx).",
    ),
) -> None:
    """Predict new rows: the input rows plus the predicted class and probabilities, or values in original units."""
    from dlrun.predict import predict_file, write_table

    try:
        table = predict_file(run, input_file, prefer=checkpoint, backend=backend)
        write_table(table, output)
    except DlrunError as exc:
        fail(exc)
    if output is not None:
        print(f"wrote {len(table)} rows with predictions to {output}", file=sys.stderr)


@app.command()
def sample(
    run: Path = typer.Argument(
        ..., metavar="RUN_DIR_OR_CHECKPOINT", help="A run directory or a checkpoint file of a vae, gan or cgan run."
    ),
    n: Optional[int] = typer.Option(
        None,
        "-n",
        help="How many images: samples (default 64), per class for a "
        "CGAN without --class (default 10), interpolation steps (default 10), "
        "or the manifold grid of a 2-D VAE (a square, default 400).",
    ),
    class_: Optional[str] = typer.Option(None, "--class", help="Only this class (index or name); CGAN only."),
    interpolate: bool = typer.Option(False, "--interpolate", help="A row of images between two random latent points."),
    seed: int = typer.Option(0, "--seed", help="Seed of the latent vectors."),
    output: Path = typer.Option(Path("samples.png"), "-o", "--output", help="Image file to write."),
    checkpoint: str = typer.Option(
        "final", help="In a run directory: final (the weights the run ended with), best or last."
    ),
) -> None:
    """Generate images from a trained VAE, GAN or CGAN and save them as one grid."""
    from dlrun.sample import sample_grid

    try:
        message = sample_grid(run, n, class_, interpolate, seed, output, prefer=checkpoint)
    except DlrunError as exc:
        fail(exc)
    print(message, file=sys.stderr)


@app.command("export")
def export_(
    run: Path = typer.Argument(..., metavar="RUN_DIR_OR_CHECKPOINT", help="A run directory or a checkpoint file."),
    fmt: str = typer.Option(..., "--format", help="onnx or torchscript."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Folder to write into (default: RUN/export/<format>/)."
    ),
    checkpoint: str = typer.Option(
        "final", help="In a run directory: final (the weights the run ended with), best or last."
    ),
) -> None:
    """Export a trained model (ONNX or TorchScript) with a signature.json: inputs, output, classes and the fitted
    preprocessing needed to use it outside dlrun. VAE and GAN runs export their sampling path (decoder, generator)."""
    from dlrun.export.signature import describe
    from dlrun.export.writer import export_run
    from dlrun.rundir import SIGNATURE_FILE

    try:
        path, signature = export_run(run, fmt, output, prefer=checkpoint)
    except DlrunError as exc:
        fail(exc)
    print(f"wrote {path} and {path.parent / SIGNATURE_FILE}")
    print(describe(signature))


@app.command()
def cp(
    experiment: str = typer.Argument(..., help="A shipped recipe (dlrun list experiments)."),
    dest: Optional[Path] = typer.Argument(None, help="File or folder; default ./experiments/NAME.yaml."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Copy a shipped recipe into ./experiments/ to edit it; `+experiment=NAME` then picks your copy."""
    from dlrun import catalog

    try:
        target = catalog.copy_experiment(experiment, dest, force)
    except DlrunError as exc:
        fail(exc)
    print(f"copied {experiment} to {target}")


@app.command()
def report(
    path: Path = typer.Argument(..., help="A sweep folder (multirun/...) or one run directory."),
    metric: Optional[str] = typer.Option(
        None,
        "--metric",
        help="History key to compare and sort by (val/accuracy, test/mae...); default: the runs' checkpoint monitor.",
    ),
    fmt: str = typer.Option("table", "--format", help="table, markdown or csv."),
    skip_first: int = typer.Option(0, "--skip-first", help="Leave the first N epochs out of the curves PNG."),
    dashboard: bool = typer.Option(
        False, "--dashboard", help="Serve optuna-dashboard on the sweep's Optuna study (127.0.0.1) instead."
    ),
    port: int = typer.Option(8080, "--port", help="The dashboard's port (with --dashboard)."),
) -> None:
    """Compare the runs of a sweep: a table sorted by a metric (best marked, failed jobs listed) and a PNG of
    their validation curves written into the folder (an Optuna multi-objective study: also its Pareto front)."""
    from dlrun.sweep_report import report as make_report

    try:
        if dashboard:
            from dlrun.sweep_study import dashboard as serve_dashboard

            serve_dashboard(path, port)
            return
        make_report(path, metric, fmt, skip_first)
    except DlrunError as exc:
        fail(exc)


@app.command()
def diagnose(
    path: Path = typer.Argument(..., metavar="RUN_DIR", help="A run directory (finished, diverged or interrupted)."),
    fmt: str = typer.Option("text", "--format", help="text, markdown or json."),
) -> None:
    """What went wrong in a run: findings (overfitting, learning rate, dead units, baselines...), each with its
    evidence and the override to try. Exit code 0 whether or not there are findings."""
    from dlrun.diagnose import diagnose as find
    from dlrun.diagnose.render import render

    try:
        text = render(find(path), fmt, str(path))
    except DlrunError as exc:
        fail(exc)
    if text is not None:
        print(text, end="" if text.endswith("\n") else "\n")


@app.command()
def tensorboard(
    logdir: Path = typer.Argument(Path("outputs"), help="Folder of runs (default: outputs)."),
    port: int = typer.Option(6006, help="Port to serve on."),
) -> None:
    """Start TensorBoard on a folder of runs."""
    if not logdir.exists():
        fail(DlrunError(f"no such folder: {logdir}"))
    os.execv(sys.executable, [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port)])


@app.command(context_settings=PASSTHROUGH)
def explain(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., metavar="RUN", help="A run directory or a checkpoint file (classification or regression)."
    ),
    split: str = typer.Option("test", help="Which split's examples to explain: test, val or train."),
    n: int = typer.Option(16, "-n", help="How many examples of the split (its first N)."),
    method: str = typer.Option(
        "integrated_gradients", help="integrated_gradients, saliency, gradient_shap, occlusion (or a plugin's)."
    ),
    target: Optional[str] = typer.Option(
        None, help="Explain this class (name or index; regression: output index) instead of the predicted one."
    ),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of RUN/explain/METHOD/."),
    checkpoint: str = typer.Option("final", help="In a run directory: final, best or last."),
) -> None:
    """Why the model predicts what it does: Captum attributions on N examples of a split (tables: per original
    column plus permutation importance; images: heat maps; text: tokens; series: time steps)."""
    from dlrun.explain.render import summary_lines
    from dlrun.explain.run import explain_run

    try:
        result = explain_run(path, split, n, method, target, output, checkpoint, _strip_debug(list(ctx.args)))
    except DlrunError as exc:
        fail(exc)
    print("\n".join(summary_lines(result)))


@app.command()
def serve(
    run: Path = typer.Argument(..., metavar="RUN_DIR_OR_CHECKPOINT", help="A run directory or checkpoint file."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 to listen on every interface)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    backend: str = typer.Option("torch", help="torch (the checkpoint) or onnx (an exported model, `dlrun export`)."),
    checkpoint: str = typer.Option(
        "final", help="In a run directory: final (the weights the run ended with), best or last."
    ),
) -> None:
    """Serve a trained model over HTTP (FastAPI): POST /predict, GET /health, GET /metadata, docs at /docs."""
    from dlrun.serve.command import serve_run

    try:
        serve_run(run, host, port, backend, checkpoint)
    except DlrunError as exc:
        fail(exc)


@app.command(context_settings=PASSTHROUGH)
def inspect(ctx: typer.Context) -> None:
    """Print a table's inferred schema and class balance without training (dataset=csv dataset.path=...)."""
    args = _strip_debug(list(ctx.args))
    from dlrun import config
    from dlrun.inspect_table import inspect_dataset
    from dlrun.validate import validate

    try:
        cfg = config.compose(args)
        validate(cfg)
        print(inspect_dataset(cfg))
    except DlrunError as exc:
        fail(exc)


def interrupted() -> None:
    print("dlrun: interrupted (the last checkpoint written is kept)", file=sys.stderr)
    raise SystemExit(130) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        interrupted()
    except Exception as exc:  # a resolver's error (an unknown ${dlrun.data:NAME}...) arrives wrapped by OmegaConf
        error = raised_by_resolver(exc)
        if error is None:
            raise
        fail(error)


if __name__ == "__main__":
    main()
