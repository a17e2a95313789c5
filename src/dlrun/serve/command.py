"""`dlrun serve RUN`: load the run, build the app, run uvicorn until interrupted."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dlrun.errors import ConfigError

log = logging.getLogger("dlrun")
BACKENDS = ("torch", "onnx")


def require_serve_extra() -> None:
    """FastAPI, uvicorn and python-multipart are importable, or one line naming the extra to install."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"dlrun serve needs {', '.join(missing)}: pip install 'dlrun[serve]'")


def load_predictor(run: str | Path, backend: str, prefer: str = "final"):
    """The run's Predictor with the torch model, or with an exported ONNX model (`--backend onnx`)."""
    from dlrun.inference import Predictor

    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend == "onnx":
        try:  # lazily: onnxruntime is only needed here
            from dlrun.export import OnnxForward, open_export
        except ImportError:
            raise ConfigError("--backend onnx needs dlrun export (dlrun.export), which this install lacks") from None

        _, _, model = open_export(run)  # the run's `dlrun export RUN --format onnx` folder (or an export folder)
        return Predictor(run, forward=OnnxForward(model), prefer=prefer)
    return Predictor(run, prefer=prefer)


def inference_threads() -> int:
    """torch's intra-op threads for serving: OMP_NUM_THREADS when set, else up to 4 of the machine's cores."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    return int(given) if given.isdigit() and int(given) > 0 else max(1, min(4, os.cpu_count() or 1))


def serve_run(
    run: str | Path, host: str = "127.0.0.1", port: int = 8000, backend: str = "torch", prefer: str = "final"
) -> None:
    require_serve_extra()
    import torch
    import uvicorn

    from dlrun.rundir import RunDir
    from dlrun.serve.app import build_app

    torch.set_num_threads(inference_threads())
    predictor = load_predictor(run, backend, prefer)
    app = build_app(predictor, RunDir(predictor.run_dir).read_metrics(), backend)
    print(
        f"dlrun serve: {predictor.run_dir} ({predictor.task_name}, {predictor.input.kind} rows, {backend}) "
        f"on http://{host}:{port}  (docs: /docs)",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
