"""The Python API: analyse articles from a script or a notebook with one call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from medbrief.engine import Analyzer, Article, Options
from medbrief.ingest import Format
from medbrief.locations import model_to_read
from medbrief.model import load_model
from medbrief.record import AnalysisRecord
from medbrief.summary import DEFAULT_SENTENCES, DEFAULT_WORDS

if TYPE_CHECKING:
    import pandas

Source = str | bytes | Path
_loaded: dict[Path | None, Analyzer] = {}


def load(model: str | Path | None = None) -> Analyzer:
    """An analyser for the model in folder ``model``, or by default the model folder's
    model (else the default model built into medbrief); loaded once per folder.

    >>> analyzer = medbrief.load()
    >>> analyzer.model.version  # doctest: +SKIP
    '20261205T144929-d64582a8'
    """
    key = Path(model) if model is not None else None
    if key not in _loaded:
        _loaded[key] = Analyzer(load_model(model_to_read(key)))
    return _loaded[key]


def analyze(
    source: Source,
    *,
    format: Format = "auto",
    id: str | None = None,
    sentences: int = DEFAULT_SENTENCES,
    words: int = DEFAULT_WORDS,
    explain: bool = False,
    model: str | Path | Analyzer | None = None,
) -> AnalysisRecord:
    """The analysis record of one article: its text (``str``, or ``bytes`` in UTF-8) or a
    file (a ``Path``: the format follows its suffix). ``explain`` adds each paragraph's
    label split into its features' shares, and what chose each summary sentence. Raises
    InputError for an article that cannot be read, ModelError when there is no usable
    model.

    >>> record = medbrief.analyze("Nine of ten patients improved in the trial.")
    >>> record.paragraphs[0].label
    'trial_results'
    """
    return analyze_many([source], format=format, ids=[id], sentences=sentences, words=words,
                        explain=explain, model=model)[0]


def analyze_many(
    sources: Iterable[Source],
    *,
    format: Format = "auto",
    ids: Sequence[str | None] | None = None,
    sentences: int = DEFAULT_SENTENCES,
    words: int = DEFAULT_WORDS,
    explain: bool = False,
    model: str | Path | Analyzer | None = None,
) -> list[AnalysisRecord]:
    """Records of several articles (texts or files), classified in one batch: much faster
    than one ``analyze`` call each. ``ids`` names them (a file's name by default)."""
    analyzer = model if isinstance(model, Analyzer) else load(model)
    articles: list[Article] = []
    for number, source in enumerate(sources):
        given = ids[number] if ids is not None else None
        if isinstance(source, Path):
            article = analyzer.read_path(source)
            articles.append(Article(article.document, given or article.id, article.source))
        else:
            articles.append(analyzer.read(source, format, given))
    return analyzer.analyze_many(articles, Options(sentences, words, explain))


def frames(records: Iterable[AnalysisRecord]) -> tuple[pandas.DataFrame, pandas.DataFrame]:
    """The records as two pandas DataFrames: one row per paragraph (id, source, index,
    text, label, confidence, a column per label's score, in_summary), and one row per
    article (id, source, paragraphs, boilerplate, a column per topic's share, summary).
    Needs pandas (``pip install 'medbrief[pandas]'``)."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("medbrief.frames needs pandas: pip install 'medbrief[pandas]'") from exc
    paragraphs: list[dict[str, object]] = []
    articles: list[dict[str, object]] = []
    for record in records:
        chosen = {s.paragraph for s in record.summary}
        for p in record.paragraphs:
            paragraphs.append({
                "id": record.id, "source": record.source, "index": p.index, "text": p.text,
                "label": p.label, "confidence": p.confidence, "forced": p.forced,
                "in_summary": p.index in chosen,
                **{f"score_{label}": score for label, score in p.scores.items()},
            })
        articles.append({
            "id": record.id, "source": record.source, "paragraphs": len(record.paragraphs),
            "boilerplate": sum(p.label == "boilerplate" for p in record.paragraphs),
            **{f"share_{label}": share for label, share in record.topics.items()},
            "summary": " ".join(s.text for s in record.summary),
        })
    return pandas.DataFrame(paragraphs), pandas.DataFrame(articles)
