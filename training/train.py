"""Training a model from labelled articles and writing it with its card."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import Pipeline

from medbrief.card import DataSummary, ModelCard
from medbrief.features import Sample, samples
from medbrief.model import TopicModel, save_model
from training.data import LabelledArticle, digest, label_counts, label_set, load_dir
from training.evaluate import evaluate_dir, score
from training.pipeline import TrainingOptions, build_pipeline

log = logging.getLogger(__name__)
LIBRARIES = ("medbrief", "scikit-learn", "numpy", "scipy", "skops", "trafilatura", "blingfire")


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
        libraries={name: package_version(name) for name in LIBRARIES},
        train_seconds=0.0,
    )
    model = TopicModel(pipeline, card)
    if heldout_dir is not None and heldout_dir.is_dir():
        heldout = evaluate_dir(model, heldout_dir)
        log.info("held-out macro-F1 %.3f", heldout.macro_f1)
        model = TopicModel(pipeline, card.model_copy(update={"heldout": heldout}))
    seconds = round(time.perf_counter() - started, 2)
    model = TopicModel(pipeline, model.card.model_copy(update={"train_seconds": seconds}))
    if out_dir is not None:
        save_model(model, out_dir)
    return model
