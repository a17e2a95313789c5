"""`dlrun serve`: a saved run behind an HTTP API (FastAPI on uvicorn).

    build_app(predictor, metrics=None, backend="torch") -> FastAPI    the service (app.py)
    serve_run(run, host, port, backend, prefer) -> None              what the command runs (command.py)

Endpoints: `POST /predict` (JSON {"rows": [...]}, or multipart image files), `GET /health`,
`GET /metadata` (input schema, classes, the run's test metrics), OpenAPI docs at `/docs`.
"""

from __future__ import annotations

__all__ = ["build_app", "serve_run"]


def __getattr__(name: str):
    if name == "build_app":
        from dlrun.serve.app import build_app

        return build_app
    if name == "serve_run":
        from dlrun.serve.command import serve_run

        return serve_run
    raise AttributeError(f"module 'dlrun.serve' has no attribute '{name}'")
