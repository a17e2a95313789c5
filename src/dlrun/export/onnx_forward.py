"""Run an exported ONNX model with onnxruntime: the same call as the torch path, numpy in, numpy out.

    OnnxForward(model_onnx)(*arrays) -> np.ndarray
        arrays are the model's inputs in signature order (a table's features, token ids, windows,
        normalized images; latent vectors and labels for a generator); the output is what the torch
        path gives: class probabilities, values in the data's units, or images in [0, 1].
    require_onnxruntime() -> module      one line (exit 2) naming `pip install 'dlrun[export]'` when missing
    open_export(path) -> (ExportDir, signature, model.onnx)
        `path` is an export folder, a model.onnx beside its signature.json, or a run directory (its
        export/onnx/ folder)

Light: numpy and onnxruntime only, no torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.errors import ConfigError, DataError
from dlrun.rundir import RunDir
from dlrun.rundir.exports import ExportDir

INSTALL_HINT = "pip install 'dlrun[export]'"
ONNX_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(double)": np.float64}


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"the ONNX backend needs onnxruntime: {INSTALL_HINT}") from None
    return onnxruntime


class OnnxForward:
    """An onnxruntime session on one model file, called like the torch model: `forward(*arrays)`."""

    def __init__(self, path: str | Path):
        ort = require_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"ONNX model not found: {self.path}")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: the session's warnings are not the user's business
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"cannot load ONNX model {self.path}: {first}") from None
        self.inputs = [(i.name, ONNX_TYPES.get(i.type, np.float32)) for i in self.session.get_inputs()]

    @property
    def input_names(self) -> list[str]:
        return [name for name, _ in self.inputs]

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if len(arrays) != len(self.inputs):
            raise DataError(
                f"{self.path.name} takes {len(self.inputs)} input(s) ({', '.join(self.input_names)}), got {len(arrays)}"
            )
        feed = {
            name: np.ascontiguousarray(a, dtype=dtype) for (name, dtype), a in zip(self.inputs, arrays, strict=True)
        }
        try:
            return self.session.run(None, feed)[0]
        except Exception as exc:  # noqa: BLE001 - a wrong shape or dtype: onnxruntime's own exception types
            raise DataError(f"{self.path.name}: {str(exc).strip().splitlines()[0]}") from None


def open_export(path: str | Path) -> tuple[ExportDir, dict, Path]:
    """The export folder, its signature and its model.onnx, from a folder, a model.onnx or a run directory."""
    path = Path(path)
    if path.is_file() and path.suffix == ".onnx":
        folder = ExportDir(path.parent)
    elif path.is_dir() and ExportDir(path).is_export():
        folder = ExportDir(path)
    elif path.is_dir() and RunDir(path).is_run():
        folder = ExportDir(RunDir(path).export_dir("onnx"))
        if not folder.is_export():
            raise ConfigError(f"{path} has no ONNX export yet: run `dlrun export {path} --format onnx` first")
    else:
        raise ConfigError(f"not an ONNX export, a model.onnx or a run directory: {path}")
    signature = folder.read_signature()
    if signature is None:
        raise ConfigError(
            f"no signature.json beside {path}: export the run again with `dlrun export RUN --format onnx`"
        )
    if signature.get("format") != "onnx":
        raise ConfigError(f"{folder.path} holds a {signature.get('format')} export, not an ONNX one")
    model = path if path.is_file() else folder.model("onnx")
    return folder, signature, model
