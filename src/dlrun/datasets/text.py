"""Labelled texts: `text_csv` (a delimited file, one text and one label per row) and `text_folder`
(one sub-folder per class, one file per document: the aclImdb layout). Both encode the texts with a
vocabulary fitted on the training split only (`datasets/vocabulary.py`).
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path

import numpy as np

from dlrun.datasets.base import RawData
from dlrun.datasets.columns import sort_levels
from dlrun.datasets.csv_table import TableFormat, parse_separator, read_table, require_columns, require_file
from dlrun.datasets.vocabulary import TextPreprocessor, check_text_encoding
from dlrun.errors import ConfigError, DataError, did_you_mean

log = logging.getLogger("dlrun")

ACL_IMDB = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


def _labelled(labels, classes: list[str] | None = None):
    """Label strings -> class codes over the sorted labels (ham, spam: spam is class 1)."""
    classes = classes or sort_levels(labels)
    codes = {name: i for i, name in enumerate(classes)}
    return np.asarray([codes[v] for v in labels], dtype=np.int64), classes


# ---------------------------------------------------------------------------- text_csv
def text_csv(
    path, text, label, sep, header, names, quotes, encoding, num_words, max_len, keep, token_pattern
) -> RawData:
    """Texts and their labels in a delimited file (the SMS spam layout: label<TAB>text, no header)."""
    fmt = _text_csv_format(
        path, text, label, sep, header, names, quotes, encoding, num_words, max_len, keep, token_pattern
    )
    frame = read_table(path, fmt)
    _check_columns(path, frame.columns, text, label)
    keep_rows = frame[label].notna().to_numpy()
    if not keep_rows.all():
        log.info("%s: dropped %d of %d rows without a label", path, int((~keep_rows).sum()), len(frame))
    frame = frame[keep_rows]
    if len(frame) == 0:
        raise DataError(f"{path}: no labelled rows")
    texts = frame[text].fillna("").astype(str).to_numpy(dtype=object)
    y, classes = _labelled([str(v).strip() for v in frame[label]])
    if len(classes) < 2:
        raise DataError(
            f"{path}: column '{label}' holds one label only ({classes[0]}); classification needs two or more"
        )
    return RawData(
        texts,
        y,
        "classification",
        class_names=classes,
        preprocessor=TextPreprocessor(encoding, num_words, max_len, keep, token_pattern),
    )


def _text_csv_format(
    path, text, label, sep, header, names, quotes, encoding, num_words, max_len, keep, token_pattern
) -> TableFormat:
    """The config checks of `text_csv`, and how its file is written."""
    if not path:
        raise ConfigError("dataset.path must be set: the file of texts (dataset=text_csv dataset.path=FILE)")
    if not header and not names:
        raise ConfigError("dataset.header is false, so dataset.names must list the column names in file order")
    if text == label:
        raise ConfigError(f"dataset.text and dataset.label both name column '{text}'")
    check_text_encoding(encoding, num_words, max_len, keep, token_pattern)
    fmt = TableFormat(parse_separator(sep), header, list(names) if names and not header else None, [], None, quotes)
    require_file(path)
    return fmt


def check_text_csv(**kwargs) -> None:
    """The checks of `dlrun train`, before a run directory exists (reads only the first rows)."""
    args = _with_defaults(text_csv, kwargs)
    fmt = _text_csv_format(**args)
    _check_columns(args["path"], read_table(args["path"], fmt, nrows=5).columns, args["text"], args["label"])


def _check_columns(path, columns, text: str, label: str) -> None:
    require_columns(path, columns, [("text", text), ("label", label)])


# ---------------------------------------------------------------------------- text_folder
def text_folder(path, train, test, classes, encoding, num_words, max_len, keep, token_pattern) -> RawData:
    """Documents in one sub-folder per class, one file each (the aclImdb layout: train/pos/*.txt ...)."""
    check_text_encoding(encoding, num_words, max_len, keep, token_pattern)
    texts, labels, names = _read_folder(path, train, classes)
    y, names = _labelled(labels, names)
    x_test = y_test = None
    if test is not None:
        test_texts, test_labels, _ = _read_folder(path, test, names)
        x_test, y_test = test_texts, _labelled(test_labels, names)[0]
    return RawData(
        texts,
        y,
        "classification",
        x_test=x_test,
        y_test=y_test,
        class_names=names,
        preprocessor=TextPreprocessor(encoding, num_words, max_len, keep, token_pattern),
    )


def _read_folder(path: str, split: str, classes: list[str] | None):
    """(texts, label names, class names) of `path/split/<class>/<file>`; scikit-learn's load_files reads them."""
    from sklearn.datasets import load_files

    folder = _folder(path, split)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir())
    for name in classes or []:
        if name not in found:
            raise DataError(
                f"dataset.classes: {folder} has no sub-folder '{name}'.{did_you_mean(name, found)} "
                f"Sub-folders: {', '.join(found) or 'none'}"
            )
    bunch = load_files(
        str(folder),
        categories=list(classes) if classes else None,
        load_content=True,
        encoding="utf-8",
        decode_error="replace",
        shuffle=False,
    )
    names = [str(n) for n in bunch.target_names]
    if len(names) < 2:
        raise DataError(
            f"{folder} has {len(names)} class folder(s) ({', '.join(names) or 'none'}); "
            "classification needs two or more"
        )
    if len(bunch.data) == 0:
        raise DataError(f"{folder}: the class folders hold no files")
    return np.asarray(bunch.data, dtype=object), [names[t] for t in bunch.target], names


def _folder(path: str, split: str) -> Path:
    folder = Path(path) / split
    if not folder.is_dir():
        raise DataError(
            f"text folder not found: {folder} (a relative path starts from {os.getcwd()}). Put the "
            f"documents there as {folder}/<class>/<one file per document>, the layout of the extracted "
            f"aclImdb archive ({ACL_IMDB}), or set dataset.path"
        )
    return folder


def check_text_folder(**kwargs) -> None:
    args = _with_defaults(text_folder, kwargs)
    check_text_encoding(args["encoding"], args["num_words"], args["max_len"], args["keep"], args["token_pattern"])
    for split in (args["train"], args["test"]):
        if split is not None:
            _folder(args["path"], split)


def _with_defaults(factory, kwargs: dict) -> dict:
    bound = inspect.signature(factory).bind(**kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)
