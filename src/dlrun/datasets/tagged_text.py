"""`tagged_text`: sentences written `word/TAG word/TAG ...`, one tag per word (part-of-speech tagging).

The books' toy example is the default: two tagged sentences to train on, tags DET, NN and V, and the
first sentence again as the test sentence. Words go through the same vocabulary as any text (fitted
on the training sentences; id 0 pads, id 1 is an unseen word); targets are one tag id per step,
padded with IGNORE_LABEL, so the loss and the metrics only count real words.
"""

from __future__ import annotations

import numpy as np

from dlrun.datasets.base import IGNORE_LABEL, RawData
from dlrun.datasets.vocabulary import TextPreprocessor
from dlrun.errors import ConfigError

BOOK_SENTENCES = ("The/DET dog/NN ate/V the/DET apple/NN", "Everybody/NN read/V that/DET book/NN")


def tagged_text(sentences, test_sentences, tags) -> RawData:
    """Sentences of word/TAG pairs for sequence tagging (default: the books' two part-of-speech sentences)."""
    train = [_parse(s, "dataset.sentences") for s in sentences]
    test = [_parse(s, "dataset.test_sentences") for s in test_sentences]
    if not train:
        raise ConfigError("dataset.sentences must hold at least one tagged sentence")
    found = sorted({tag for sentence in train + test for _, tag in sentence})
    tags = list(tags) if tags else found
    unknown = [t for t in found if t not in tags]
    if unknown:
        raise ConfigError(f"tag '{unknown[0]}' is not in dataset.tags ({', '.join(tags)})")
    steps = max(len(s) for s in train + test)
    x, y = _rows(train, tags, steps)
    x_test, y_test = _rows(test, tags, steps) if test else (None, None)
    return RawData(
        x,
        y,
        "classification",
        x_test=x_test,
        y_test=y_test,
        class_names=tags,
        preprocessor=TextPreprocessor("sequence", num_words=1_000_000, max_len=steps, tokenized=True),
    )


def _parse(sentence: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for token in str(sentence).split():
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise ConfigError(f"{where}: '{token}' is not written word/TAG (in: {sentence!r})")
        pairs.append((word, tag))
    if not pairs:
        raise ConfigError(f"{where}: an empty sentence")
    return pairs


def _rows(sentences: list[list[tuple[str, str]]], tags: list[str], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Word lists (one object per sentence) and (sentences, steps) tag ids padded with IGNORE_LABEL."""
    words = np.empty(len(sentences), dtype=object)
    words[:] = [[w for w, _ in s] for s in sentences]
    labels = np.full((len(sentences), steps), IGNORE_LABEL, dtype=np.int64)
    for row, sentence in enumerate(sentences):
        labels[row, : len(sentence)] = [tags.index(t) for _, t in sentence]
    return words, labels
