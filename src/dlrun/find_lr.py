"""The `dlrun lr-find` command and `optimizer.lr=auto`: the range test of `dlrun.lr_find` on the run's own
config, then (for auto) the run itself with the suggested rate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from dlrun.lr_find.run import run_range_test, with_lr
from dlrun.rundir import RunDir

log = logging.getLogger("dlrun")


def train_with_found_lr(
    cfg: DictConfig, checked, run_dir: str | Path, progress: bool, train: Callable[..., float | None]
) -> float | None:
    """`optimizer.lr=auto`: the range test (once, before any fold of a K-fold run), then `train` (dlrun.train.train,
    passed in: this module must not import the one that imports it) with the suggested rate; the suggestion is
    added to metrics.json. A resumed run (trainer.resume=auto) reuses the lr_find.json it finds."""
    from dlrun.validate import validate

    files = RunDir(run_dir)
    found = files.read_lr_find() if checked.trainer.resume == "auto" else None
    if found is None or found.get("suggestion") is None:
        found = run_range_test(cfg, checked, run_dir)
    lr = found["suggestion"]
    log.info("optimizer.lr=auto: the range test suggests %.1e (%s); training with it", lr, files.lr_find_plot)
    tuned = with_lr(cfg, lr)
    best = train(tuned, run_dir, progress, validate(tuned, files=False))
    metrics = files.read_metrics()
    if metrics is not None:
        metrics["lr_find"] = {
            "suggestion": lr,
            "rule": found["settings"]["suggestion"],
            "steps": found["steps"],
            "stopped": found["stopped"],
        }
        files.write_metrics(metrics)
    return best


def lr_find_command(args: list[str]) -> dict:
    """`dlrun lr-find ARGS`: compose and check as `dlrun train` does, run the test into
    outputs/<name>/lr_find/<timestamp>/ (or hydra.run.dir=...), print the suggestion and the override to use."""
    import time

    from dlrun import config
    from dlrun.validate import validate

    cfg = config.compose(args)
    checked = validate(cfg)
    given = [a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")]
    run_dir = Path(given[-1]) if given else Path("outputs") / cfg.name / "lr_find" / time.strftime("%Y-%m-%d_%H-%M-%S")
    result = run_range_test(cfg, checked, run_dir)
    kept = [a for a in args if not a.startswith(("optimizer.lr=", "lr_find.", "hydra."))]
    rate = f"{result['suggestion']:.1e}"
    print(f"lr-find: {result['steps']} steps" + (f", stopped: {result['stopped']}" if result["stopped"] else ""))
    print(f"wrote {RunDir(run_dir).lr_find} and {RunDir(run_dir).lr_find_plot.name}")
    print(f"suggested learning rate {rate}: dlrun train {' '.join([*kept, f'optimizer.lr={rate}'])}")
    return result
