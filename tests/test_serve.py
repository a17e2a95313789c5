"""`dlrun serve`: a real server process answered over HTTP (httpx), and the app in-process for the other kinds.

Predictions equal `dlrun predict`'s; bad requests get 422 naming the field and the problem, and the
service keeps serving; 200 concurrent requests are all answered; images can be uploaded."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import inference_runs as R
from dlrun.device.launch import free_port

httpx = pytest.importorskip("httpx")


class Server:
    """`python -m dlrun serve RUN --port P` in a new process, up once /health answers."""

    def __init__(self, run: Path, cwd: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        self.log = open(cwd / f"serve_{self.port}.log", "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dlrun", "serve", str(run), "--port", str(self.port)],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"dlrun serve did not answer /health: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        out = self.output()
        self.log.close()
        return out


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A table run and an image run, each behind a real `dlrun serve` process."""
    folder = tmp_path_factory.mktemp("serve")
    runs = {"table": R.table_run(folder), "image": R.image_run(folder)}
    servers = {kind: Server(run, folder) for kind, run in runs.items()}
    yield folder, runs, servers
    for server in servers.values():
        out = server.stop()
        assert "Traceback" not in out, out


def table_rows(folder: Path) -> list[dict]:
    with open(folder / "table.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "label"} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_served_predictions_equal_dlrun_predict(served, cli):
    folder, runs, servers = served
    out = folder / "predicted.csv"
    result = cli("predict", str(runs["table"]), str(folder / "table.csv"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as f:
        expected = list(csv.DictReader(f))
    rows = table_rows(folder)
    response = httpx.post(f"{servers['table'].url}/predict", json={"rows": rows}, timeout=30)
    assert response.status_code == 200, response.text
    got = response.json()["predictions"]
    assert len(got) == len(expected) == 160
    for served_row, table_row in zip(got, expected, strict=True):
        assert served_row["predicted_label"] == table_row["predicted_label"]
        for name in ("probability_big", "probability_small"):
            assert str(np.float32(served_row[name])) == table_row[name]  # the same float32, to the last bit


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body: not valid JSON"),
        (json.dumps({"data": []}).encode(), "rows: missing"),
        (json.dumps({"rows": {"size": 1}}).encode(), "rows: must be a list, got dict"),
        (json.dumps({"rows": [{"colour": "red", "age": 3}]}).encode(), "rows[0]: missing column 'size'"),
        (
            json.dumps({"rows": [{"size": 1, "colour": "red", "age": 3}, {"size": "ten", "colour": "red", "age": 3}]}),
            "rows[1]: column 'size': cannot read 'ten' as a number",
        ),
        (json.dumps({"rows": ["a string"]}).encode(), "rows[0]: a table row is an object of column -> value"),
    ],
)
def test_bad_requests_get_422_naming_the_field_then_the_service_still_answers(served, body, message):
    _, _, servers = served
    url = servers["table"].url
    response = httpx.post(f"{url}/predict", content=body, headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert "Traceback" not in response.text
    good = httpx.post(f"{url}/predict", json={"rows": [{"size": 1, "colour": "red", "age": 3}]}, timeout=30)
    assert good.status_code == 200 and len(good.json()["predictions"]) == 1


@pytest.mark.slow
def test_200_concurrent_requests_are_all_answered_as_alone(served):
    folder, _, servers = served
    url = servers["table"].url
    rows = table_rows(folder)
    # one-row requests (answered on the event loop when the model is free) and every fifth one of 20 rows (in a
    # worker thread, waiting for the model's lock): each answered as the same request answered alone, one at a
    # time (a batch of another size may differ in the last bit: BLAS blocks by size)
    bodies = [rows[i % 140 : i % 140 + 20] if i % 5 == 0 else [rows[i % len(rows)]] for i in range(200)]
    with httpx.Client(timeout=60) as client:
        alone = [client.post(f"{url}/predict", json={"rows": body}).json()["predictions"] for body in bodies]
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32)) as client:

        def one(i: int):
            response = client.post(f"{url}/predict", json={"rows": bodies[i]})
            return i, response.status_code, response.json()

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(one, range(200)))
    assert len(answers) == 200
    for i, status, body in answers:
        assert status == 200, body
        assert body["predictions"] == alone[i] and len(alone[i]) == len(bodies[i])


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_uploaded_images_are_predicted_as_their_arrays_and_a_wrong_size_is_422(served):
    from dlrun.inference import Predictor

    folder, runs, servers = served
    url = servers["image"].url
    files = sorted((folder / "pics").glob("*/1*.png"))
    response = httpx.post(
        f"{url}/predict", files=[("files", (f.name, f.read_bytes(), "image/png")) for f in files], timeout=30
    )
    assert response.status_code == 200, response.text
    got = response.json()["predictions"]
    expected = Predictor(runs["image"]).predict([f.read_bytes() for f in files])
    assert got == expected and len(got) == len(files)
    assert [p["predicted_label"] for p in got] == [f.parent.name for f in files]  # red cats, blue dogs
    from PIL import Image

    pixels = np.asarray(Image.open(files[0])).tolist()  # (H, W, C) as a JSON array
    as_json = httpx.post(f"{url}/predict", json={"rows": [pixels]}, timeout=30)
    assert as_json.status_code == 200
    assert as_json.json()["predictions"] == Predictor(runs["image"]).predict([files[0].read_bytes()])

    wrong = httpx.post(f"{url}/predict", files=[("files", ("big.png", png(np.zeros((9, 12, 3))), "image/png"))])
    assert wrong.status_code == 422
    assert "files[0] (big.png): wrong image size 12x9 (width x height), the model takes 8x8" in wrong.json()["detail"]
    junk = httpx.post(f"{url}/predict", files=[("files", ("junk.png", b"GIF89a nonsense", "image/png"))])
    assert junk.status_code == 422 and "files[0] (junk.png): not an image file" in junk.json()["detail"]
    assert httpx.post(f"{url}/predict", files=[("files", (files[0].name, files[0].read_bytes()))]).status_code == 200


@pytest.mark.slow
def test_metadata_health_and_docs(served):
    _, runs, servers = served
    url = servers["table"].url
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    meta = httpx.get(f"{url}/metadata").json()
    metrics = json.loads((runs["table"] / "metrics.json").read_text())
    assert meta["test_metrics"] == metrics["test"]
    assert meta["classes"] == ["big", "small"] and meta["target"] == "label" and meta["task"] == "classification"
    assert [(c["name"], c["kind"]) for c in meta["input"]["columns"]] == [
        ("size", "numeric"),
        ("colour", "categorical"),
        ("age", "bucketized"),
    ]
    assert meta["input"]["columns"][1]["levels"] == ["blue", "green", "red"]
    assert httpx.get(f"{url}/docs").status_code == 200
    assert "/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]
    image_meta = httpx.get(f"{servers['image'].url}/metadata").json()
    assert image_meta["input"]["kind"] == "image" and (image_meta["input"]["height"], image_meta["input"]["width"]) == (
        8,
        8,
    )


def test_text_and_series_rows_over_http_in_process(tmp_path):
    """The same app in this process (FastAPI's TestClient, over httpx): text strings and series windows."""
    import warnings

    with warnings.catch_warnings():  # starlette's notice about its httpx-based client
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from dlrun.inference import Predictor
    from dlrun.serve.app import build_app

    for run, rows, bad, message in (
        (R.text_run(tmp_path), ["great fine film", "awful sad"], [3], "rows[0]: expected a text string, got 3"),
        (R.series_run(tmp_path), [[10.0, 11, 12, 13, 12, 11, 10.5]], [[1, 2]], "rows[0]: the window has 2 steps"),
    ):
        predictor = Predictor(run)
        client = TestClient(build_app(predictor))
        response = client.post("/predict", json={"rows": rows})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == predictor.predict(rows)
        refused = client.post("/predict", json={"rows": bad})
        assert refused.status_code == 422 and message in refused.json()["detail"]
        upload = client.post("/predict", files=[("files", ("a.png", b"x"))])
        assert upload.status_code == 422 and "send JSON" in upload.json()["detail"]
    assert client.post("/predict", json={"rows": rows}).status_code == 200


def test_serve_without_the_extra_is_one_line_naming_it(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = cli("serve", "no_such_run")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "dlrun: error: dlrun serve needs fastapi: pip install 'dlrun[serve]'"


def test_backend_onnx_serves_the_exported_model_with_the_same_answers(tmp_path):
    """`dlrun serve --backend onnx`: the run's `dlrun export` model through onnxruntime (skipped where dlrun.export
    or onnxruntime is not installed)."""
    pytest.importorskip("onnxruntime")
    export = pytest.importorskip("dlrun.export")
    import warnings

    from dlrun.serve.app import build_app
    from dlrun.serve.command import load_predictor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    run = R.table_run(tmp_path)
    rows = table_rows(tmp_path)
    torch_answers = load_predictor(run, "torch").predict(rows)
    with pytest.raises(Exception, match="no ONNX export yet"):
        load_predictor(run, "onnx")
    export.export_run(run, "onnx")
    client = TestClient(build_app(load_predictor(run, "onnx"), backend="onnx"))
    assert client.get("/metadata").json()["backend"] == "onnx"
    onnx_answers = client.post("/predict", json={"rows": rows}).json()["predictions"]
    assert [a["predicted_label"] for a in onnx_answers] == [a["predicted_label"] for a in torch_answers]
    for a, b in zip(onnx_answers, torch_answers, strict=True):
        assert abs(a["probability_big"] - b["probability_big"]) < 1e-5
