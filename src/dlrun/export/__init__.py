"""Exported models: `dlrun export` writes them, `OnnxForward` runs them with onnxruntime.

    export_run(run, fmt, output=None, prefer="final") -> (model file, signature)   dlrun.export.writer
    OnnxForward(model_onnx)(*arrays) -> np.ndarray                                  dlrun.export.onnx_forward
    open_export(path) -> (ExportDir, signature, model.onnx)

Importing this package is light (numpy; onnxruntime when a session is opened; torch only to export).
"""

from __future__ import annotations

from dlrun.export.onnx_forward import OnnxForward, open_export, require_onnxruntime


def export_run(*args, **kwargs):
    from dlrun.export.writer import export_run as run_export

    return run_export(*args, **kwargs)


__all__ = ["OnnxForward", "export_run", "open_export", "require_onnxruntime"]
