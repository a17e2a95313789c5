"""The FastAPI application around a `Predictor`.

Requests are read by hand (not by a pydantic model) so that every bad request is answered with HTTP 422
and one message naming the field and the problem, as dlrun's one-line errors do; nothing a client sends
can produce a 500 with a traceback. The model call is serialized by a lock (one torch model, used under
no_grad). A request of a few rows is answered on the event loop when the lock is free (its work takes a
fraction of a millisecond); larger or contended requests are encoded and decoded in worker threads, in
parallel, and wait for the lock only around the model call.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dlrun.errors import DlrunError

log = logging.getLogger("dlrun")

MAX_ROWS = 10_000  # rows in one request
INLINE_ROWS = 8  # requests of up to this many rows are answered on the event loop when the model is free
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {
                        "rows": {
                            "type": "array",
                            "description": "tables: {column: value}; text: strings; series: windows; "
                            "images: arrays of 0-255 values. See GET /metadata for this model's input.",
                            "items": {},
                        }
                    },
                },
                "example": {"rows": []},
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                },
            },
        },
    }
}


class BadRequest(Exception):
    """A request the service cannot read: answered with 422 and `message`."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def build_app(predictor, metrics: dict | None = None, backend: str = "torch") -> FastAPI:
    """The service for `predictor` (a `dlrun.inference.Predictor`); `metrics` is the run's metrics.json."""
    from dlrun import __version__

    app = FastAPI(
        title=f"dlrun serve: {predictor.run_dir.name}",
        version=__version__,
        description="Predictions of a trained dlrun run. POST rows to /predict; GET /metadata describes a row.",
    )
    lock = threading.Lock()
    schema = predictor.schema()
    metadata = {
        "run": str(predictor.run_dir.resolve()),
        "checkpoint": str(predictor.checkpoint.resolve()),
        "backend": backend,
        **schema,
        "test_metrics": (metrics or {}).get("test"),
    }

    def predict_rows(rows: list, locked: bool = False) -> list[dict]:
        arrays = predictor.encode(rows)
        if locked:  # the caller holds the lock
            values = predictor.forward(*arrays)
        else:
            with lock:
                values = predictor.forward(*arrays)
        lengths = [len(t) for t in predictor.input.tokens(rows)] if predictor.task_name == "tagging" else None
        return predictor.decode(values, lengths)

    async def answer(rows: list) -> list[dict]:
        """A few rows are answered right away on the event loop when the model is free (a fraction of a
        millisecond: cheaper than a hop to a worker thread); more rows, or a busy model, in a worker thread."""
        if len(rows) <= INLINE_ROWS and lock.acquire(blocking=False):
            try:
                return predict_rows(rows, locked=True)
            finally:
                lock.release()
        return await run_in_threadpool(predict_rows, rows)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return JSONResponse(status_code=422, content={"detail": exc.message})

    @app.exception_handler(DlrunError)
    async def bad_data(request: Request, exc: DlrunError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):
        log.exception("dlrun serve: %s %s failed", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": f"internal error: {type(exc).__name__}"})

    @app.get("/health", summary="Is the service up")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata", summary="The model: input schema, classes, test metrics")
    async def get_metadata() -> dict:
        return metadata

    @app.post("/predict", summary="Predict rows (JSON) or uploaded images (multipart)", openapi_extra=PREDICT_BODY)
    async def predict(request: Request) -> dict:
        kind = request.headers.get("content-type", "")
        if not kind.startswith("multipart/form-data"):
            rows = _rows(await request.body())
            return JSONResponse({"predictions": await answer(rows) if rows else []})
        names, rows = await _uploaded(request, predictor.input.kind)
        try:
            return JSONResponse({"predictions": await answer(rows)})
        except DlrunError as exc:  # "rows[i]: ..." -> "files[i] (name.png): ..."
            found = re.match(r"rows\[(\d+)\]", str(exc))
            if found is None:
                raise
            raise BadRequest(f"files[{found[1]}] ({names[int(found[1])]}){str(exc)[found.end() :]}") from None

    return app


def _rows(body: bytes) -> list:
    """The `rows` of a JSON body {"rows": [...]}, or BadRequest naming what is wrong."""
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f'body: not valid JSON ({exc}); send {{"rows": [...]}}') from None
    if not isinstance(data, dict) or "rows" not in data:
        raise BadRequest('rows: missing; the body is a JSON object {"rows": [...]}')
    rows = data["rows"]
    if not isinstance(rows, list):
        raise BadRequest(f"rows: must be a list, got {type(rows).__name__}")
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"rows: {len(rows)} rows, at most {MAX_ROWS} per request")
    return rows


async def _uploaded(request: Request, kind: str) -> tuple[list[str], list[bytes]]:
    """The names and bytes of every uploaded file of a multipart body (images), or BadRequest."""
    if kind != "image":
        raise BadRequest(f'files: this model reads {kind} rows, not uploaded files; send JSON {{"rows": [...]}}')
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - any malformed multipart body is the client's error
        raise BadRequest(f"body: not a readable multipart form ({exc})") from None
    files = [value for _, value in form.multi_items() if hasattr(value, "read")]
    if not files:
        raise BadRequest("files: no file in the multipart form; upload images as the field 'files'")
    if len(files) > MAX_ROWS:
        raise BadRequest(f"files: {len(files)} files, at most {MAX_ROWS} per request")
    return [str(f.filename) for f in files], [await f.read() for f in files]
