"""What the training-health signals (trainer.diagnostics, on by default) cost: Fashion-MNIST MLP epochs with them
on and off, in this process, as a ratio against the "off" baseline measured in the same run.

    python benchmarks/diagnostics_overhead.py [--epochs 4] [--repeats 2] [--device auto]

Trains the shipped `fashion_mnist_mlp` recipe (784-512-10, dropout 0.2, Adam, batch 128; early stopping off) for
`--epochs` epochs per run, alternating off/on `--repeats` times. An epoch's time is the wall clock from
`on_epoch_start` (first callback) to the end of `on_epoch_end` (last callback): training, validation, the
activation pass on the fixed sample, the CSV, TensorBoard is off (logger=none) and checkpoints. The first epoch
of each run (warm-up) is left out; the figure is the median of the others.
Prints one JSON line (also written to benchmarks/results_diagnostics.json): seconds per epoch off and on, the
overhead in percent and the machine.
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
        "callbacks=[epoch_clock_start, epoch_clock_stop]",
    ]
    EPOCH_TIMES.clear()
    with tempfile.TemporaryDirectory() as tmp:
        train(compose(overrides), tmp, progress=False)
    return list(EPOCH_TIMES[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results_diagnostics.json")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            times[mode] += epochs(args, mode == "on")
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    result = {
        "recipe": "fashion_mnist_mlp",
        "epochs_per_run": args.epochs,
        "repeats": args.repeats,
        "epoch_s_off": round(off, 4),
        "epoch_s_on": round(on, 4),
        "overhead_pct": round(100 * (on - off) / off, 2),
        "epoch_s_all": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu",
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
