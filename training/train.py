"""Training a model from labelled articles and writing it with its card."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import Pipeline

from medbrief.card import DataSummary, ModelCard
from medbrief.features import Sample, samples
from medbrief.model import BOILERPLATE, SentenceWeights, TopicModel, save_model
from medbrief.scorer import fit_scorer
from medbrief.summary import Unit
from training.data import (
    REFERENCE_SUFFIX,
    LabelledArticle,
    digest,
    label_counts,
    label_set,
    load_dir,
    load_references,
)
from training.evaluate import evaluate_dir, score
from training.options import TrainingOptions
from training.pipeline import build_pipeline, linear_model

log = logging.getLogger(__name__)
LIBRARIES = ("medbrief", "scikit-learn", "numpy", "scipy", "trafilatura", "blingfire")


def training_matrix(
    articles: Sequence[LabelledArticle],
) -> tuple[list[Sample], list[str], list[int]]:
    """Samples, labels and article groups, article by article."""
    X: list[Sample] = []
    y: list[str] = []
    groups: list[int] = []
    for number, article in enumerate(articles):
        X.extend(samples(article.texts))
        y.extend(article.labels)
        groups.extend([number] * len(article.texts))
    return X, y, groups


def fit(articles: Sequence[LabelledArticle], options: TrainingOptions) -> Pipeline:
    """A pipeline fitted on every paragraph of the articles."""
    X, y, _ = training_matrix(articles)
    return build_pipeline(options).fit(X, y)


def cross_validate(articles: Sequence[LabelledArticle], options: TrainingOptions) -> list[str]:
    """Leave-one-article-out predictions for every paragraph, in order."""
    X, y, groups = training_matrix(articles)
    predicted = cross_val_predict(
        build_pipeline(options), X, y, groups=groups, cv=LeaveOneGroupOut(), n_jobs=-1
    )
    return [str(label) for label in predicted]


def summary_examples(
    articles: Sequence[LabelledArticle],
) -> list[tuple[list[Unit], list[str]]]:
    """(content paragraphs, reference sentences) of every article that has a reference file."""
    examples = []
    for article in articles:
        path = article.labels_path.parent / f"{article.name}{REFERENCE_SUFFIX}"
        if not path.is_file():
            continue
        units = [
            Unit(i, text, label, 1.0)
            for i, (text, label) in enumerate(zip(article.texts, article.labels, strict=True))
            if label != BOILERPLATE
        ]
        examples.append((units, load_references(path)))
    return examples


def fit_summary_scorer(articles: Sequence[LabelledArticle]) -> LogisticRegression | None:
    """The summary sentence scorer learnt from the articles' reference summaries, or None
    when fewer than five articles have one."""
    examples = summary_examples(articles)
    return fit_scorer(examples) if len(examples) >= 5 else None


def train(
    data_dir: Path,
    out_dir: Path | None,
    heldout_dir: Path | None = None,
    options: TrainingOptions | None = None,
    cross_validation: bool = True,
) -> TopicModel:
    """Train on ``data_dir``, score it, and (when ``out_dir`` is given) save it atomically."""
    options = options or TrainingOptions()
    started = time.perf_counter()
    articles = load_dir(data_dir)
    labels = label_set(articles)
    if len(labels) < 2:
        raise ValueError(f"{data_dir}: training needs at least two labels, found {labels}")
    log.info("training on %d articles, labels %s", len(articles), labels)
    cv = None
    if cross_validation and len(articles) >= 3:
        truth = [label for a in articles for label in a.labels]
        cv = score(truth, cross_validate(articles, options), labels, len(articles))
        log.info("grouped cross-validation macro-F1 %.3f", cv.macro_f1)
    pipeline = fit(articles, options)
    scorer = fit_summary_scorer(articles)
    data_digest = digest(articles)
    created = datetime.now(UTC)
    card = ModelCard(
        version=f"{created:%Y%m%dT%H%M%S}-{data_digest[:8]}",
        created_at=created.isoformat(timespec="seconds"),
        labels=labels,
        features=options.features,
        params=options.params(),
        data=DataSummary(
            digest=data_digest,
            articles=len(articles),
            paragraphs=sum(len(a.texts) for a in articles),
            label_counts=label_counts(articles),
        ),
        cross_validation=cv,
        summary_references=len(summary_examples(articles)) if scorer is not None else 0,
        libraries={name: package_version(name) for name in LIBRARIES},
        train_seconds=0.0,
    )
    linear = linear_model(pipeline, labels)
    weights = SentenceWeights(scorer.coef_, scorer.intercept_) if scorer is not None else None
    model = TopicModel(card, linear, weights)
    if heldout_dir is not None and heldout_dir.is_dir():
        heldout = evaluate_dir(model, heldout_dir)
        log.info("held-out macro-F1 %.3f", heldout.macro_f1)
        card = card.model_copy(update={"heldout": heldout})
    seconds = round(time.perf_counter() - started, 2)
    model = TopicModel(card.model_copy(update={"train_seconds": seconds}), linear, weights)
    if out_dir is not None:
        save_model(model, out_dir)
    return model
