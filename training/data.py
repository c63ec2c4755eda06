"""Labelled articles: loading, validating, and the digest of a training set."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medbrief import bounded
from medbrief.errors import InputError, LabelFileError
from medbrief.ingest import SUFFIX_FORMATS, read_file
from medbrief.training.annotations import is_export, read_export
from medbrief.training.outlets import outlet

LABEL_SUFFIX = ".labels.jsonl"
REFERENCE_SUFFIX = ".reference.json"
# Subfolders of a data folder whose articles are only ever scored, never trained on.
HELDOUT_PREFIX = "heldout"
MAX_LABEL_BYTES = 20_000_000  # one label or reference file


@dataclass(frozen=True)
class LabelledArticle:
    """One article's paragraphs and their labels, in reading order, and where it came from
    (``url``: the page a real article was taken from; None for articles written here)."""

    name: str
    labels_path: Path
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    raw_path: Path | None
    url: str | None = None

    @property
    def group(self) -> str:
        """What cross-validation keeps together: the outlet of a real article, the article
        itself for one written here."""
        return f"outlet:{outlet(self.url)}" if self.url else f"article:{self.name}"


@dataclass(frozen=True)
class Labels:
    """What a label file holds: paragraph texts, their labels, and the article's URL."""

    texts: list[str]
    labels: list[str]
    url: str | None


def load_labels(path: Path) -> Labels:
    """Parse one JSON Lines label file; a bad line raises LabelFileError naming it. A line
    may carry the article's ``url``; every line that does must give the same one."""
    texts: list[str] = []
    labels: list[str] = []
    url: str | None = None
    lines = _read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelFileError(path, number, f"not valid JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise LabelFileError(path, number, "JSON nested too deeply") from exc
        if not isinstance(record, dict):
            raise LabelFileError(path, number, "expected a JSON object with text and label")
        for key in ("text", "label"):
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                raise LabelFileError(path, number, f"field {key!r} must be a non-empty string")
        found = record.get("url")
        if found is not None:
            if not isinstance(found, str) or (url is not None and found != url):
                raise LabelFileError(path, number, "field 'url' must be the article's one URL")
            url = found
        texts.append(record["text"])
        labels.append(record["label"].strip())
    if not texts:
        raise LabelFileError(path, None, "no labelled paragraphs")
    return Labels(texts, labels, url)


def _read_text(path: Path) -> str:
    """A labelled-data file as text: a regular file of at most MAX_LABEL_BYTES, UTF-8."""
    try:
        return bounded.read_file(path, MAX_LABEL_BYTES, "labelled-data file").decode("utf-8")
    except (OSError, UnicodeDecodeError, bounded.TooLarge) as exc:
        raise LabelFileError(path, None, f"cannot read ({exc})") from exc


def raw_article_for(labels_path: Path) -> Path | None:
    """The raw article beside a label file (same name, a readable suffix), if any."""
    stem = labels_path.name[: -len(LABEL_SUFFIX)]
    for suffix in SUFFIX_FORMATS:
        candidate = labels_path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def check_alignment(labels_path: Path, texts: list[str], raw: Path) -> None:
    """Raise LabelFileError unless reading ``raw`` gives exactly the labelled paragraphs."""
    try:
        read = [p.text for p in read_file(raw).paragraphs]
    except InputError as exc:
        raise LabelFileError(raw, None, str(exc)) from exc
    for number, (expected, got) in enumerate(zip(texts, read, strict=False), start=1):
        if expected.split() != got.split():
            raise LabelFileError(
                labels_path, number, f"text differs from paragraph {number} of {raw.name}: "
                f"labelled {expected[:60]!r}, read {got[:60]!r}"
            )
    if len(texts) != len(read):
        raise LabelFileError(
            labels_path, None,
            f"{len(texts)} labelled paragraphs but {raw.name} reads as {len(read)}",
        )


def label_files(directory: Path, nested: bool) -> list[Path]:
    """The labelled-data files of a folder (``*.labels.jsonl``, and annotation tools'
    exports), sorted by path; with ``nested``, those of its subfolders too, except held-out
    ones (named ``heldout...``)."""
    found = sorted(  # a label file that is no regular file is kept: reading it says why
        p for p in directory.iterdir()
        if (p.name.endswith(LABEL_SUFFIX) and not p.is_dir()) or (p.is_file() and is_export(p))
    )
    if nested:
        for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
            if not sub.name.startswith(HELDOUT_PREFIX):
                found += label_files(sub, nested)
    return found


def load_dir(
    directory: Path, check_raw: bool = True, nested: bool = False
) -> list[LabelledArticle]:
    """Every labelled article in ``directory`` (and with ``nested``, in its subfolders but
    the held-out ones): our own label files, and the articles of Label Studio, Prodigy and
    doccano exports (``training.annotations``); validated, names unique."""
    if not directory.is_dir():
        raise LabelFileError(directory, None, "not a folder")
    articles = []
    seen: dict[str, Path] = {}
    for path in label_files(directory, nested):
        for article in _articles_of(path, check_raw):
            if article.name in seen:
                raise LabelFileError(
                    path, None, f"another article is named {article.name!r}: {seen[article.name]}"
                )
            seen[article.name] = path
            articles.append(article)
    if not articles:
        raise LabelFileError(
            directory, None, f"no *{LABEL_SUFFIX} files or annotation exports with labels"
        )
    return articles


def _articles_of(path: Path, check_raw: bool) -> list[LabelledArticle]:
    if not path.name.endswith(LABEL_SUFFIX):
        return [
            LabelledArticle(name, path, tuple(texts), tuple(labels), None)
            for name, texts, labels in read_export(path, _read_text(path))
        ]
    found = load_labels(path)
    raw = raw_article_for(path)
    if raw is not None and check_raw:
        check_alignment(path, found.texts, raw)
    name = path.name[: -len(LABEL_SUFFIX)]
    return [LabelledArticle(name, path, tuple(found.texts), tuple(found.labels), raw, found.url)]


def heldout_dirs(directory: Path) -> list[Path]:
    """The held-out subfolders of a data folder (``heldout``, ``heldout-real``, ...)."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir() if p.is_dir() and p.name.startswith(HELDOUT_PREFIX)
    )


def label_set(articles: Iterable[LabelledArticle]) -> list[str]:
    """The labels found in the data, sorted."""
    return sorted({label for article in articles for label in article.labels})


def label_counts(articles: Iterable[LabelledArticle]) -> dict[str, int]:
    counts = Counter(label for article in articles for label in article.labels)
    return dict(sorted(counts.items()))


def digest(articles: Iterable[LabelledArticle]) -> str:
    """A sha256 over every article name, text and label, in order."""
    h = hashlib.sha256()
    for article in articles:
        h.update(article.name.encode())
        for text, label in zip(article.texts, article.labels, strict=True):
            h.update(b"\x00" + text.encode() + b"\x01" + label.encode())
    return h.hexdigest()


def load_references(path: Path) -> list[str]:
    """The reference summary sentences of an article."""
    try:
        data = json.loads(_read_text(path))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise LabelFileError(path, None, f"cannot read reference summary ({exc})") from exc
    sentences = data.get("sentences") if isinstance(data, dict) else None
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise LabelFileError(path, None, "expected {\"sentences\": [\"...\", ...]}")
    return sentences
