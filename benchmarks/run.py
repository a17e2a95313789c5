"""`make bench`: speed and memory of dlrun against baselines measured in the same run, as ratios.

Each measurement runs in its own process (so peak memory is its own). Results are printed as a
table and written to benchmarks/results.json with a description of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_variant(variant: str, model: str, limit: int, *options: str) -> dict:
    cmd = [sys.executable, str(HERE / "epoch_bench.py"), variant, "--model", model, "--limit", str(limit), *options]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# On CUDA: the same epoch with the data resident on the GPU, at float32, bf16 autocast, torch.compile and
# channels-last, each against the hand-written tensor loop at float32 (and like for like where it applies).
CUDA_PLANS = {
    "mlp": [
        ("tensors", "tensors 32", []),
        ("loader", "DataLoader 32 (4 workers)", ["--workers", "4"]),
        ("dlrun", "dlrun 32", []),
        ("dlrun", "dlrun bf16", ["--precision", "bf16"]),
        ("dlrun", "dlrun compile", ["--compile"]),
    ],
    "cnn": [
        ("tensors", "tensors 32", ["--channels-last", "false"]),
        ("loader", "DataLoader 32 (4 workers)", ["--workers", "4", "--channels-last", "false"]),
        ("dlrun", "dlrun 32", ["--channels-last", "false"]),
        ("dlrun", "dlrun 32 channels_last", ["--channels-last", "true"]),
        ("tensors", "tensors bf16 channels_last", ["--precision", "bf16", "--channels-last", "true"]),
        ("dlrun", "dlrun bf16", ["--precision", "bf16", "--channels-last", "false"]),
        ("dlrun", "dlrun bf16 channels_last", ["--precision", "bf16", "--channels-last", "true"]),
        ("dlrun", "dlrun compile", ["--compile", "--channels-last", "false"]),
        ("dlrun", "dlrun bf16 compile channels_last", ["--precision", "bf16", "--compile", "--channels-last", "true"]),
    ],
}


def cuda_epochs() -> dict:
    results = {}
    for model, plan in CUDA_PLANS.items():
        rows = {
            label: run_variant(variant, model, 0, "--device", "cuda", "--epochs", "3", *options)
            for variant, label, options in plan
        }
        base, loader = rows["tensors 32"]["seconds"], rows["DataLoader 32 (4 workers)"]["seconds"]
        for row in rows.values():
            row["vs_tensors_32"], row["vs_loader"] = row["seconds"] / base, row["seconds"] / loader
        results[model] = rows
        print(f"Fashion-MNIST {model} epoch on CUDA (60000 images, median of epochs 2-3)")
        for label, row in rows.items():
            print(
                f"  {label:<36}{row['seconds']:>8.3f} s{row['vs_tensors_32']:>8.2f}x tensors 32"
                f"{row['vs_loader']:>8.2f}x DataLoader",
                flush=True,
            )
    return results


def cli_startup(repeats: int = 5) -> dict:
    """`dlrun --help` against a bare `python -c pass`, best of several runs."""

    def best(cmd):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return min(times)

    return {
        "dlrun_help_s": best([sys.executable, "-m", "dlrun", "--help"]),
        "python_bare_s": best([sys.executable, "-c", "pass"]),
    }


def ddp_vs_single(epochs: int = 2) -> dict:
    """Fashion-MNIST MLP: 1 process vs 2 gloo processes (same global batch): throughput and test accuracy."""
    import tempfile

    rows = {}
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dlrun",
                    "train",
                    "dataset=fashion_mnist",
                    "model.hidden=[512]",
                    f"trainer.max_epochs={epochs}",
                    "trainer.batch_size=128",
                    "device.type=cpu",
                    f"device.count={n}",
                    "device.keep_global_batch=true",
                    "logger=none",
                    "plots.enabled=false",
                    f"hydra.run.dir={tmp}/run",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            metrics = json.loads(Path(tmp, "run", "metrics.json").read_text())
        last = metrics["history"][-1]
        rows[n] = {
            "samples_per_s": last["train_samples"] / last["train_time_s"],
            "test_accuracy": metrics["test"]["accuracy"],
        }
    return rows


def cv_parallel() -> str:
    out = subprocess.run(
        [sys.executable, str(HERE / "cv_parallel.py"), "--epochs", "40"],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
        env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")},
    )
    return out.stdout.strip()


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (
        f"{platform.system()} {cpu}, {os.cpu_count()} CPU cores{gpu}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cnn-limit", type=int, default=12000, help="CNN epochs use the first N training images")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--cuda", action="store_true", help="the GPU epoch matrix only (results_cuda.json)")
    args = parser.parse_args()
    if args.cuda:
        results = {"machine": machine(), "epochs": cuda_epochs()}
        (HERE / "results_cuda.json").write_text(json.dumps(results, indent=2) + "\n")
        return

    results = {"machine": machine(), "startup": cli_startup(), "epochs": {}}
    plans = [("mlp", 0)] + ([] if args.skip_cnn else [("cnn", args.cnn_limit)])
    for model, limit in plans:
        rows = {v: run_variant(v, model, limit) for v in ("tensors", "loader", "dlrun")}
        if model == "cnn":  # what the CNN options buy on this CPU: float32 NCHW, and bf16 autocast
            rows["dlrun_nchw"] = run_variant("dlrun", model, limit, "--channels-last", "false")
            rows["dlrun_bf16"] = run_variant("dlrun", model, limit, "--precision", "bf16")
        rows["ratios"] = {
            "dlrun_vs_tensors": rows["dlrun"]["seconds"] / rows["tensors"]["seconds"],
            "dlrun_vs_loader": rows["dlrun"]["seconds"] / rows["loader"]["seconds"],
        }
        rows["images"] = limit or 60000
        results["epochs"][model] = rows
    results["ddp"] = ddp_vs_single()
    results["cv_parallel"] = cv_parallel()
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"machine: {results['machine']}")
    s = results["startup"]
    print(f"dlrun --help: {s['dlrun_help_s']:.3f} s (bare python: {s['python_bare_s']:.3f} s; target < 0.5 s)")
    print(
        f"{'Fashion-MNIST epoch':<26}{'tensor loop':>12}{'DataLoader':>12}{'dlrun':>10}"
        f"{'dlrun/tensor':>14}{'dlrun/loader':>14}"
    )
    for model, rows in results["epochs"].items():
        label = f"{model} ({rows['images']} images)"
        print(
            f"{label:<26}{rows['tensors']['seconds']:>11.2f}s{rows['loader']['seconds']:>11.2f}s"
            f"{rows['dlrun']['seconds']:>9.2f}s{rows['ratios']['dlrun_vs_tensors']:>13.2f}x"
            f"{rows['ratios']['dlrun_vs_loader']:>13.2f}x"
        )
        print(
            f"{'  peak RSS (MB)':<26}{rows['tensors']['peak_rss_mb']:>12.0f}{rows['loader']['peak_rss_mb']:>12.0f}"
            f"{rows['dlrun']['peak_rss_mb']:>10.0f}"
        )
        for key, what in (("dlrun_nchw", "device.channels_last=false"), ("dlrun_bf16", "device.precision=bf16")):
            if key in rows:
                print(
                    f"  dlrun {what}: {rows[key]['seconds']:.2f}s "
                    f"({rows[key]['seconds'] / rows['tensors']['seconds']:.2f}x "
                    f"tensor, {rows[key]['seconds'] / rows['loader']['seconds']:.2f}x DataLoader)"
                )
    print("targets: dlrun/tensor <= 1.10x, dlrun/loader <= 0.65x")
    one, two = results["ddp"][1], results["ddp"][2]
    print(
        f"DDP (gloo, CPU), Fashion-MNIST MLP, same global batch: 1 process {one['samples_per_s']:.0f} samples/s, "
        f"test acc {one['test_accuracy']:.4f}; 2 processes {two['samples_per_s']:.0f} samples/s "
        f"(x{two['samples_per_s'] / one['samples_per_s']:.2f}), test acc {two['test_accuracy']:.4f}"
    )
    print(results["cv_parallel"])


if __name__ == "__main__":
    main()
