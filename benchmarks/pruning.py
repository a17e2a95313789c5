"""What pruning saves: the same Optuna search on digits with and without a pruner, in one run.

    python benchmarks/pruning.py                        # 20 trials x 20 epochs, seeds 0-2: none, median, SHA
    python benchmarks/pruning.py --trials 30 --epochs 30 --pruners none hyperband --seeds 0 1

Each search is `dlrun train -m hparams_search=optuna +experiment=digits_mlp` (learning rate, dropout and
weight decay; batch size fixed; seeded TPE; val/loss minimized; early stopping off, so an unpruned trial
trains every epoch; no plots, diagnostics or logger) with the same seed, search space and trial budget;
only `hydra.sweeper.pruner` differs. The jobs get `--threads` torch threads (OMP_NUM_THREADS). Per search:
the best validation loss, the test accuracy of that trial, the trials pruned, the epochs trained in total
(summed over the jobs' histories) and the wall time. Writes benchmarks/results_pruning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRUNERS = {
    "none": "none",
    "median": "{name:median,n_startup_trials:5,n_warmup_steps:2}",
    "successive_halving": "{name:successive_halving,min_resource:2,reduction_factor:3}",
    "hyperband": "{name:hyperband,min_resource:2,reduction_factor:3}",
}


def search(pruner: str, trials: int, epochs: int, seed: int, workdir: Path, batch: int, threads: int) -> dict:
    sweep = workdir / f"{pruner}_{seed}"
    args = [
        "train",
        "-m",
        "hparams_search=optuna",
        "+experiment=digits_mlp",
        f"seed={seed}",
        f"trainer.max_epochs={epochs}",
        f"trainer.batch_size={batch}",
        "trainer.early_stopping.patience=null",
        "logger=none",
        "plots.enabled=false",
        "trainer.diagnostics.enabled=false",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweeper.pruner={PRUNERS[pruner]}",
        f"hydra.sweep.dir={sweep}",
    ]
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "dlrun", *args]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{pruner}: the search failed:\n{done.stderr[-3000:]}")
    jobs = [json.loads(p.read_text()) for p in sorted(sweep.glob("[0-9]*/metrics.json"))]
    best = min(jobs, key=lambda m: m["best"]["val/loss"])
    return {
        "pruner": pruner,
        "seed": seed,
        "trials": len(jobs),
        "pruned": sum(1 for m in jobs if m.get("pruned")),
        "epochs": sum(len(m["history"]) for m in jobs),
        "best_val_loss": best["best"]["val/loss"],
        "best_test_accuracy": best["test"].get("accuracy"),
        "wall_time_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pruners", nargs="+", default=["none", "median", "successive_halving"], choices=PRUNERS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=str(Path(__file__).with_name("results_pruning.json")))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for pruner in args.pruners:
                row = search(pruner, args.trials, args.epochs, seed, Path(tmp), args.batch_size, args.threads)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{args.trials} trials x {args.epochs} epochs max, digits_mlp, batch {args.batch_size}, TPE")
    print("| pruner | seed | best val loss | its test accuracy | pruned | epochs trained | wall time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['pruner']} | {r['seed']} | {r['best_val_loss']:.4f} | {r['best_test_accuracy']:.4f} | "
            f"{r['pruned']}/{r['trials']} | {r['epochs']} | {r['wall_time_s']} |"
        )
    settings = {"trials": args.trials, "epochs": args.epochs, "batch_size": args.batch_size, "threads": args.threads}
    Path(args.out).write_text(json.dumps({**settings, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
