"""Labelled articles to and from annotation tools: Label Studio, Prodigy and doccano.

Each tool labels one text at a time; here a text is one paragraph, and its article and
place in the article travel with it (``article`` and ``paragraph`` in the task's data,
its ``meta``, or its own fields), so that paragraphs are put back together in reading
order. A text without them is an article of one paragraph.

- **Label Studio**: a JSON export (a list of tasks). A task's label is the first choice of
  its newest annotation that was not cancelled; a task with none is not labelled yet, and
  its article is left out of training (with a warning).
- **Prodigy**: a JSONL export. Only accepted answers count (``"answer": "accept"``); the
  label is the first of ``accept`` (choice interface) or ``label`` (text classification).
- **doccano**: a JSONL export of text classification, the label the first of ``label``
  (or ``labels``, in older versions).

``labelstudio_tasks`` turns analysis records into Label Studio tasks with the model's
labels as pre-annotations (with scores), least confident first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medbrief.errors import LabelFileError
from medbrief.record import AnalysisRecord

log = logging.getLogger(__name__)
# What a Label Studio project for medbrief's tasks is configured with.
LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single" showInline="true">
{choices}
  </Choices>
</View>"""


@dataclass(frozen=True)
class Item:
    """One labelled text of an export: its article, place, text and label."""

    article: str
    paragraph: int
    text: str
    label: str | None  # None: not labelled (yet)
    line: int | None


def is_export(path: Path) -> bool:
    """Whether a file in a data folder is an annotation tool's export."""
    name = path.name
    if name.endswith((".labels.jsonl", ".reference.json")):
        return False
    return path.suffix in (".json", ".jsonl")


def read_export(path: Path, text: str) -> list[tuple[str, list[str], list[str]]]:
    """The articles of an export (name, paragraph texts, labels), in order of first
    appearance; raises LabelFileError naming the file (and line) for anything malformed."""
    items = list(_label_studio(path, text) if path.suffix == ".json" else _lines(path, text))
    articles: dict[str, list[Item]] = {}
    for item in items:
        articles.setdefault(item.article, []).append(item)
    out = []
    for name, found in articles.items():
        found.sort(key=lambda i: i.paragraph)
        places = [i.paragraph for i in found]
        if len(set(places)) != len(places):
            raise LabelFileError(path, found[0].line, f"article {name!r} has two paragraphs "
                                 "at the same place")
        if any(i.label is None for i in found):
            log.warning("%s: article %r is not fully labelled yet; left out", path, name)
            continue
        out.append((name, [i.text for i in found], [str(i.label) for i in found]))
    return out


def _place(record: dict[str, Any], number: int) -> tuple[str, int]:
    """A text's article and place: from the record, its ``data`` or its ``meta``."""
    for where in (record.get("data"), record.get("meta"), record):
        if isinstance(where, dict) and isinstance(where.get("article"), str):
            paragraph = where.get("paragraph", 0)
            return where["article"], paragraph if isinstance(paragraph, int) else 0
    return f"text{number}", 0


def _text(path: Path, record: Any, line: int | None) -> str:
    holder = record.get("data", record) if isinstance(record, dict) else None
    text = holder.get("text") if isinstance(holder, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise LabelFileError(path, line, "expected a non-empty \"text\"")
    return text


def _label_studio(path: Path, text: str) -> Iterator[Item]:
    try:
        tasks = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise LabelFileError(path, None, f"not a Label Studio JSON export ({exc})") from exc
    if not isinstance(tasks, list):
        raise LabelFileError(path, None, "expected a Label Studio export: a list of tasks")
    for number, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise LabelFileError(path, None, f"task {number}: expected an object with \"data\"")
        article, paragraph = _place(task, number)
        yield Item(article, paragraph, _text(path, task, None), _annotated(task), None)


def _annotated(task: dict[str, Any]) -> str | None:
    """The first choice of the task's newest annotation not cancelled, if any."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    for annotation in reversed(annotations):
        if annotation.get("was_cancelled"):
            continue
        for region in annotation.get("result") or []:
            value = region.get("value") if isinstance(region, dict) else None
            choices = value.get("choices") if isinstance(value, dict) else None
            if isinstance(choices, list) and choices and isinstance(choices[0], str):
                return choices[0]
    return None


def _lines(path: Path, text: str) -> Iterator[Item]:
    """Prodigy or doccano JSONL: one record a line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise LabelFileError(path, number, "not valid JSON") from exc
        if not isinstance(record, dict):
            raise LabelFileError(path, number, "expected a JSON object")
        label = _prodigy(record) if "answer" in record else _doccano(record)
        if "answer" in record and label is None:
            continue  # rejected or ignored: no label to learn from
        article, paragraph = _place(record, number)
        if label is None:
            raise LabelFileError(path, number, "no label (\"label\", \"labels\" or \"accept\")")
        yield Item(article, paragraph, _text(path, record, number), label, number)


def _prodigy(record: dict[str, Any]) -> str | None:
    if record.get("answer") != "accept":
        return None
    accepted = record.get("accept")
    if isinstance(accepted, list) and accepted and isinstance(accepted[0], str):
        return accepted[0]
    label = record.get("label")
    return label if isinstance(label, str) else None


def _doccano(record: dict[str, Any]) -> str | None:
    labels = record.get("label", record.get("labels"))
    if isinstance(labels, str):
        return labels
    if isinstance(labels, list) and labels and isinstance(labels[0], str):
        return labels[0]
    return None


def labelstudio_tasks(records: Iterable[AnalysisRecord]) -> list[dict[str, Any]]:
    """Label Studio tasks, one per paragraph, with the model's label as a pre-annotation
    (its confidence as the score), least confident first."""
    tasks = []
    for record in records:
        for p in record.paragraphs:
            tasks.append({
                "data": {"text": p.text, "article": record.id, "paragraph": p.index,
                         "source": record.source},
                "predictions": [{
                    "model_version": record.model.version, "score": p.confidence,
                    "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                "value": {"choices": [p.label]}}],
                }],
            })
    return sorted(tasks, key=lambda t: t["predictions"][0]["score"])


def label_config(labels: Iterable[str]) -> str:
    """The Label Studio labelling config for tasks of these labels."""
    return LABEL_CONFIG.format(
        choices="\n".join(f'    <Choice value="{label}"/>' for label in labels)
    )
