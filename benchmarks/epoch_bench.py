"""Time one training epoch of Fashion-MNIST three ways, in this process (run by benchmarks/run.py).

  dlrun      dlrun's own loop (in-memory uint8 fast path), the training pass of epoch 2
  tensors    a minimal hand-written PyTorch loop over in-memory tensors (the lower bound)
  loader     the usual torchvision Dataset + DataLoader + ToTensor loop (num_workers=0)

Prints one JSON line: seconds of the timed epoch and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

MODELS = {
    "mlp": ["model=mlp", "model.hidden=[512]"],
    "cnn": ["model=cnn", "model.blocks=[{channels: 32, pool: 2}, {channels: 64, pool: 2}]", "model.head=[128]"],
}


def dlrun_epoch(model: str, limit: int, batch: int) -> float:
    from dlrun.config import compose
    from dlrun.train import train

    overrides = ["dataset=fashion_mnist", *MODELS[model], "optimizer=adam", f"trainer.batch_size={batch}",
                 "trainer.max_epochs=2", "logger=none", "dataset.split.val=0.0", "dataset.split.val_first_n=null",
                 "trainer.checkpoint.monitor=train/loss", "dataset.normalize=unit", "device.type=cpu"]
    if limit:
        overrides.append(f"dataset.split.val_first_n={60000 - limit}")
    with tempfile.TemporaryDirectory() as tmp:
        train(compose(overrides), tmp, progress=False)
        history = json.loads((Path(tmp) / "metrics.json").read_text())["history"]
    return history[-1]["train_time_s"]


def _model(name: str) -> nn.Module:
    """The same networks as dlrun builds, written by hand."""
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def _raw_train(root: Path):
    from torchvision import datasets

    from dlrun.datasets.mnist import DEBIAN_FASHION, _prepare

    _prepare(datasets.FashionMNIST, root, [DEBIAN_FASHION])
    return datasets.FashionMNIST(str(root), train=True, download=False)


def tensors_epoch(model: str, limit: int, batch: int) -> float:
    ds = _raw_train(REPO / "data")
    x, y = ds.data[:limit or None].unsqueeze(1), ds.targets[:limit or None]
    net, loss_fn = _model(model), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for lo in range(0, len(x), batch):
            idx = order[lo : lo + batch]
            xb = x[idx].float() / 255
            loss = loss_fn(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
    return seconds


def loader_epoch(model: str, limit: int, batch: int) -> float:
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    _raw_train(REPO / "data")
    ds = datasets.FashionMNIST(str(REPO / "data"), train=True, transform=transforms.ToTensor())
    if limit:
        ds = Subset(ds, range(limit))
    loader = DataLoader(ds, batch_size=batch, shuffle=True)
    net, loss_fn = _model(model), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for xb, yb in loader:
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
    return seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("variant", choices=["dlrun", "tensors", "loader"])
    parser.add_argument("--model", choices=list(MODELS), default="mlp")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (0 = all 60,000)")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    fn = {"dlrun": dlrun_epoch, "tensors": tensors_epoch, "loader": loader_epoch}[args.variant]
    seconds = fn(args.model, args.limit, args.batch)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"variant": args.variant, "model": args.model, "seconds": seconds, "peak_rss_mb": peak_mb}))
