"""An export folder (`dlrun export`): the model file, `signature.json` and, for text, `vocabulary.txt`.

    ExportDir(path)                 .signature .vocabulary .model(fmt) .is_export()
                                    .read_signature() -> dict | None   .read_vocabulary() -> list[str]
                                    .write_signature(sig) .write_vocabulary(words) .write_model(fmt, save)

`save(file)` writes the model's bytes to an open binary file (torch.onnx.export and torch.jit.save both
take one); every file appears complete or not at all (`atomic_open`). Light: no torch import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.rundir.atomic import atomic_open, write_json, write_text
from dlrun.rundir.layout import EXPORT_MODEL_FILES, SIGNATURE_FILE, VOCABULARY_FILE


@dataclass(frozen=True)
class ExportDir:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def signature(self) -> Path:
        return self.path / SIGNATURE_FILE

    @property
    def vocabulary(self) -> Path:
        return self.path / VOCABULARY_FILE

    def model(self, fmt: str) -> Path:
        return self.path / EXPORT_MODEL_FILES[fmt]

    def is_export(self) -> bool:
        return self.signature.is_file()

    def read_signature(self) -> dict | None:
        return json.loads(self.signature.read_text(encoding="utf-8")) if self.signature.is_file() else None

    def read_vocabulary(self) -> list[str]:
        """The words, one a line: line i is token id i + 2 (0 is padding, 1 out of vocabulary)."""
        return self.vocabulary.read_text(encoding="utf-8").splitlines() if self.vocabulary.is_file() else []

    def write_signature(self, signature: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.signature, signature)

    def write_vocabulary(self, words: list[str]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(self.vocabulary, "".join(f"{w}\n" for w in words))

    def write_model(self, fmt: str, save: Callable[[Any], None]) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.model(fmt), "wb") as f:
            save(f)
        return self.model(fmt)
