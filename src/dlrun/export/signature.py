"""What `signature.json` says about an exported model: its inputs and output, the classes, and the fitted
preprocessing needed to feed it outside dlrun (plain data, from the checkpoint).

    data_kind(preprocessing) -> "table" | "features" | "image" | "text" | "series"
    input_spec(info, preprocessing, recurrent) -> list of {name, shape, dtype, dynamic_axes}
    build_signature(...) -> dict        the whole file (written by dlrun.export.writer)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dlrun.datasets.base import model_input_shape
from dlrun.rundir import VOCABULARY_FILE

SIGNATURE_VERSION = 1


def data_kind(preprocessing: dict) -> str:
    """Which kind of input the run trained on, from the fitted preprocessing's keys."""
    if preprocessing.get("kind") == "timeseries":
        return "series"
    if "columns" in preprocessing:
        return "table"
    if "encoding" in preprocessing:
        return "text"
    if "std" in preprocessing and "normalize" in preprocessing:
        return "image"
    return "features"


def input_spec(info, preprocessing: dict, recurrent: bool) -> list[dict[str, Any]]:
    """One input: its name, shape (None for a dynamic axis), dtype and the names of the dynamic axes."""
    kind = data_kind(preprocessing)
    shape: list[Any] = [None, *model_input_shape(info.input_shape, preprocessing)]
    dynamic = {"0": "batch"}
    dtype = "float32"
    if kind == "text" and preprocessing["encoding"] == "sequence":
        name, dtype = "token_ids", "int64"
    elif kind == "text":
        name = "multi_hot"
    elif kind == "series":
        name = "windows"
    elif kind == "image":
        name = "images"
    else:
        name = "features"
    if recurrent and kind in ("text", "series") and len(shape) >= 2:
        shape[1] = None
        dynamic["1"] = "steps"
    return [{"name": name, "shape": shape, "dtype": dtype, "dynamic_axes": dynamic}]


def output_spec(info, task_name: str) -> dict[str, Any]:
    if info.kind == "regression":
        return {
            "name": "values",
            "shape": [None, info.output_size],
            "dtype": "float32",
            "meaning": "predicted values in the data's original units (the target scaling is undone in the model)",
        }
    if info.per_step:
        shape, meaning = [None, None, info.num_classes], "class probabilities per step (softmax), in class_names order"
    elif info.binary:
        shape = [None]
        meaning = f"probability of class '{info.class_names[1]}' (sigmoid of the one logit); class 1 when >= 0.5"
    else:
        shape, meaning = [None, info.num_classes], "class probabilities (softmax), columns in class_names order"
    return {"name": "probabilities", "shape": shape, "dtype": "float32", "meaning": meaning}


def preprocessing_spec(info, prep: dict) -> dict[str, Any]:
    """The fitted transform from raw records to the model's input, described for a user outside dlrun."""
    kind = data_kind(prep)
    if kind == "table":
        return {
            "kind": "table",
            "how": "parse each column as in training; numeric: (value - mean) / scale (missing: the training "
            "median); categorical one-hot: one column per level in order; embedded categorical: 1 + index of the "
            "level (0: unknown), as the last columns; bucketized: by boundaries; date/datetime: parsed with the "
            "column's strptime format (unparseable: the training median date), then (year - mean) / scale and "
            "sin/cos of month, day of week, day of year (and hour) over their periods. feature_names gives the order.",
            "columns": prep["columns"],
            "feature_names": prep.get("feature_names", []),
            "target": prep["target"],
            "embeddings": prep.get("embeddings", []),
        }
    if kind == "image":
        channels, height, width = info.input_shape
        spec = {
            "kind": "image",
            "how": "pixels / 255, then (x - mean[c]) / std[c] per channel; layout (batch, channels, height, width)",
            "channels": channels,
            "height": height,
            "width": width,
            "mean": prep["mean"],
            "std": prep["std"],
            "normalize": prep["normalize"],
        }
        fitted = {k: prep[k] for k in ("resize", "crop", "interpolation") if prep.get(k)}
        if fitted or (prep.get("channels") and prep["channels"] != channels):
            model_c, model_h, model_w = model_input_shape(info.input_shape, prep)
            spec.update(
                how="pixels / 255; grey repeated to 3 channels; resized (resize: [h, w], or [n] for the shorter "
                "side, antialiased) and cropped at the centre to crop, as torchvision's weights' transforms; then "
                "(x - mean[c]) / std[c] per channel; layout (batch, channels, height, width)",
                model_input=[model_c, model_h, model_w],
                **fitted,
            )
        return spec
    if kind == "text":
        spec = {
            "kind": "text",
            "encoding": prep["encoding"],
            "vocabulary_file": VOCABULARY_FILE,
            "tokenization": "lowercase, then the words matched by token_pattern (scikit-learn CountVectorizer)",
            "token_pattern": prep["token_pattern"],
            "tokenized": prep.get("tokenized", False),
            "num_words": len(prep["words"]),
        }
        if prep["encoding"] == "sequence":
            spec.update(
                how="word on line i of the vocabulary file -> id i + 2; other words -> 1 (out of vocabulary); "
                "keep the first (or last) max_len words; pad with 0 at the end",
                pad_id=0,
                oov_id=1,
                first_word_id=2,
                vocab_size=prep["vocab_size"],
                max_len=prep["max_len"],
                keep=prep["keep"],
                padding="end",
            )
        else:
            spec.update(how="one column per word of the vocabulary file, in order: 1.0 when the text has it")
        return spec
    if kind == "series":
        return {
            "kind": "series",
            "how": "each column z-scored: (value - mean[i]) / scale[i]; a window is `window` consecutive steps "
            "of all columns, value column first; the output is in the value column's units",
            "columns": prep["columns"],
            "mean": prep["mean"],
            "scale": prep["scale"],
            "window": prep["window"],
            "horizon": prep["horizon"],
        }
    spec = {"kind": "features", "how": "the features in the data set's order"}
    if "mean" in prep:
        spec.update(how="(x - mean) / scale per feature", mean=prep["mean"], scale=prep["scale"])
    return spec


def build_signature(loaded, fmt: str, model_file: str, inputs, outputs, extra: dict) -> dict[str, Any]:
    """The whole signature.json of a LoadedRun's export."""
    from dlrun import __version__

    config = loaded.config
    info = loaded.info
    return {
        "signature_version": SIGNATURE_VERSION,
        "dlrun_version": __version__,
        "format": fmt,
        "model_file": model_file,
        "run": {
            "checkpoint": str(loaded.checkpoint),
            "epoch": loaded.epoch,
            "name": str(config.get("name", "")),
            "task": loaded.task_name,
            "model": str(config.model.name),
            "dataset": str(config.dataset.name),
        },
        "inputs": inputs,
        "outputs": outputs,
        "class_names": list(info.class_names),
        **extra,
        "info": asdict(info),
    }


def describe(signature: dict) -> str:
    """One line: the inputs (dynamic axes by name) and the output's meaning."""

    def shape(spec: dict) -> str:
        dims = [str(d) if d is not None else spec["dynamic_axes"].get(str(k), "?") for k, d in enumerate(spec["shape"])]
        return f"{spec['name']} ({', '.join(dims)}) {spec['dtype']}"

    out = signature["outputs"][0]
    return f"inputs: {'; '.join(shape(i) for i in signature['inputs'])}; output: {out['name']}: {out['meaning']}"
