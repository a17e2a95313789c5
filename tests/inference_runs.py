"""Small runs of every input kind, trained in-process in a few seconds, for the inference and serve tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import train_in_process

FAST = ["plots.enabled=false", "trainer.max_epochs=2", "trainer.batch_size=32"]


def table_file(folder: Path) -> Path:
    """A classification table with a numeric, a categorical and a bucketized column, and missing values."""
    rng = np.random.default_rng(0)
    n = 160
    size = rng.normal(10, 3, n)
    colour = rng.choice(["red", "green", "blue"], n)
    age = rng.integers(0, 60, n)
    label = np.where(size + (colour == "red") * 4 > 11, "big", "small")
    lines = ["size,colour,age,label"]
    for i in range(n):
        cell = "" if i % 17 == 0 else f"{size[i]:.3f}"
        lines.append(f"{cell},{colour[i]},{age[i]},{label[i]}")
    path = folder / "table.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def table_run(folder: Path) -> Path:
    path = table_file(folder)
    run = folder / "table_run"
    train_in_process(
        [
            "dataset=csv",
            f"dataset.path={path}",
            "dataset.target=label",
            "+dataset.features.colour=categorical",
            "+dataset.features.age={kind: bucketized, boundaries: [20, 40]}",
            "model.hidden=[8]",
            *FAST,
        ],
        run,
    )
    return run


def text_run(folder: Path, encoding: str = "sequence") -> Path:
    rng = np.random.default_rng(1)
    good, bad = ["great", "fine", "lovely", "nice"], ["awful", "bad", "poor", "sad"]
    lines = []
    for i in range(120):
        label = "pos" if i % 2 else "neg"
        words = rng.choice(good if label == "pos" else bad, 4).tolist() + ["the", "film"]
        lines.append(f"{label}\t{' '.join(words)}")
    path = folder / "texts.tsv"
    path.write_text("\n".join(lines) + "\n")
    run = folder / f"text_{encoding}_run"
    model = (
        ["model=lstm", "model.hidden=8", "model.embedding_dim=8"] if encoding == "sequence" else ["model.hidden=[8]"]
    )
    train_in_process(
        [
            "dataset=text_csv",
            f"dataset.path={path}",
            f"dataset.encoding={encoding}",
            "dataset.max_len=8",
            "dataset.num_words=50",
            *model,
            *FAST,
        ],
        run,
    )
    return run


def series_run(folder: Path) -> Path:
    run = folder / "series_run"
    train_in_process(
        ["+experiment=temperature_lstm", "dataset.window=7", "model.hidden=8", "trainer.max_epochs=1", *FAST[:1]],
        run,
    )
    return run


def image_folder(folder: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(4)
    root = folder / "pics"
    for label, colour in (("cats", (200, 30, 30)), ("dogs", (30, 30, 200))):
        (root / label).mkdir(parents=True)
        for i in range(20):
            pixels = np.clip(np.array(colour) + rng.integers(-25, 25, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def image_run(folder: Path) -> Path:
    root = image_folder(folder)
    run = folder / "image_run"
    train_in_process(
        [
            "dataset=image_folder",
            f"dataset.path={root}",
            "dataset.image_size=[8,8]",
            "dataset.num_workers=0",
            "model=cnn",
            "model.blocks=[{channels: 4, pool: 2}]",
            "model.head=[]",
            *FAST,
        ],
        run,
    )
    return run


def digits_run(folder: Path) -> Path:
    run = folder / "digits_run"
    train_in_process(["model.hidden=[16]", *FAST], run)
    return run
