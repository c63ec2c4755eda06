"""Training a model from labelled articles and writing it with its card."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import Pipeline

from medbrief.card import CalibrationSummary, CascadeSummary, DataSummary, Metrics, ModelCard
from medbrief.errors import LabelFileError
from medbrief.features import Sample, samples
from medbrief.model import (
    BOILERPLATE,
    CascadeModel,
    Classifier,
    SentenceWeights,
    TopicModel,
    save_model,
    temperature_scaled,
)
from medbrief.scorer import fit_scorer
from medbrief.summary import Unit
from medbrief.training.calibration import (
    UNSURE_BELOW,
    expected_calibration_error,
    fit_temperature,
)
from medbrief.training.cascade import choose_threshold, stage_probabilities
from medbrief.training.data import (
    REFERENCE_SUFFIX,
    LabelledArticle,
    digest,
    label_counts,
    label_set,
    load_dir,
    load_references,
)
from medbrief.training.evaluate import evaluate_dir, group_folds, score
from medbrief.training.finetune import FineTuning, tuned_encoder
from medbrief.training.options import TrainingOptions
from medbrief.training.outlets import outlet
from medbrief.training.pipeline import build_pipeline, linear_model

log = logging.getLogger(__name__)
LIBRARIES = ("medbrief", "scikit-learn", "numpy", "scipy", "trafilatura", "blingfire")


def training_matrix(
    articles: Sequence[LabelledArticle],
) -> tuple[list[Sample], list[str], list[str]]:
    """Samples, labels and cross-validation groups (outlets), article by article."""
    X: list[Sample] = []
    y: list[str] = []
    groups: list[str] = []
    for article in articles:
        X.extend(samples(article.texts))
        y.extend(article.labels)
        groups.extend([article.group] * len(article.texts))
    return X, y, groups


def fit(articles: Sequence[LabelledArticle], options: TrainingOptions) -> Pipeline:
    """A pipeline fitted on every paragraph of the articles."""
    X, y, _ = training_matrix(articles)
    return build_pipeline(options).fit(X, y)


def fit_classifier(
    articles: Sequence[LabelledArticle], options: TrainingOptions, labels: Sequence[str],
    threshold: float | None = None,
) -> Classifier:
    """The saved form of a classifier fitted on every paragraph: one linear model, or for
    the cascade set its two stages and ``threshold``. The tuned set fine-tunes its encoder
    first (or finds it in the cache: ``training.finetune.tuned_encoder``)."""
    if options.features == "tuned":
        X, y, _ = training_matrix(articles)
        recipe = FineTuning(epochs=options.epochs)
        encoder = tuned_encoder([s.text for s in X], y, digest(articles), recipe)
        return linear_model(build_pipeline(options, encoder).fit(X, y), labels)
    if options.features != "cascade":
        return linear_model(fit(articles, options), labels)
    if threshold is None:
        raise ValueError("a cascade needs its threshold")
    first = linear_model(fit(articles, options.stage("light")), labels)
    second = linear_model(fit(articles, options.stage("both")), labels)
    return CascadeModel(first, second, threshold)


def cross_validate(articles: Sequence[LabelledArticle], options: TrainingOptions) -> np.ndarray:
    """Probabilities of every paragraph with its group (outlet, or article) left out, in
    order, a column per label (sorted). For the cascade set, at the threshold chosen on
    these same predictions (or the one given)."""
    if options.features == "cascade":
        stages = stage_probabilities(
            *training_matrix(articles), options, label_set(articles), len(articles)
        )
        threshold = options.threshold
        if threshold is None:
            threshold = choose_threshold(stages).threshold
        return stages.probabilities(threshold)
    X, y, groups = training_matrix(articles)
    return np.asarray(cross_val_predict(
        build_pipeline(options), X, y, groups=groups, cv=group_folds(groups), n_jobs=-1,
        method="predict_proba",
    ))


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


def fit_summary_scorer(articles: Sequence[LabelledArticle]) -> SentenceWeights | None:
    """The summary sentence scorer learnt from the articles' reference summaries, or None
    when fewer than five articles have one."""
    examples = summary_examples(articles)
    return fit_scorer(examples) if len(examples) >= 5 else None


def cascade_threshold(
    articles: Sequence[LabelledArticle], options: TrainingOptions, labels: list[str],
    cross_validation: bool,
) -> tuple[CascadeSummary, np.ndarray | None]:
    """The cascade's threshold (chosen by grouped CV on ``articles`` unless the options fix
    it) and, when asked for, the cascade's CV probabilities at that threshold."""
    if options.threshold is not None and not cross_validation:
        return CascadeSummary(threshold=options.threshold), None
    if len({a.group for a in articles}) < 3:
        raise ValueError("choosing a cascade threshold needs articles of three outlets or more")
    stages = stage_probabilities(*training_matrix(articles), options, labels, len(articles))
    chosen = choose_threshold(stages)
    if options.threshold is not None:  # given: report it, with the CV table beside it
        fixed = stages.candidate(options.threshold)
        chosen = chosen.model_copy(
            update={"threshold": fixed.threshold, "encoder_share": fixed.encoder_share}
        )
    for c in chosen.candidates:
        log.info("cascade threshold %.2f: %.1f%% of paragraphs to the encoder, CV macro-F1 %.3f",
                 c.threshold, 100 * c.encoder_share, c.macro_f1)
    log.info("cascade threshold %.2f chosen (CV macro-F1 light %.3f, both %.3f)",
             chosen.threshold, chosen.light_macro_f1, chosen.both_macro_f1)
    probabilities = stages.probabilities(chosen.threshold)
    return chosen, probabilities if cross_validation else None


def calibrate(probabilities: np.ndarray, truth: Sequence[int]) -> CalibrationSummary:
    """Temperature scaling fitted on cross-validated probabilities, with the calibration
    error before and after."""
    temperature = fit_temperature(probabilities, truth)
    return CalibrationSummary(
        temperature=round(temperature, 4),
        ece_before=round(expected_calibration_error(probabilities, truth), 4),
        ece_after=round(expected_calibration_error(
            temperature_scaled(probabilities, temperature), truth), 4),
        unsure_below=UNSURE_BELOW,
    )


def cv_metrics(
    articles: Sequence[LabelledArticle], predicted: Sequence[str], labels: Sequence[str]
) -> tuple[Metrics, Metrics | None]:
    """Scores of cross-validated predictions: on every article, and on the real ones."""
    truth = [label for a in articles for label in a.labels]
    real = [a.url is not None for a in articles for _ in a.labels]
    overall = score(truth, predicted, labels, len(articles))
    if not any(real):
        return overall, None
    pick = [i for i, is_real in enumerate(real) if is_real]
    return overall, score(
        [truth[i] for i in pick], [predicted[i] for i in pick], labels,
        sum(a.url is not None for a in articles),
    )


def train(
    data_dir: Path,
    out_dir: Path | None,
    heldout_dirs: Sequence[Path] = (),
    options: TrainingOptions | None = None,
    cross_validation: bool = True,
    extra_dirs: Sequence[Path] = (),
) -> TopicModel:
    """Train on the articles of ``data_dir`` and its subfolders (but the held-out ones),
    and of ``extra_dirs`` (corrections kept elsewhere), score it by grouped
    cross-validation and on each of ``heldout_dirs``, and (when ``out_dir`` is given) save
    it atomically."""
    options = options or TrainingOptions()
    started = time.perf_counter()
    articles = load_dir(data_dir, nested=True)
    for extra in extra_dirs:
        articles += load_dir(extra)
    labels = label_set(articles)
    if len(labels) < 2:
        raise LabelFileError(
            data_dir, None, f"training needs at least two labels, found {', '.join(labels)}"
        )
    log.info("training on %d articles, labels %s", len(articles), labels)
    probabilities = None
    cascade = None
    if options.features == "cascade":
        cascade, probabilities = cascade_threshold(articles, options, labels, cross_validation)
    elif options.features == "tuned":
        # Each fold would need a fine-tune of its own (minutes each): the card has the
        # held-out sets' figures, and no calibration.
        log.info("the tuned set is not cross-validated")
    elif cross_validation and len({a.group for a in articles}) >= 3:
        probabilities = cross_validate(articles, options)
    cv = cv_real = calibration = None
    if probabilities is not None:
        predicted = [labels[i] for i in probabilities.argmax(axis=1)]
        cv, cv_real = cv_metrics(articles, predicted, labels)
        log.info("grouped cross-validation macro-F1 %.3f", cv.macro_f1)
        truth = [labels.index(label) for a in articles for label in a.labels]
        calibration = calibrate(probabilities, truth)
    linear = fit_classifier(articles, options, labels, cascade.threshold if cascade else None)
    scorer = fit_summary_scorer(articles)
    data_digest = digest(articles)
    created = datetime.now(UTC)
    card = ModelCard(
        version=f"{created:%Y%m%dT%H%M%S}-{data_digest[:8]}",
        created_at=created.isoformat(timespec="seconds"),
        labels=labels,
        features=options.features,
        params=options.params(),
        cascade=cascade,
        data=DataSummary(
            digest=data_digest,
            articles=len(articles),
            paragraphs=sum(len(a.texts) for a in articles),
            label_counts=label_counts(articles),
            real_articles=sum(a.url is not None for a in articles),
            outlets=len({outlet(a.url) for a in articles if a.url}),
        ),
        cross_validation=cv,
        cross_validation_real=cv_real,
        calibration=calibration,
        summary_references=len(summary_examples(articles)) if scorer is not None else 0,
        libraries={name: package_version(name) for name in LIBRARIES},
        train_seconds=0.0,
    )
    model = TopicModel(card, linear, scorer)
    heldout = {}
    for folder in heldout_dirs:
        if folder.is_dir():
            heldout[folder.name] = evaluate_dir(model, folder)
            log.info("%s: macro-F1 %.3f", folder.name, heldout[folder.name].macro_f1)
    card = card.model_copy(update={"heldout_sets": heldout})
    seconds = round(time.perf_counter() - started, 2)
    model = TopicModel(card.model_copy(update={"train_seconds": seconds}), linear, scorer)
    if out_dir is not None:
        save_model(model, out_dir)
    return model
