"""Measured quality of the generative recipes on real data (too slow for `make bench`: about an hour on a 2-core CPU).

    python benchmarks/generative.py [--runs DIR] [--samples 10000] [--per-class 1000]

Trains, with `dlrun train +experiment=NAME hydra.run.dir=DIR/NAME` (a finished run directory is reused):
- `fashion_mnist_vae`: the negative ELBO per image for every epoch (validation split, from metrics.json's
  history) and on the test split at the end;
- `fashion_mnist_mlp`: the classifier that judges the generated images (a plain dlrun run);
- `fashion_mnist_cgan`: for each class, the fraction of its `--per-class` samples the classifier assigns
  to it (target: at least 0.8 averaged over classes);
- `fashion_mnist_gan`: the classifier's predicted-class distribution over `--samples` samples and the
  entropy of that marginal (ln 10 = 2.303 nats when every class is equally frequent; mode collapse lowers it).
`--vae`, `--gan`, `--cgan` and `--classifier` pick other recipes (e.g. the mnist_* ones with MNIST in ./data);
`--cgan-checkpoints FILE ...` measures more CGAN checkpoints the same way (e.g. copies of last.pt from earlier epochs).
Results are printed and written to DIR/generative_results.json. Set OMP_NUM_THREADS=1 on a busy small CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def train(recipe: str, runs: Path) -> Path:
    run_dir = runs / recipe
    if not (run_dir / "metrics.json").is_file():
        print(f"training {recipe} into {run_dir} ...", flush=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]),
        }
        subprocess.run(
            [sys.executable, "-m", "dlrun", "train", f"+experiment={recipe}", f"hydra.run.dir={run_dir}"],
            check=True,
            env=env,
        )
    return run_dir


def vae_curve(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "val_neg_elbo_per_epoch": [round(row["val/loss"], 2) for row in metrics["history"] if "val/loss" in row],
        "test": {k: round(v, 2) for k, v in metrics["test"].items()},
    }


class Judge:
    """A trained dlrun classifier run applied to generated images in [0, 1]."""

    def __init__(self, run_dir: Path):
        from dlrun.datasets.images import BatchTransform
        from dlrun.sample import load_run

        loaded = load_run(run_dir)
        self.task, self.class_names = loaded.task, loaded.info.class_names
        self.transform = BatchTransform(loaded.preprocessing["mean"], loaded.preprocessing["std"])
        self.run_dir = run_dir

    def real_test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The classifier's predicted classes and the true classes of the real test images (the reference)."""
        from omegaconf import OmegaConf

        from dlrun.datasets import build_data
        from dlrun.evaluate import open_checkpoint

        state = open_checkpoint(self.run_dir, "final")[1]
        data = build_data(OmegaConf.create(state["config"]), preprocessing=state["data"]["preprocessing"])
        return self.classes(data.test.x.float() / 255.0), data.test.y

    def classes(self, images: torch.Tensor) -> torch.Tensor:
        scaled = self.transform(images.to(self.task.device), train=False)
        return torch.as_tensor(self.task.predictions(scaled)).argmax(dim=1)


def generated(task, count: int, seed: int, label: int | None = None, chunk: int = 1000) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for lo in range(0, count, chunk):
        n = min(chunk, count - lo)
        labels = torch.full((n,), label, dtype=torch.long) if label is not None else None
        parts.append(task.generate(torch.randn(n, task.latent_dim, generator=gen), labels).cpu())
    return torch.cat(parts)


def class_fidelity(judge: Judge, cgan, per_class: int) -> dict:
    """For each class, the fraction of its samples the classifier assigns to it, and their mean."""
    fractions = {}
    for k, name in enumerate(judge.class_names):
        predicted = judge.classes(generated(cgan, per_class, seed=k, label=k))
        fractions[name] = round(float((predicted == k).double().mean()), 4)
    return {"assigned_to_requested_class": fractions, "mean": round(sum(fractions.values()) / len(fractions), 4)}


def entropy(predicted: torch.Tensor, classes: int) -> tuple[float, list[float]]:
    freq = torch.bincount(predicted, minlength=classes).double() / len(predicted)
    nats = float(-(freq[freq > 0] * freq[freq > 0].log()).sum()) + 0.0  # never -0.0
    return nats, [round(float(f), 4) for f in freq]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("outputs/generative_bench"))
    parser.add_argument("--vae", default="fashion_mnist_vae")
    parser.add_argument("--gan", default="fashion_mnist_gan")
    parser.add_argument("--cgan", default="fashion_mnist_cgan")
    parser.add_argument("--classifier", default="fashion_mnist_mlp")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--cgan-checkpoints", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from dlrun.sample import load_run

    runs = args.runs.resolve()
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "threads": torch.get_num_threads(),
    }
    dirs = {
        name: train(recipe, runs)
        for name, recipe in (("vae", args.vae), ("classifier", args.classifier), ("gan", args.gan), ("cgan", args.cgan))
    }
    results["vae"] = {"recipe": args.vae, **vae_curve(dirs["vae"])}
    judge = Judge(dirs["classifier"])
    classifier = json.loads((dirs["classifier"] / "metrics.json").read_text())["test"]
    classes = len(judge.class_names)
    predicted, truth = judge.real_test_set()
    recall = {
        name: round(float((predicted[truth == k] == k).double().mean()), 4) for k, name in enumerate(judge.class_names)
    }
    results["classifier"] = {
        "recipe": args.classifier,
        "test_accuracy": round(classifier["accuracy"], 4),
        "real_test_recall_per_class": recall,
        "real_test_predicted_entropy_nats": round(entropy(predicted, classes)[0], 4),
    }

    results["cgan"] = {
        "recipe": args.cgan,
        "samples_per_class": args.per_class,
        **class_fidelity(judge, load_run(dirs["cgan"]).task, args.per_class),
    }
    for path in args.cgan_checkpoints:
        run = load_run(path)
        epoch = torch.load(run.checkpoint, weights_only=True)["trainer"]["epoch"]
        results.setdefault("cgan_by_epoch", {})[epoch] = class_fidelity(judge, run.task, args.per_class)["mean"]

    gan = load_run(dirs["gan"]).task
    nats, freq = entropy(judge.classes(generated(gan, args.samples, seed=0)), classes)
    results["gan"] = {
        "recipe": args.gan,
        "samples": args.samples,
        "predicted_class_frequencies": dict(zip(judge.class_names, freq, strict=True)),
        "marginal_entropy_nats": round(nats, 4),
        "max_entropy_nats": round(math.log(classes), 4),
    }

    out = runs / "generative_results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
