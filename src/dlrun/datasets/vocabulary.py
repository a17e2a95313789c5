"""Words -> numbers: tokenization, a vocabulary of the top-N training words, and the two encodings.

- Tokenization is scikit-learn's CountVectorizer analyzer: lowercase, then the words matched by
  `token_pattern` (default: runs of letters, digits and underscores, single characters included).
- The vocabulary is the `num_words` most frequent words of the training texts only (each fold's
  training part under K-fold), most frequent first. Id 0 is padding, id 1 is "out of vocabulary"
  (a word never seen in training, or one outside the top N), the words are ids 2, 3, ...
- `multi_hot`: one column per vocabulary word, 1.0 where the text has it (the books' bag of words).
- `sequence`: the ids of the text's words in order, padded with 0 at the end (or truncated) to
  `max_len`. Padding only ever comes after the last word, so a text's length is its count of
  non-zero ids: that is how the recurrent models pack a batch (`models/recurrent.py`).

The fitted state (the word list and the settings) is plain data saved in every checkpoint.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from dlrun.datasets.base import Preprocessor
from dlrun.errors import ConfigError, DataError

TOKEN_PATTERN = r"(?u)\b\w+\b"
PAD, OOV = 0, 1  # reserved ids; words start at 2
ENCODINGS = ("multi_hot", "sequence")
KEEP = ("first", "last")


def check_text_encoding(encoding: str, num_words: int, max_len: int, keep: str, token_pattern: str) -> None:
    if encoding not in ENCODINGS:
        raise ConfigError(f"dataset.encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if num_words < 1:
        raise ConfigError(f"dataset.num_words must be >= 1, got {num_words}")
    if max_len < 1:
        raise ConfigError(f"dataset.max_len must be >= 1, got {max_len}")
    if keep not in KEEP:
        raise ConfigError(f"dataset.keep must be one of {', '.join(KEEP)}, got {keep!r}")
    try:
        re.compile(token_pattern)
    except re.error as exc:
        raise ConfigError(f"dataset.token_pattern is not a regular expression: {exc}") from None


def _vectorizer(token_pattern: str, tokenized: bool, **kwargs):
    from sklearn.feature_extraction.text import CountVectorizer

    if tokenized:  # the rows are lists of words already (tagged sentences): lowercase them only
        return CountVectorizer(analyzer=lambda words: [w.lower() for w in words], **kwargs)
    return CountVectorizer(lowercase=True, token_pattern=token_pattern, **kwargs)


def tokenize(texts, token_pattern: str = TOKEN_PATTERN, tokenized: bool = False) -> list[list[str]]:
    """Each text as its list of lowercase words."""
    analyze = _vectorizer(token_pattern, tokenized).build_analyzer()
    return [analyze(text) for text in texts]


def fit_vocabulary(texts, num_words: int, token_pattern: str = TOKEN_PATTERN, tokenized: bool = False) -> list[str]:
    """The `num_words` most frequent words of `texts`, most frequent first (ties alphabetically)."""
    vectorizer = _vectorizer(token_pattern, tokenized, max_features=num_words)
    try:
        counts = np.asarray(vectorizer.fit_transform(texts).sum(axis=0)).ravel()
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise DataError(
            f"no words found in the training texts ({str(exc).split(';')[0]}); check dataset.token_pattern"
        ) from None
    words = vectorizer.get_feature_names_out()
    return [str(w) for w in words[np.lexsort((words, -counts))]]


class TextPreprocessor(Preprocessor):
    """Fitted on the training texts: their vocabulary; transforms texts to multi-hot rows or padded ids."""

    def __init__(
        self,
        encoding: str = "sequence",
        num_words: int = 10000,
        max_len: int = 200,
        keep: str = "first",
        token_pattern: str = TOKEN_PATTERN,
        tokenized: bool = False,
    ):
        super().__init__()
        check_text_encoding(encoding, num_words, max_len, keep, token_pattern)
        self.encoding, self.num_words, self.max_len, self.keep = encoding, num_words, max_len, keep
        self.token_pattern, self.tokenized = token_pattern, tokenized

    def fit(self, x, y: np.ndarray) -> dict[str, Any]:
        words = fit_vocabulary(list(x), self.num_words, self.token_pattern, self.tokenized)
        state: dict[str, Any] = {
            "encoding": self.encoding,
            "words": words,
            "token_pattern": self.token_pattern,
            "tokenized": self.tokenized,
        }
        if self.encoding == "sequence":
            state.update(max_len=self.max_len, keep=self.keep, vocab_size=len(words) + 2)
        return state

    def transform(self, x, state: dict[str, Any]) -> np.ndarray:
        if state["encoding"] == "multi_hot":
            vectorizer = _vectorizer(state["token_pattern"], state["tokenized"], vocabulary=state["words"], binary=True)
            return vectorizer.transform(list(x)).toarray().astype(np.float32)
        return encode_ids(
            tokenize(x, state["token_pattern"], state["tokenized"]), state["words"], state["max_len"], state["keep"]
        )


def encode_ids(texts: list[list[str]], words: list[str], max_len: int, keep: str = "first") -> np.ndarray:
    """(texts, max_len) int64 ids: word i of the vocabulary is i + 2, other words OOV (1), padding 0 at the end."""
    index = {word: i + 2 for i, word in enumerate(words)}
    ids = np.full((len(texts), max_len), PAD, dtype=np.int64)
    for row, text in enumerate(texts):
        kept = text[:max_len] if keep == "first" else text[-max_len:]
        ids[row, : len(kept)] = [index.get(word, OOV) for word in kept]
    return ids
