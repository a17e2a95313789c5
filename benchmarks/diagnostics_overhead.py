"""What the training-health signals (trainer.diagnostics, on by default) cost: Fashion-MNIST MLP epochs with them
on and off, in this process, as a ratio against the "off" baseline measured in the same run.

    python benchmarks/diagnostics_overhead.py [--epochs 4] [--repeats 2] [--device auto] [--threads 0]

Trains the shipped `fashion_mnist_mlp` recipe (784-512-10, dropout 0.2, Adam, batch 128; early stopping off) for
`--epochs` epochs per run, alternating off/on `--repeats` times. An epoch's time is the wall clock from
`on_epoch_start` (first callback) to the end of `on_epoch_end` (last callback): training, validation, the
activation pass on the fixed sample, the CSV and checkpoints (TensorBoard is off: logger=none). The first epoch
of each run (warm-up) is left out. Two figures: the fastest "on" epoch against the fastest "off" one (the least
disturbed by other jobs on a shared machine), and, within each "on" epoch, the share of its wall time spent inside
the Diagnostics callback's hooks (median and max over epochs; robust to load, as both are timed in the same epoch).
Prints one JSON line (also written to benchmarks/results_diagnostics.json): those figures, every epoch's time and
the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from dlrun.callbacks import CALLBACKS, Callback  # noqa: E402

EPOCH_TIMES: list[float] = []
STARTED: list[float] = [0.0]
HOOK_TIMES: list[float] = []  # seconds spent inside the Diagnostics callback during each epoch
HOOKS = ("on_epoch_start", "on_before_optimizer_step", "on_batch_end", "on_epoch_end")


def time_diagnostics_hooks() -> None:
    """Wrap the Diagnostics hooks so each epoch's time inside them is summed into HOOK_TIMES[-1]."""
    from dlrun.callbacks.diagnostics import Diagnostics

    for name in HOOKS:
        hook = getattr(Diagnostics, name)

        def timed(self, *args, _hook=hook, _name=name):
            if _name == "on_epoch_start":
                HOOK_TIMES.append(0.0)
            started = time.perf_counter()
            result = _hook(self, *args)
            HOOK_TIMES[-1] += time.perf_counter() - started
            return result

        setattr(Diagnostics, name, timed)


@CALLBACKS.register("epoch_clock_start")
class EpochClockStart(Callback):
    """Starts the epoch's clock before any other callback."""

    priority = -1_000

    def on_epoch_start(self, trainer, epoch):
        STARTED[0] = time.perf_counter()


@CALLBACKS.register("epoch_clock_stop")
class EpochClockStop(Callback):
    """Stops it after every other callback's on_epoch_end."""

    priority = 1_000

    def on_epoch_end(self, trainer, epoch, logs):
        if trainer.task.device.type == "cuda":
            torch.cuda.synchronize()
        EPOCH_TIMES.append(time.perf_counter() - STARTED[0])


def epochs(args, diagnostics: bool) -> list[float]:
    from dlrun.config import compose
    from dlrun.train import train

    overrides = [
        "+experiment=fashion_mnist_mlp",
        f"trainer.max_epochs={args.epochs}",
        "trainer.early_stopping.patience=null",
        f"trainer.diagnostics.enabled={str(diagnostics).lower()}",
        "logger=none",
        "plots.enabled=false",
        f"device.type={args.device}",
        f"device.threads={args.threads if args.threads else 'null'}",
        "callbacks=[epoch_clock_start, epoch_clock_stop]",
    ]
    EPOCH_TIMES.clear()
    HOOK_TIMES.clear()
    with tempfile.TemporaryDirectory() as tmp:
        train(compose(overrides), tmp, progress=False)
    shares = [h / e for h, e in zip(HOOK_TIMES[1:], EPOCH_TIMES[1:], strict=False)]
    return list(EPOCH_TIMES[1:]), shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results_diagnostics.json")
    args = parser.parse_args()
    time_diagnostics_hooks()
    times: dict[str, list[float]] = {"off": [], "on": []}
    shares: list[float] = []
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            seconds, share = epochs(args, mode == "on")
            times[mode] += seconds
            shares += share
    off, on = min(times["off"]), min(times["on"])
    result = {
        "recipe": "fashion_mnist_mlp",
        "epochs_per_run": args.epochs,
        "repeats": args.repeats,
        "fastest_epoch_s_off": round(off, 4),
        "fastest_epoch_s_on": round(on, 4),
        "overhead_pct_fastest_epochs": round(100 * (on - off) / off, 2),
        "overhead_pct_in_hooks_median": round(100 * statistics.median(shares), 2),
        "overhead_pct_in_hooks_max": round(100 * max(shares), 2),
        "epoch_s_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": args.threads or torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu",
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
