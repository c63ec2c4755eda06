"""The analysis engine: read, classify, break down by topic, summarise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medbrief.explain import explain
from medbrief.features import samples
from medbrief.ingest import (
    MAX_BYTES,
    MAX_PARAGRAPHS,
    Document,
    Format,
    read_article,
    read_file,
)
from medbrief.model import BOILERPLATE, TopicModel
from medbrief.record import AnalysisRecord, ModelInfo, ParagraphRecord, SummarySentence
from medbrief.scorer import SentenceScorer, sentence_cues_shares
from medbrief.summary import (
    DEFAULT_SENTENCES,
    DEFAULT_WORDS,
    Candidate,
    Unit,
    choose,
    key_sentences,
    scored,
)


@dataclass(frozen=True)
class Options:
    """How long a summary may be, and whether to explain the labels and the summary."""

    sentences: int = DEFAULT_SENTENCES
    max_words: int = DEFAULT_WORDS
    explain: bool = False


@dataclass(frozen=True)
class Article:
    """A document read from somewhere, waiting to be analysed."""

    document: Document
    id: str | None = None
    source: str | None = None


class Analyzer:
    """Turns articles into analysis records with one model, batching the classifier."""

    def __init__(
        self, model: TopicModel, max_bytes: int = MAX_BYTES, max_paragraphs: int = MAX_PARAGRAPHS
    ) -> None:
        self.model = model
        self.max_bytes = max_bytes
        self.max_paragraphs = max_paragraphs
        self._info = ModelInfo(version=model.version, labels=model.labels)
        self._rescorer = SentenceScorer(model.scorer) if model.scorer is not None else None

    def read(
        self, source: str | bytes, format: Format = "auto", id: str | None = None
    ) -> Article:
        document = read_article(
            source, format, id or "input", self.max_bytes, self.max_paragraphs
        )
        return Article(document, id)

    def read_path(self, path: Path) -> Article:
        document = read_file(path, None, self.max_bytes, self.max_paragraphs)
        return Article(document, path.stem, str(path))

    def analyze(
        self, source: str | bytes, format: Format = "auto", id: str | None = None,
        options: Options = Options(),
    ) -> AnalysisRecord:
        """Analyse one article given as text or bytes."""
        return self.analyze_many([self.read(source, format, id)], options)[0]

    def analyze_many(
        self, articles: Sequence[Article], options: Options = Options()
    ) -> list[AnalysisRecord]:
        """Analyse several articles with one pass of the classifier."""
        texts = [[p.text for p in a.document.paragraphs] for a in articles]
        probabilities = self.model.predict_proba(texts)
        return [
            self._record(article, probs, options)
            for article, probs in zip(articles, probabilities, strict=True)
        ]

    def _record(self, article: Article, probs: np.ndarray, options: Options) -> AnalysisRecord:
        labels = self.model.labels
        rounded = np.round(probs, 4)
        best = rounded.argmax(axis=1).tolist() if len(rounded) else []
        texts = [p.text for p in article.document.paragraphs]
        why = explain(self.model.linear, samples(texts)) if options.explain and texts else None
        unsure_below = self.model.unsure_below
        paragraphs = []
        for i, (paragraph, row) in enumerate(zip(article.document.paragraphs, rounded.tolist(),
                                                 strict=True)):
            scores = dict(zip(labels, row, strict=True))
            label = labels[best[i]]
            if paragraph.forced and BOILERPLATE in scores:
                scores = {name: float(name == BOILERPLATE) for name in labels}
                label = BOILERPLATE
            paragraphs.append(
                ParagraphRecord(
                    index=i, text=paragraph.text, label=label, confidence=scores[label],
                    scores=scores, forced=paragraph.forced,
                    unsure=paragraph.forced is None and scores[label] < unsure_below,
                    explanation=why[i] if why is not None else None,
                )
            )
        units = [
            Unit(p.index, p.text, p.label, p.confidence, p.scores)
            for p in paragraphs
            if p.label != BOILERPLATE and p.forced is None
        ]
        pool = scored(units, self._rescorer)
        summary = choose(pool, units, options.sentences, options.max_words)
        sentences = [_sentence(c) for c in summary]
        if options.explain:
            places = [next(k for k, c in enumerate(pool) if c is chosen) for chosen in summary]
            for sentence, cues in zip(
                sentences, sentence_cues_shares(self._rescorer, pool, units, places), strict=True
            ):
                sentence.cues = cues
        return AnalysisRecord(
            id=article.id,
            source=article.source,
            format=article.document.format,
            paragraphs=paragraphs,
            topics=topic_shares(units),
            summary=sentences,
            key_sentences={label: _sentence(c) for label, c in key_sentences(pool).items()},
            model=self._info,
        )


def topic_shares(units: Sequence[Unit]) -> dict[str, float]:
    """The share of content words under each content label (sums to 1; empty if no content)."""
    words: dict[str, int] = {}
    for unit in units:
        words[unit.label] = words.get(unit.label, 0) + len(unit.text.split())
    total = sum(words.values())
    if total == 0:
        return {}
    return {label: count / total for label, count in sorted(words.items(), key=lambda kv: -kv[1])}


def _sentence(c: Candidate) -> SummarySentence:
    return SummarySentence(text=c.text, paragraph=c.paragraph, label=c.label)
