"""Corrections from the web page, kept as labelled articles in the training format.

An article a user corrects is saved as ``NAME.labels.jsonl`` (``{"text", "label"}`` a line,
in reading order) in the corrections folder, NAME coming from its text, so correcting the
same article again replaces the earlier correction. A retrain from the service's data
learns from them; `medbrief train --data` reads the folder like any other.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from medbrief.training.data import LABEL_SUFFIX, load_labels

PREFIX = "correction-"


class StoreFull(Exception):
    """The corrections folder holds as many articles as it may."""


class CorrectionStore:
    """The corrections folder: save, list and export corrected articles."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder = folder
        self.limit = limit

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name[: -len(LABEL_SUFFIX)] for p in self.folder.glob("*" + LABEL_SUFFIX))

    def save(self, paragraphs: list[tuple[str, str]], source: str | None) -> str:
        """Write one corrected article (atomically); returns its name."""
        digest = hashlib.sha256("\x00".join(t for t, _ in paragraphs).encode()).hexdigest()
        name = f"{PREFIX}{digest[:16]}"
        if name not in self.names() and len(self.names()) >= self.limit:
            raise StoreFull(f"the corrections folder already holds {self.limit} articles")
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"text": text, "label": label, **({"url": source} if source else {})},
                       ensure_ascii=False) + "\n"
            for text, label in paragraphs
        )
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".saving-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(lines)
        os.replace(temporary, self.folder / f"{name}{LABEL_SUFFIX}")
        return name

    def articles(self) -> list[tuple[str, list[str], list[str]]]:
        """Every saved correction: (name, texts, labels)."""
        out = []
        for name in self.names():
            found = load_labels(self.folder / f"{name}{LABEL_SUFFIX}")
            out.append((name, found.texts, found.labels))
        return out

    def export(self, fmt: str) -> Any:
        """Every correction as JSON Lines text (the training format, one article a line)
        or as Label Studio tasks with the corrected labels as annotations."""
        if fmt == "jsonl":
            return "".join(
                json.dumps({"name": name, "paragraphs": [
                    {"text": t, "label": lab} for t, lab in zip(texts, labels, strict=True)
                ]}, ensure_ascii=False) + "\n"
                for name, texts, labels in self.articles()
            )
        return [
            {"data": {"text": t, "article": name, "paragraph": i},
             "annotations": [{"was_cancelled": False, "result": [{
                 "from_name": "label", "to_name": "text", "type": "choices",
                 "value": {"choices": [lab]}}]}]}
            for name, texts, labels in self.articles()
            for i, (t, lab) in enumerate(zip(texts, labels, strict=True))
        ]
