"""How much `cv.parallel=N` saves: wall time of one K-fold run with folds one after another vs N at once.

    python benchmarks/cv_parallel.py                      # Boston housing, 4 folds, 40 epochs, parallel 1 and 2
    python benchmarks/cv_parallel.py --dataset digits --epochs 10 --parallel 1 2 4
    python benchmarks/cv_parallel.py --threads 1          # torch.set_num_threads(1) first (workers get 1 each)

Run from the repository root (the Boston file is the copy shipped with dlrun). Each setting trains the same
folds (results are identical, only the time differs); the ratio is sequential time / parallel time,
including the cost of starting the worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path


def run(dataset: str, folds: int, epochs: int, parallel: int, workdir: Path) -> float:
    from dlrun.config import compose
    from dlrun.train import train

    cfg = compose(
        [
            f"dataset={dataset}",
            f"cv.folds={folds}",
            f"cv.parallel={parallel}",
            f"trainer.max_epochs={epochs}",
            "trainer.batch_size=16",
            "model.hidden=[64,64]",
            "logger=none",
        ]
    )
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the runs' summary tables
        train(cfg, workdir / f"p{parallel}", progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="boston_housing")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=None, help="torch threads of this process (default: torch's)")
    args = parser.parse_args()

    import logging

    import torch

    logging.getLogger("dlrun").setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{args.dataset}: {args.folds} folds x {args.epochs} epochs; {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}"
    )
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.parallel:
            times[n] = run(args.dataset, args.folds, args.epochs, n, Path(tmp))
            print(
                f"cv.parallel={n}: {times[n]:6.1f} s"
                + (
                    f"   speed-up x{times[args.parallel[0]] / times[n]:.2f} vs cv.parallel={args.parallel[0]}"
                    if n != args.parallel[0]
                    else ""
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
