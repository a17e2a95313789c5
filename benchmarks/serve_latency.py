"""`dlrun serve` against a minimal hand-written FastAPI endpoint around the same torch model.

A table run (the Auto MPG recipe, a few epochs) is trained once; then each server runs in its own process
on this machine, and an httpx client in this process measures (both servers up at once):

- latency of one-row requests, one after the other, alternating between the two servers so that both see the
  same load on the machine (p50, p99 over `--requests` each, after a warm-up);
- throughput with `--concurrency` requests in flight (asyncio + httpx.AsyncClient), requests per second: the
  median of `--rounds` rounds per server, the servers' rounds alternating.

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


def latency(urls: dict[str, str], bodies: dict[str, dict], requests: int) -> dict[str, dict]:
    """One-row requests, one at a time, alternating between the servers (so both see the same machine load)."""
    import httpx

    times: dict[str, list[float]] = {name: [] for name in urls}
    clients = {name: httpx.Client(timeout=30) for name in urls}
    try:
        for i in range(requests + 100):
            for name in urls if i % 2 else reversed(list(urls)):
                t = time.perf_counter()
                response = clients[name].post(urls[name], json=bodies[name])
                elapsed = time.perf_counter() - t
                assert response.status_code == 200, response.text
                if i >= 100:  # warm-up
                    times[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    found = {}
    for name, values in times.items():
        values.sort()
        found[name] = {
            "p50_ms": 1000 * statistics.median(values),
            "p99_ms": 1000 * values[int(0.99 * (len(values) - 1))],
            "mean_ms": 1000 * statistics.fmean(values),
        }
    return found


def throughput(url: str, body: dict, requests: int, concurrency: int) -> float:
    """Requests per second with `concurrency` requests in flight (after a warm-up pass)."""
    import httpx

    async def main() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def worker(queue):
                for _ in queue:
                    response = await client.post(url, json=body)
                    assert response.status_code == 200, response.text

            warm = iter(range(4 * concurrency))
            await asyncio.gather(*(worker(warm) for _ in range(concurrency)))
            queue = iter(range(requests))
            t = time.perf_counter()
            await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
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
    processes, urls = {}, {}
    try:
        for name, command in servers.items():
            port = free_port()
            processes[name] = start([*command, "--port", str(port)], port, work)
            urls[name] = f"http://127.0.0.1:{port}/predict"
        results = latency(urls, bodies, args.requests)
        rates: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):  # alternating rounds; the median of each server's rounds
            for name in urls:
                rates[name].append(throughput(urls[name], bodies[name], args.requests, args.concurrency))
        for name in urls:
            results[name]["throughput_rps"] = statistics.median(rates[name])
            results[name]["throughput_rounds"] = rates[name]
            print(name, json.dumps(results[name]), flush=True)
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(timeout=30)
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
        "rounds": args.rounds,
        "load_average": os.getloadavg(),
        "results": results,
        "slowdown": ratios,
        "within_target": all(r <= TARGET for r in ratios.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per server (median)")
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
