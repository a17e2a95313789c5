"""Time training epochs of Fashion-MNIST three ways, in this process (run by benchmarks/run.py).

  dlrun      dlrun's own loop (in-memory uint8 fast path), through `dlrun.train`
  tensors    a minimal hand-written PyTorch loop over in-memory tensors (the lower bound)
  loader     the usual torchvision Dataset + DataLoader + ToTensor loop

Each variant trains `--epochs` epochs and reports the median time of the epochs after the first (the
first one pays for warm-up and, with --compile, for compilation). On CUDA the tensors live on the GPU
and every timed epoch ends with a synchronize. --precision, --compile and --channels-last apply to
every variant that can take them, so like can be compared with like.

Prints one JSON line: seconds per epoch and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
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


def dlrun_epochs(args) -> list[float]:
    from dlrun.config import compose
    from dlrun.train import train

    overrides = [
        "dataset=fashion_mnist",
        *MODELS[args.model],
        "optimizer=adam",
        f"trainer.batch_size={args.batch}",
        f"trainer.max_epochs={args.epochs}",
        "logger=none",
        "plots.enabled=false",
        "dataset.split.val=0.0",
        "dataset.split.val_first_n=null",
        "trainer.checkpoint.monitor=train/loss",
        "dataset.normalize=unit",
        f"device.type={args.device}",
        f"device.precision={args.precision}",
        f"device.compile={args.compile}",
    ]
    if args.channels_last is not None:
        overrides.append(f"device.channels_last={args.channels_last}")
    if args.limit:
        overrides.append(f"dataset.split.val_first_n={60000 - args.limit}")
    with tempfile.TemporaryDirectory() as tmp:
        train(compose(overrides), tmp, progress=False)
        history = json.loads((Path(tmp) / "metrics.json").read_text())["history"]
    return [h["train_time_s"] for h in history]


def _model(args) -> nn.Module:
    """The same networks as dlrun builds, written by hand."""
    if args.model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    else:
        net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    net = net.to(args.device)
    if args.channels_last == "true":
        net = net.to(memory_format=torch.channels_last)
    if args.compile:
        net.compile()
    return net


def _autocast(args):
    if args.precision == "bf16":
        return torch.autocast(args.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sync(args) -> None:
    if args.device == "cuda":
        torch.cuda.synchronize()


def _raw_train(root: Path):
    from torchvision import datasets

    from dlrun.datasets.mnist import DEBIAN_FASHION, _prepare

    _prepare(datasets.FashionMNIST, root, [DEBIAN_FASHION])
    return datasets.FashionMNIST(str(root), train=True, download=False)


def _step(net, opt, loss_fn, xb, yb, args) -> None:
    with _autocast(args):
        loss = loss_fn(net(xb).float(), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()


def tensors_epochs(args) -> list[float]:
    ds = _raw_train(REPO / "data")
    x = ds.data[: args.limit or None].unsqueeze(1).to(args.device)
    y = ds.targets[: args.limit or None].to(args.device)
    net, loss_fn = _model(args), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    memory = torch.channels_last if args.channels_last == "true" else torch.contiguous_format
    times = []
    for _ in range(args.epochs):
        _sync(args)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=x.device)
        for lo in range(0, len(x), args.batch):
            idx = order[lo : lo + args.batch]
            xb = (x[idx].float() / 255).contiguous(memory_format=memory)
            _step(net, opt, loss_fn, xb, y[idx], args)
        _sync(args)
        times.append(time.perf_counter() - start)
    return times


def loader_epochs(args) -> list[float]:
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    _raw_train(REPO / "data")
    ds = datasets.FashionMNIST(str(REPO / "data"), train=True, transform=transforms.ToTensor())
    if args.limit:
        ds = Subset(ds, range(args.limit))
    cuda = args.device == "cuda"
    loader = DataLoader(
        ds,
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=cuda,
        persistent_workers=args.workers > 0,
    )
    net, loss_fn = _model(args), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    times = []
    for _ in range(args.epochs):
        _sync(args)
        start = time.perf_counter()
        for xb, yb in loader:
            _step(net, opt, loss_fn, xb.to(args.device, non_blocking=cuda), yb.to(args.device, non_blocking=cuda), args)
        _sync(args)
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("variant", choices=["dlrun", "tensors", "loader"])
    parser.add_argument("--model", choices=list(MODELS), default="mlp")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (0 = all 60,000)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="epochs to run; the first is not timed")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["32", "bf16"], default="32")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--channels-last",
        choices=["true", "false", "auto"],
        default=None,
        help="memory format; unset = dlrun's default, false for the hand-written loops",
    )
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (loader variant)")
    args = parser.parse_args()
    torch.manual_seed(0)
    fn = {"dlrun": dlrun_epochs, "tensors": tensors_epochs, "loader": loader_epochs}[args.variant]
    times = fn(args)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timed = times[1:] or times
    print(
        json.dumps(
            {
                "variant": args.variant,
                "model": args.model,
                "seconds": statistics.median(timed),
                "epochs": times,
                "peak_rss_mb": peak_mb,
            }
        )
    )
