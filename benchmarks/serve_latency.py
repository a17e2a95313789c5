"""`dlrun serve` against a minimal hand-written FastAPI endpoint around the same torch model.

A table run (the Auto MPG recipe, a few epochs) is trained once; then each server runs in its own process
on this machine, one at a time, and an httpx client in this process measures:

- latency of one-row requests, one after the other (p50, p99 over `--requests`, after a warm-up);
- throughput with `--concurrency` requests in flight (asyncio + httpx.AsyncClient), requests per second.

`dlrun serve` takes the raw row (column -> value, as a user sends it) and does the run's preprocessing;
the hand-written endpoint takes the model's ready feature vector and only runs the model, so the ratio is
what everything dlrun adds (reading the row, checking it, preprocessing, decoding, the lock) costs.
Both use the same uvicorn settings and torch thread count. Target: dlrun within 1.2x of the baseline.

    python benchmarks/serve_latency.py [--requests 1000] [--concurrency 16] [--out benchmarks/results_serve.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

HERE = Path(__file__).resolve().parent
TARGET = 1.2


class Rows(BaseModel):
    """The hand-written endpoint's body: the model's feature vectors."""

    rows: list[list[float]]


def baseline_app(run: str):
    """The hand-written service: the run's torch model behind one FastAPI endpoint taking feature vectors."""
    import torch
    from fastapi import FastAPI

    from dlrun.saved_run import load_run

    loaded = load_run(run)
    task = loaded.task
    task.train(False)
    app = FastAPI()

    @app.post("/predict")
    def predict(body: Rows) -> dict:
        with torch.no_grad():
            out = task.model(torch.tensor(body.rows, dtype=torch.float32))
            values = task.scores(out).numpy()
        return {"predictions": task.in_data_units(values, values)[1].reshape(-1).tolist()}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app


def serve_baseline(run: str, port: int) -> None:
    import torch
    import uvicorn

    from dlrun.serve.command import inference_threads

    torch.set_num_threads(inference_threads())
    uvicorn.run(baseline_app(run), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], port: int, cwd: Path) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server failed: {process.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def latency(url: str, body: dict, requests: int) -> dict:
    import httpx

    times = []
    with httpx.Client(timeout=30) as client:
        for i in range(requests + 100):
            t = time.perf_counter()
            response = client.post(url, json=body)
            elapsed = time.perf_counter() - t
            assert response.status_code == 200, response.text
            if i >= 100:  # warm-up
                times.append(elapsed)
    times.sort()
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p99_ms": 1000 * times[int(0.99 * (len(times) - 1))],
        "mean_ms": 1000 * statistics.fmean(times),
    }


def throughput(url: str, body: dict, requests: int, concurrency: int) -> float:
    import httpx

    async def main() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            queue = iter(range(requests))

            async def worker():
                for _ in queue:
                    response = await client.post(url, json=body)
                    assert response.status_code == 200, response.text

            await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up pass
            queue = iter(range(requests))
            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return requests / (time.perf_counter() - t)

    return asyncio.run(main())


def measure(args) -> dict:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from conftest import train_in_process
    from dlrun.inference import Predictor

    work = Path(tempfile.mkdtemp(prefix="serve_bench_"))
    run = work / "run"
    train_in_process(["+experiment=auto_mpg", "trainer.max_epochs=20", "plots.enabled=false"], run)
    predictor = Predictor(run)
    row = {c["name"]: (c["levels"][0] if c["kind"] == "categorical" else c["median"]) for c in predictor.input.columns}
    (features,) = predictor.encode([row])
    bodies = {"dlrun serve": {"rows": [row]}, "hand-written FastAPI": {"rows": features.tolist()}}
    servers = {
        "dlrun serve": [sys.executable, "-m", "dlrun", "serve", str(run)],
        "hand-written FastAPI": [sys.executable, str(Path(__file__).resolve()), "--baseline-server", str(run)],
    }
    results: dict = {}
    for name, command in servers.items():
        port = free_port()
        process = start([*command, "--port", str(port)], port, work)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            results[name] = latency(url, bodies[name], args.requests)
            results[name]["throughput_rps"] = throughput(url, bodies[name], args.requests, args.concurrency)
        finally:
            process.terminate()
            process.wait(timeout=30)
        print(name, json.dumps({k: round(v, 3) for k, v in results[name].items()}), flush=True)
    dlrun, base = results["dlrun serve"], results["hand-written FastAPI"]
    ratios = {
        "p50": dlrun["p50_ms"] / base["p50_ms"],
        "p99": dlrun["p99_ms"] / base["p99_ms"],
        "throughput": base["throughput_rps"] / dlrun["throughput_rps"],
    }
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}",
        "python": platform.python_version(),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "results": results,
        "slowdown": ratios,
        "within_target": all(r <= TARGET for r in ratios.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=HERE / "results_serve.json")
    parser.add_argument("--baseline-server", metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        serve_baseline(args.baseline_server, args.port)
        return
    found = measure(args)
    print(json.dumps(found["slowdown"], indent=1), "within target:", found["within_target"])
    args.out.write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
