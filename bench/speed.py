"""Analysis time per article: medbrief (classification + summary) against sumy's TextRank
and LexRank summarising the same articles in 3 sentences, measured in the same run.

    .venv/bin/python bench/speed.py [--generated 300] [--repeat 3] [--profile]

Every article is read once up front through ``medbrief.ingest`` (not timed), so medbrief
and the peers see the same text: medbrief's batch gets the read documents, the peers and
medbrief's single ``analyze(text)`` calls get the page text (every paragraph, blank-line
separated; for ``analyze`` that includes reading the plain text again). A second batch row
reads the same page texts before analysing them, so that medbrief's reading is timed as
the peers' parsing is; its ratio is printed beside the target's. Start-up (imports,
model load, tokenizer construction) is excluded and a warm-up pass runs first; any memo
cache in medbrief is cleared before every timed call, so repeated rounds measure first
sight of an article, as on a news firehose. medbrief's
sentence splitting is part of its time; sumy's parsing and tokenising (Punkt + Treebank
words) is part of the peers'. medbrief's batches (64 articles, a `tag` worker's chunk) and
the single calls of all systems are interleaved, so load from other processes and a
machine whose speed drifts fall on all of them alike; both CPU time (of this
process) and wall time are reported, and the targets are judged on CPU time, which other
processes on a shared machine do not inflate.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import inspect
import io
import pstats
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import (
    HELDOUT,
    MODELS,
    OUT,
    SEEDS,
    PunktTokenizer,
    article_files,
    generate_folder,
    page_text,
    read_articles,
    sumy_peers,
    table,
)

from medbrief.engine import Analyzer, Article
from medbrief.model import load_model

TARGET_SINGLE_MS = 5.0
TARGET_RATIO = 5.0
BATCH = "medbrief, batch (analyze_many)"
READ_BATCH = "medbrief, batch from page text (read + analyze_many)"
# Articles per batch: a `tag` worker's chunk. Batches alternate with the single calls and
# the peers on the same articles, so a machine that speeds up or slows down during the run
# weighs on every system alike.
BATCH_SIZE = 64
ALONE = "medbrief, alone (analyze(text))"
PREREAD = "medbrief, alone, pre-read (analyze_many([a]))"


@dataclass
class Samples:
    """Per-article seconds of one system: CPU and wall, one entry per timed call."""

    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    def add(self, cpu: float, wall: float) -> None:
        self.cpu.append(cpu)
        self.wall.append(wall)


def memo_caches() -> list[Callable[[], None]]:
    """``cache_clear`` of every functools cache in medbrief's modules and their classes."""
    found: dict[int, Callable[[], None]] = {}
    for name, module in list(sys.modules.items()):
        if name != "medbrief" and not name.startswith("medbrief."):
            continue
        owners = [module, *(v for v in vars(module).values() if isinstance(v, type))]
        for owner in owners:
            for value in list(vars(owner).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear):
                    found[id(value)] = clear
    return list(found.values())


def timed(fn: Callable[..., object], *args: Any) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call ``fn(*args)``, every memo cache cleared first:
    each timed call sees its articles for the first time, as on a news firehose."""
    for clear in memo_caches():
        clear()
    c, w = time.process_time(), time.perf_counter()
    fn(*args)
    return time.process_time() - c, time.perf_counter() - w


def measure(
    analyzer: Analyzer,
    articles: Sequence[Article],
    peers: dict[str, Callable[[str], list[str]]],
    repeat: int,
) -> dict[str, Samples]:
    """Per-article times of medbrief (batch, alone) and every peer on the same articles."""
    texts = [page_text(a.document) for a in articles]
    n = len(articles)
    for i in range(min(n, 5)):  # warm-up
        analyzer.analyze(texts[i])
        for peer in peers.values():
            peer(texts[i])
    analyzer.analyze_many(articles[: min(n, 5)])

    results: dict[str, Samples] = defaultdict(Samples)
    for start in range(0, n, BATCH_SIZE):
        chunk = range(start, min(start + BATCH_SIZE, n))
        for _ in range(repeat):
            cpu, wall = timed(analyzer.analyze_many, [articles[i] for i in chunk])
            for _ in chunk:  # one entry per article, so that every article weighs the same
                results[BATCH].add(cpu / len(chunk), wall / len(chunk))
            cpu, wall = timed(read_and_analyze, analyzer, [texts[i] for i in chunk])
            for _ in chunk:
                results[READ_BATCH].add(cpu / len(chunk), wall / len(chunk))
        for i in chunk:
            for _ in range(repeat):
                results[ALONE].add(*timed(analyzer.analyze, texts[i]))
                results[PREREAD].add(*timed(analyzer.analyze_many, [articles[i]]))
            for name, peer in peers.items():
                results[f"sumy {name}"].add(*timed(peer, texts[i]))
    return results


def read_and_analyze(analyzer: Analyzer, texts: Sequence[str]) -> None:
    """A batch as the peers get it: every page text read by medbrief, then analysed."""
    analyzer.analyze_many([analyzer.read(text) for text in texts])


# --------------------------------------------------------------------------- profiling

# Functions timed (inclusive) by --profile, as (module path, attribute path, label). Names
# that no longer exist are skipped, so the breakdown survives refactoring.
STAGES = (
    ("medbrief.engine", "read_article", "ingest: read_article (plain text)"),
    ("medbrief.model", "TopicModel.predict_proba", "classify: total"),
    ("medbrief.features", "TfidfPart.__call__", "  word TF-IDF + neighbours"),
    ("medbrief.features", "LayoutPart.__call__", "  layout features"),
    ("medbrief.summary", "candidates", "summary: candidates"),
    ("medbrief.summary", "split_many", "  sentence splitting (blingfire)"),
    ("medbrief.scorer", "SentenceScorer.__call__", "summary: learned rescoring"),
    ("medbrief.scorer", "sentence_features", "  sentence features"),
    ("medbrief.engine", "choose", "summary: choose"),
    ("medbrief.engine", "key_sentences", "summary: key sentences"),
    ("medbrief.engine", "ParagraphRecord", "record: ParagraphRecord (pydantic)"),
    ("medbrief.engine", "AnalysisRecord", "record: AnalysisRecord (pydantic)"),
)


@contextmanager
def stage_timers(totals: dict[str, float]) -> Iterator[None]:
    """Wrap every function of STAGES so its inclusive wall time adds up in ``totals``."""
    restore: list[tuple[Any, str, Any]] = []
    for module_name, attr_path, label in STAGES:
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, name = attr_path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        except (ImportError, AttributeError, KeyError):
            continue
        target = original
        if isinstance(owner, type) and not inspect.isfunction(original):
            target = _bound(original)  # a descriptor, such as sklearn's available_if
        setattr(owner, name, _timing(target, label, totals))
        restore.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)


def _bound(descriptor: Any) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return descriptor.__get__(self, type(self))(*args, **kwargs)

    return method


def _timing(fn: Any, label: str, totals: dict[str, float]) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    return wrapper


def stage_breakdown(analyzer: Analyzer, articles: Sequence[Article]) -> str:
    """Inclusive time per stage of single analyze(text) calls, per article."""
    for clear in memo_caches():
        clear()
    texts = [page_text(a.document) for a in articles]
    totals: dict[str, float] = defaultdict(float)
    with stage_timers(totals):
        start = time.perf_counter()
        for text in texts:
            analyzer.analyze(text)
        whole = time.perf_counter() - start
    n = len(texts)
    rows: list[list[object]] = [["analyze(text), whole call", whole / n * 1000, 1.0]]
    rows += [
        [label, totals[label] / n * 1000, totals[label] / whole]
        for _, _, label in STAGES
        if label in totals
    ]
    return table(
        ["stage (inclusive; indented = part of the line above)", "ms/article", "share"], rows
    )


def cprofile(analyzer: Analyzer, articles: Sequence[Article], top: int = 25) -> str:
    for clear in memo_caches():
        clear()
    texts = [page_text(a.document) for a in articles]
    profiler = cProfile.Profile()
    profiler.enable()
    for text in texts:
        analyzer.analyze(text)
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODELS, help="model folder")
    parser.add_argument(
        "--generated", type=int, default=300, help="generated ~800-word articles to time (0: none)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated articles")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed calls of medbrief per article (the peers run once)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print where medbrief's time goes (stages and cProfile)",
    )
    args = parser.parse_args(argv)

    analyzer = Analyzer(load_model(args.model))
    tokenizer = PunktTokenizer()
    peers = {k: v for k, v in sumy_peers(tokenizer).items() if k in ("TextRank", "LexRank")}
    corpora: dict[str, list[Path]] = {
        "seeds (training + held-out)": article_files(SEEDS) + article_files(HELDOUT),
    }
    if args.generated > 0:
        folder = OUT / f"speed-articles-{args.generated}-{args.seed}"
        generate_folder(folder, args.generated, args.seed)
        corpora[f"generated ~800 words ({args.generated})"] = article_files(folder)

    print(
        f"medbrief model {analyzer.model.version}; sumy TextRank/LexRank, 3 sentences, "
        "Punkt with an English abbreviation list, Snowball stemmer, sumy's stop words"
    )
    verdicts: list[bool] = []
    for name, paths in corpora.items():
        articles = read_articles(analyzer, paths)
        words = statistics.mean(
            sum(len(p.text.split()) for p in a.document.paragraphs) for a in articles
        )
        paragraphs = statistics.mean(len(a.document.paragraphs) for a in articles)
        results = measure(analyzer, articles, peers, args.repeat)
        tr_cpu = statistics.mean(results["sumy TextRank"].cpu)
        tr_wall = statistics.mean(results["sumy TextRank"].wall)
        rows = []
        for system, s in results.items():
            cpu, wall = statistics.mean(s.cpu), statistics.mean(s.wall)
            batched = system in (BATCH, READ_BATCH)
            median = "" if batched else f"{statistics.median(s.cpu) * 1000:.2f}"
            rows.append([system, cpu * 1000, median, wall * 1000, tr_cpu / cpu, tr_wall / wall])
        print(
            f"\n## {name}: {len(articles)} articles, mean {words:.0f} words and "
            f"{paragraphs:.1f} paragraphs\n"
        )
        print(
            table(
                [
                    "system",
                    "CPU ms/article (mean)",
                    "CPU ms (median)",
                    "wall ms/article (mean)",
                    "TextRank ÷ this (CPU)",
                    "TextRank ÷ this (wall)",
                ],
                rows,
            )
        )
        batch = results[BATCH]
        ratio = tr_cpu / statistics.mean(batch.cpu)
        ratio_wall = tr_wall / statistics.mean(batch.wall)
        lexrank = statistics.mean(results["sumy LexRank"].cpu) / statistics.mean(batch.cpu)
        with_reading = tr_cpu / statistics.mean(results[READ_BATCH].cpu)
        single = statistics.median(results[ALONE].cpu) * 1000
        single_wall = statistics.median(results[ALONE].wall) * 1000
        ok_ratio, ok_single = ratio >= TARGET_RATIO, single < TARGET_SINGLE_MS
        verdicts += [ok_ratio, ok_single]
        print(
            f"\nmedbrief batch vs TextRank: {ratio:.2f}x faster per article on CPU time "
            f"({ratio_wall:.2f}x on wall time); vs LexRank {lexrank:.2f}x. "
            f"Target >= {TARGET_RATIO:.0f}x vs TextRank: {'PASS' if ok_ratio else 'MISS'}. "
            f"With medbrief reading the page text too: {with_reading:.2f}x"
        )
        print(
            f"medbrief alone: median {single:.2f} ms CPU ({single_wall:.2f} ms wall) per "
            f"analyze(text) call. Target < {TARGET_SINGLE_MS:.0f} ms: "
            f"{'PASS' if ok_single else 'MISS'}"
        )
        if args.profile:
            print(
                f"\n### Where medbrief's time goes, {name} (single analyze(text) calls, wall "
                "time, timers on)\n"
            )
            print(stage_breakdown(analyzer, articles))
            print(
                f"\n### cProfile, {name}, single analyze(text) calls, top functions by own time\n"
            )
            print(cprofile(analyzer, articles))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
