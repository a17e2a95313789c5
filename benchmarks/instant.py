"""How fast dlrun answers before a run starts: a typo, a wrong value or name, `dlrun show`, `dlrun list`.

Each command runs as a user runs it (a new `python -m dlrun` process, in an empty folder) several times;
the median wall time is reported beside the same-run baselines: a bare interpreter (`python -c pass`) and
`import torch` (what every answer cost before the config was checked without it). Target: under 1 s.

    python benchmarks/instant.py [--repeats 5] [--out benchmarks/results_instant.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_S = 1.0

BASELINES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}
DLRUN = [sys.executable, "-m", "dlrun"]
COMMANDS = {
    "train: unknown key (trainer.max_epocs=3)": (["train", "trainer.max_epocs=3"], 2),
    "train: wrong type (trainer.batch_size=abc)": (["train", "trainer.batch_size=abc"], 2),
    "train: out of range (dataset.split.val=1.5)": (["train", "dataset.split.val=1.5"], 2),
    "train: unknown name (model=mlpp)": (["train", "model=mlpp"], 2),
    "train: bad interpolation (model.hidden=${nope})": (["train", "model.hidden=${nope}"], 2),
    "train: bad recipe value (+experiment=auto_mpg dataset.target=mgp)": (
        ["train", "+experiment=auto_mpg", "dataset.target=mgp"],
        2,
    ),
    "show": (["show"], 0),
    "show +experiment=fashion_mnist_cnn": (["show", "+experiment=fashion_mnist_cnn"], 0),
    "list": (["list"], 0),
    "list models": (["list", "models"], 0),
}


def timed(cmd: list[str], cwd: str, expect: int | None) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if expect is not None and out.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)}: exit {out.returncode}, expected {expect}\n{out.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results_instant.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as cwd:
        for label, cmd in BASELINES.items():
            timed(cmd, cwd, 0)  # warm the file cache
            rows.append((label, statistics.median(timed(cmd, cwd, 0) for _ in range(args.repeats)), None))
        base = rows[0][1]
        for label, (argv, code) in COMMANDS.items():
            timed(DLRUN + argv, cwd, code)
            rows.append((label, statistics.median(timed(DLRUN + argv, cwd, code) for _ in range(args.repeats)), code))
    print(f"{'command':<68} {'median s':>9} {'x python':>9}  target")
    for label, seconds, code in rows:
        verdict = "" if code is None else ("ok" if seconds < TARGET_S else "SLOW")
        print(f"{label:<68} {seconds:>9.3f} {seconds / base:>9.1f}  {verdict}")
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "repeats": args.repeats,
        "target_s": TARGET_S,
        "median_s": {label: round(seconds, 3) for label, seconds, _ in rows},
        "ratio_to_python": {label: round(seconds / base, 2) for label, seconds, _ in rows},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if any(code is not None and seconds >= TARGET_S for _, seconds, code in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
