"""`dlrun export RUN --format onnx|torchscript [-o DIR]`: the model and its signature.json (+ vocabulary.txt).

Supervised runs export `PredictionModule` (model + probabilities or de-scaled values); generative runs
(vae, gan, cgan) export `SamplingModule` (latent vectors -> images in [0, 1]). ONNX goes through
torch.onnx's TorchScript-based exporter (it handles the packed sequences of the recurrent models) with
a dynamic batch axis and, for recurrent models, a dynamic sequence axis; TorchScript through
torch.jit.trace. Everything runs on the CPU, so the files load anywhere.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from dlrun.errors import ConfigError, DlrunError
from dlrun.export.onnx_forward import INSTALL_HINT
from dlrun.export.signature import build_signature, data_kind, input_spec, output_spec, preprocessing_spec
from dlrun.rundir import RunDir
from dlrun.rundir.exports import ExportDir

FORMATS = ("onnx", "torchscript")
OPSET = 17


def export_run(run: str | Path, fmt: str, output: str | Path | None = None, prefer: str = "final") -> tuple[Path, dict]:
    """Export a run directory's (or checkpoint's) model; returns the model file and the signature written."""
    import torch

    from dlrun.saved_run import load_run
    from dlrun.tasks.generative import GenerativeTask

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if fmt == "onnx":
        _require_onnx()
    run = Path(run)
    loaded = load_run(run, prefer)
    task = loaded.task
    task.train(False)
    if output is None:
        root = run if run.is_dir() else loaded.checkpoint.parent.parent
        output = RunDir(root).export_dir(fmt)
    folder = ExportDir(output)
    cpu = torch.device("cpu")
    for module in task.models.values():
        module.to(cpu).eval()

    if isinstance(task, GenerativeTask):
        module, example, inputs, outputs, extra = _sampling(task, loaded)
    else:
        module, example, inputs, outputs, extra = _prediction(task, loaded)
    module.eval()
    names = [i["name"] for i in inputs]
    dynamic = {i["name"]: {int(k): v for k, v in i["dynamic_axes"].items()} for i in inputs}
    dynamic[outputs[0]["name"]] = {0: "batch", **({1: "steps"} if outputs[0]["shape"][1:2] == [None] else {})}
    try:
        path = _write(folder, fmt, module, example, names, outputs[0]["name"], dynamic)
    except DlrunError:
        raise
    except Exception as exc:  # noqa: BLE001 - an operator the exporter does not know (a plugin's model...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot export model '{loaded.config.model.name}' to {fmt}: {first}") from None
    if fmt == "onnx":
        extra["opset"] = OPSET
    signature = build_signature(loaded, fmt, path.name, inputs, outputs, extra)
    if "words" in loaded.preprocessing:
        folder.write_vocabulary(loaded.preprocessing["words"])
    folder.write_signature(signature)
    return path, signature


def _write(folder: ExportDir, fmt: str, module, example: tuple, names: list[str], output: str, dynamic: dict) -> Path:
    """The model file, written atomically; the exporters' Python and native warnings are kept off the console."""
    import torch

    with warnings.catch_warnings(), torch.no_grad(), native_stderr_silenced():
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            path = folder.write_model(
                fmt,
                lambda f: torch.onnx.export(
                    module,
                    example,
                    f,
                    input_names=names,
                    output_names=[output],
                    dynamic_axes=dynamic,
                    opset_version=OPSET,
                    dynamo=False,
                ),
            )
        else:
            traced = torch.jit.trace(module, example, check_trace=False)
            path = folder.write_model(fmt, lambda f: torch.jit.save(traced, f))
    return path


@contextmanager
def native_stderr_silenced():
    """File descriptor 2 pointed at /dev/null: torch's C++ exporter prints shape-inference warnings about packed
    sequences (prim::PackPadded) that do not concern the user; errors still arrive as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401 - torch.onnx.export needs it (and onnxscript)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ConfigError(f"--format onnx needs the onnx package: {INSTALL_HINT}") from None


def _prediction(task, loaded):
    import torch

    from dlrun.export.modules import PredictionModule
    from dlrun.models.recurrent import RecurrentNet

    info, prep = loaded.info, loaded.preprocessing
    inputs = input_spec(info, prep, isinstance(task.model, RecurrentNet))
    shape = tuple(inputs[0]["shape"])
    shape = (2, *(s if s is not None else info.input_shape[i] for i, s in enumerate(shape[1:])))
    if inputs[0]["dtype"] == "int64":
        example = torch.randint(2, max(3, info.vocab_size), shape)
        example[1, shape[1] // 2 :] = 0  # a padded row, so the packing path is what gets traced
    else:
        example = torch.randn(shape)
    extra = {
        "data": data_kind(prep),
        "preprocessing": preprocessing_spec(info, prep),
        "fitted_preprocessing": prep,  # as saved in the checkpoint (dlrun predict --backend onnx reads it)
        "dataset": _plain(loaded.config.dataset),
    }
    return PredictionModule(task), (example,), inputs, [output_spec(info, loaded.task_name)], extra


def _sampling(task, loaded):
    import torch

    from dlrun.export.modules import SamplingModule

    info = loaded.info
    z = torch.randn(2, task.latent_dim)
    inputs = [{"name": "z", "shape": [None, task.latent_dim], "dtype": "float32", "dynamic_axes": {"0": "batch"}}]
    example: tuple = (z,)
    if task.num_classes:
        inputs.append({"name": "labels", "shape": [None], "dtype": "int64", "dynamic_axes": {"0": "batch"}})
        example = (z, torch.tensor([0, task.num_classes - 1]))
    outputs = [
        {
            "name": "images",
            "shape": [None, *info.input_shape],
            "dtype": "float32",
            "meaning": "generated images in [0, 1], (batch, channels, height, width); z ~ N(0, 1)",
        }
    ]
    extra = {
        "data": "latent",
        "sampling": {
            "family": task.family,
            "latent_dim": task.latent_dim,
            "num_classes": task.num_classes,
            "how": "draw z from a standard normal, shape (batch, latent_dim)"
            + ("; labels are class indices in class_names order" if task.num_classes else ""),
        },
    }
    return SamplingModule(task), example, inputs, outputs, extra


def _plain(node) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True)
