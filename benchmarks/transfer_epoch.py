"""Time per epoch of the `hymenoptera_resnet18` transfer-learning recipe against a hand-written PyTorch loop doing the
same work in the same process, as ratios (dlrun / hand-written).

    python benchmarks/transfer_epoch.py [--repeats 1] [--threads 0]

The photos and the ImageNet weights cannot be downloaded everywhere, so the script writes a folder of the recipe's
size (124 "ants" + 121 "bees" JPEGs of 500x375 pixels, as in the tutorial's train/ folder) and a randomly initialised
ResNet-18 state dict where torch hub's cache keeps the pretrained file: the time per epoch does not depend on the
weights' values. dlrun trains the recipe as shipped except for two epochs (`model.unfreeze_at_epoch=2`: epoch 1 with
the backbone frozen, epoch 2 fine-tuning everything at `backbone_lr_scale` 0.1), without TensorBoard, plots,
diagnostics and fitted baselines. The hand-written loop is PyTorch's tutorial: torchvision's `ImageFolder`, a resize to
256x256 and a horizontal flip, then the weights' own `transforms()` (resize 256, centre crop 224, normalize) in two
DataLoader workers, the same 196 training images (dlrun's 80% split), batch 16, SGD with momentum 0.9; the frozen
epoch runs the backbone in eval mode and trains `fc`, the fine-tuning epoch trains all of it with the backbone's rate
at 0.1x. The figures are the training passes only (dlrun's `train_time_s`). Prints one JSON line, also written to
benchmarks/results_transfer.json, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

COUNTS = {"ants": 124, "bees": 121}
SIZE = (500, 375)  # width, height of the tutorial's typical photo


def write_folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = root / "data" / "hymenoptera_data" / "train"
    for label, count in COUNTS.items():
        (folder / label).mkdir(parents=True)
        for i in range(count):
            # smooth colour fields plus noise: JPEG sizes and decode times like photos, not like flat colour
            base = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
            image = Image.fromarray(base).resize(SIZE, Image.BILINEAR)
            noisy = np.asarray(image, dtype=np.int16) + rng.integers(-20, 21, size=(SIZE[1], SIZE[0], 3))
            Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(folder / label / f"{i:03d}.jpg", quality=90)
    return folder


def write_weights(torch_home: Path) -> None:
    from torchvision.models import ResNet18_Weights, resnet18

    url = ResNet18_Weights.IMAGENET1K_V1.url
    target = torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), target)


def dlrun_epochs(workdir: Path) -> list[float]:
    from dlrun.config import compose
    from dlrun.train import train

    cfg = compose(
        [
            "+experiment=hymenoptera_resnet18",
            f"dataset.path={workdir / 'data' / 'hymenoptera_data' / 'train'}",
            "trainer.max_epochs=2",
            "model.unfreeze_at_epoch=2",
            "logger=none",
            "plots.enabled=false",
            "trainer.diagnostics.enabled=false",
            "baselines.fitted=false",
        ]
    )
    run = workdir / f"run_{time.monotonic_ns()}"
    train(cfg, run, progress=False)
    history = json.loads((run / "metrics.json").read_text())["history"]
    return [row["train_time_s"] for row in history]


def hand_written_epochs(folder: Path) -> list[float]:
    from torch import nn
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.IMAGENET1K_V1
    prepare = transforms.Compose(
        [transforms.Resize((256, 256)), transforms.RandomHorizontalFlip(), weights.transforms()]
    )
    data = datasets.ImageFolder(str(folder), transform=prepare)
    rows = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[: round(0.8 * len(data))]
    loader = DataLoader(Subset(data, rows.tolist()), batch_size=16, shuffle=True, num_workers=2)
    model = resnet18(weights=weights)
    model.fc = nn.Linear(model.fc.in_features, 1)
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    optimizer = torch.optim.SGD(
        [{"params": model.fc.parameters()}, {"params": backbone, "lr": 1e-4}], lr=1e-3, momentum=0.9
    )
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for epoch in (1, 2):
        frozen = epoch == 1
        for p in backbone:
            p.requires_grad_(not frozen)
        model.train()
        if frozen:
            for module in model.modules():
                if module is not model.fc and module is not model:
                    module.eval()
        started = time.perf_counter()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x).squeeze(1), y.float())
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="alternate dlrun / hand-written this many times")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 = torch's default")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["TORCH_HOME"] = str(workdir / "torch_home")
        write_weights(workdir / "torch_home")
        folder = write_folder(workdir)
        runs = {"dlrun": [], "hand_written": []}
        for _ in range(args.repeats):
            runs["dlrun"].append(dlrun_epochs(workdir))
            runs["hand_written"].append(hand_written_epochs(folder))
    best = {name: [min(r[i] for r in results) for i in range(2)] for name, results in runs.items()}
    result = {
        "frozen_epoch_s": {"dlrun": best["dlrun"][0], "hand_written": best["hand_written"][0]},
        "finetune_epoch_s": {"dlrun": best["dlrun"][1], "hand_written": best["hand_written"][1]},
        "ratio_frozen": best["dlrun"][0] / best["hand_written"][0],
        "ratio_finetune": best["dlrun"][1] / best["hand_written"][1],
        "runs": runs,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
    }
    line = json.dumps(result)
    print(line)
    (REPO / "benchmarks" / "results_transfer.json").write_text(line + "\n")


if __name__ == "__main__":
    main()
