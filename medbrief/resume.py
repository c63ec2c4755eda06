"""Resuming an interrupted ``tag`` run: which records of an output are finished, and what
to cut so that the run can append after them.

An output is a header (CSV) and records, one after another: a JSON line, or an article's
CSV rows (each carrying the article's paragraph count, so a record cut short is seen as
such). A run that was killed, or stopped by a full disk, leaves finished records and at
most one unfinished one at the end. ``prepare_resume`` keeps every finished record byte for
byte and drops the unfinished tail; error records are dropped too, so that their sources
are tried again (that one case copies the finished records to a new file, which then
replaces the old one atomically).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

OutputFormat = Literal["jsonl", "csv"]


@dataclass(frozen=True)
class Span:
    """One record of an output: where its bytes lie, its source, and what kind it is."""

    start: int
    end: int
    source: str | None  # None: a record read from standard input, or a line of no record
    error: bool


def prepare_resume(output: Path, fmt: OutputFormat) -> set[str]:
    """Leave ``output`` holding only finished records (and its header), and give back their
    sources: the articles a resumed run skips."""
    if not output.exists():
        return set()
    with output.open("rb") as handle:
        header, spans = _scan(handle, fmt)
    if header is None:  # not even a whole header: start afresh
        output.write_bytes(b"")
        return set()
    if any(span.error for span in spans):
        _rewrite(output, header, [s for s in spans if not s.error])
    else:
        with output.open("r+b") as handle:
            handle.truncate(spans[-1].end if spans else header[1])
    return {span.source for span in spans if not span.error and span.source is not None}


def _rewrite(output: Path, header: tuple[int, int], keep: list[Span]) -> None:
    """Copy the header and the records kept to a new file, then put it in the old one's
    place (a crash leaves either file whole)."""
    temporary = output.with_name(f".{output.name}.resume")
    with output.open("rb") as source, temporary.open("wb") as target:
        for start, end in [header, *((s.start, s.end) for s in keep)]:
            source.seek(start)
            target.write(source.read(end - start))
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, output)


def _lines(handle: io.BufferedReader) -> Iterator[tuple[int, bytes]]:
    """Every whole line (ending in a newline) with its start offset; a last line with no
    newline is unfinished and not given."""
    offset = 0
    for line in handle:
        if not line.endswith(b"\n"):
            return
        yield offset, line
        offset += len(line)


def _scan(
    handle: io.BufferedReader, fmt: OutputFormat
) -> tuple[tuple[int, int] | None, list[Span]]:
    """The header's span (``(0, 0)`` for JSON Lines; None if it is not whole) and the
    finished records, in order."""
    if fmt == "jsonl":
        return (0, 0), list(_jsonl_records(handle))
    return _csv_records(handle)


def _jsonl_records(handle: io.BufferedReader) -> Iterator[Span]:
    """Every whole line as a span; a line that is no record is kept as it is, with no
    source (nothing in an output is ever thrown away but an unfinished tail)."""
    for start, line in _lines(handle):
        source, error = _record(line) or (None, False)
        yield Span(start, start + len(line), source, error)


_DECODER = json.JSONDecoder()
_ID, _SOURCE, _ERROR = '{"id":', ',"source":', ',"error":'


def _record(line: bytes) -> tuple[str | None, bool] | None:
    """The source of a JSON line and whether it is an error record; None if it is not a
    record. A record as medbrief writes it (``{"id":...,"source":...`` first, then
    ``"error"`` for an error record) has only those values decoded: a run of 50,000
    records resumes in a second; any other line is decoded whole."""
    text = line.decode("utf-8", "replace")
    if text.startswith(_ID):
        try:
            end = _DECODER.raw_decode(text, len(_ID))[1]
            if text.startswith(_SOURCE, end):
                source, end = _DECODER.raw_decode(text, end + len(_SOURCE))
                if source is None or isinstance(source, str):
                    return source, text.startswith(_ERROR, end)
        except json.JSONDecodeError:
            pass
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or "id" not in record:
        return None
    source = record.get("source")
    if source is not None and not isinstance(source, str):
        return None
    return source, "error" in record and "paragraphs" not in record


def _csv_records(handle: io.BufferedReader) -> tuple[tuple[int, int] | None, list[Span]]:
    lines = _lines(handle)
    first = next(lines, None)
    if first is None:
        return None, []
    fields = next(csv.reader([first[1].decode("utf-8", "replace")]))
    header = (0, len(first[1]))
    spans: list[Span] = []
    current: list[tuple[int, int, dict[str, str]]] = []  # the rows of the record being read
    for start, end, row in _csv_rows(lines, fields):
        if current and row.get("source") != current[0][2].get("source"):
            finished = _finished(current, fields)
            if not finished:
                return header, spans  # an unfinished record before the last: stop there
            spans.extend(finished)
            current = []
        current.append((start, end, row))
    if current:
        spans.extend(_finished(current, fields, last=True))
    return header, spans


def _csv_rows(
    lines: Iterator[tuple[int, bytes]], fields: list[str]
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """CSV rows with their byte spans (a quoted field may run over several lines)."""
    pending: list[bytes] = []
    start = 0
    for offset, line in lines:
        if not pending:
            start = offset
        pending.append(line)
        text = b"".join(pending).decode("utf-8", "replace")
        rows = list(csv.reader(io.StringIO(text)))
        if len(rows) == 1 and not text.count('"') % 2:  # quotes balanced: the row is whole
            yield start, offset + len(line), dict(zip(fields, rows[0], strict=False))
            pending = []


def _finished(
    rows: list[tuple[int, int, dict[str, str]]], fields: list[str], last: bool = False
) -> list[Span]:
    """The record these rows make, if it is finished: an error row, or as many rows as the
    article's paragraph count. Without a ``paragraphs`` column (an output written by an
    older medbrief), only the last record of the file is taken as possibly unfinished."""
    first = rows[0][2]
    source = first.get("source", "")
    span = Span(rows[0][0], rows[-1][1], source, False)
    if first.get("error"):
        return [Span(span.start, span.end, source, True)]
    if "paragraphs" not in fields:
        return [] if last else [span]
    expected = first.get("paragraphs", "")
    return [span] if expected.isdigit() and int(expected) == len(rows) else []
