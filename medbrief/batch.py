"""Batch tagging: many articles in, one record per article out, streamed in order."""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path, PurePosixPath

from medbrief.engine import Analyzer, Article, Options
from medbrief.errors import InputError
from medbrief.model import TopicModel, load_model
from medbrief.record import AnalysisRecord, ErrorRecord
from medbrief.resume import OutputFormat
from medbrief.sources import read_source

CSV_FIELDS = (
    "id", "source", "paragraph", "label", "confidence", "in_summary", "text", "error",
    "paragraphs",
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): such a
# cell is written with a leading apostrophe, which spreadsheets show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 16


_analyzer: Analyzer | None = None


def _init_worker(model: TopicModel) -> None:
    global _analyzer
    _analyzer = Analyzer(model)


def analyze_paths(
    analyzer: Analyzer, paths: Sequence[str], options: Options
) -> list[AnalysisRecord | ErrorRecord]:
    """Records for a chunk of sources (paths or URLs), in order; a source that cannot be
    read gives an error record."""
    results: list[AnalysisRecord | ErrorRecord | None] = []
    articles: list[Article] = []
    for path in paths:
        try:
            articles.append(read_source(analyzer, path))
            results.append(None)
        except InputError as exc:
            name = PurePosixPath(path.rsplit("::", 1)[-1]).stem
            results.append(ErrorRecord(id=name, source=path, error=str(exc)))
    analysed = iter(analyzer.analyze_many(articles, options))
    return [r if r is not None else next(analysed) for r in results]


def _work(args: tuple[list[str], Options, OutputFormat]) -> list[Output]:
    assert _analyzer is not None, "worker not initialised"
    paths, options, fmt = args
    return [render(record, fmt) for record in analyze_paths(_analyzer, paths, options)]


def chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """Lists of ``size`` consecutive items (the last may be shorter), read as needed."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def tag_paths(
    paths: Iterable[str | Path], model_dir: Path, options: Options, fmt: OutputFormat,
    jobs: int | None = None,
) -> Iterator[Output]:
    """The output of every path or URL, in the order given, using ``jobs`` processes (each
    writes its own records out, so that only text travels back). The paths are read as
    the work goes, so they may stream from a folder walk of any size."""
    chunks = chunked(map(str, paths), CHUNK)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    work = chain([first], [second] if second is not None else [], chunks)
    jobs = jobs or os.cpu_count() or 1
    model = load_model(model_dir)
    if jobs == 1 or second is None:
        analyzer = Analyzer(model)
        for chunk in work:
            yield from (render(record, fmt) for record in analyze_paths(analyzer, chunk, options))
        return
    # Workers get the loaded model itself, so all of them run the version loaded here.
    context = mp.get_context("spawn" if os.name == "nt" else "forkserver")
    with context.Pool(jobs, initializer=_init_worker, initargs=(model,)) as pool:
        for outputs in pool.imap(_work, ((chunk, options, fmt) for chunk in work)):
            yield from outputs


@dataclass(frozen=True)
class Output:
    """One record as written out: its JSON line or CSV rows, and for an error record why
    the article could not be read."""

    text: str
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def render(record: AnalysisRecord | ErrorRecord, fmt: OutputFormat) -> Output:
    error = record.error if isinstance(record, ErrorRecord) else None
    return Output("".join(record_lines(record, fmt)), error)


def record_lines(record: AnalysisRecord | ErrorRecord, fmt: OutputFormat) -> list[str]:
    """The output lines of one record: one JSON line, or one CSV row per paragraph (each
    with the article's paragraph count, so that a record cut short is recognised)."""
    if fmt == "jsonl":
        return [record.model_dump_json() + "\n"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    if isinstance(record, ErrorRecord):
        writer.writerow({"id": _cell(record.id), "source": _cell(record.source),
                         "error": _cell(" ".join(record.error.split()))})
    else:
        chosen = {s.paragraph for s in record.summary}
        for p in record.paragraphs:
            writer.writerow(
                {
                    "id": _cell(record.id), "source": _cell(record.source),
                    "paragraph": p.index, "label": _cell(p.label), "confidence": p.confidence,
                    "in_summary": int(p.index in chosen), "text": _cell(p.text), "error": "",
                    "paragraphs": len(record.paragraphs),
                }
            )
    return [buffer.getvalue()]


def _cell(value: str | None) -> str | None:
    """A text cell that a spreadsheet will not run as a formula."""
    if value is not None and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_header() -> str:
    return ",".join(CSV_FIELDS) + "\n"
