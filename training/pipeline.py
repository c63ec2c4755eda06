"""The classifier pipelines, one per feature set, and the linear form a saved model keeps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from medbrief.encoder import SentenceEncoder
from medbrief.features import samples
from medbrief.model import LinearModel, Part, TransformedPart
from medbrief.training.estimators import ContextTfidf, LayoutFeatures
from medbrief.training.finetune import TUNED_MAX_LENGTH
from medbrief.training.options import TrainingOptions


def build_pipeline(options: TrainingOptions, tuned_encoder: Path | None = None) -> Pipeline:
    """An unfitted pipeline: features, then one class-balanced logistic regression per label.
    The ``tuned`` set reads the paragraphs with ``tuned_encoder``, an encoder folder that
    ``training.finetune`` fine-tuned on the same articles."""
    if options.features == "cascade":
        raise ValueError("a cascade is two pipelines: build one per stage (options.stage)")
    if (options.features == "tuned") != (tuned_encoder is not None):
        raise ValueError("the tuned set, and only it, needs its fine-tuned encoder folder")
    parts: list[tuple[str, object]] = []
    weights = {"layout": options.layout_weight}
    if options.features in ("light", "both", "tuned"):
        words = ContextTfidf(context_weight=options.context_weight, min_df=options.min_df)
        parts.append(("words", words))
        weights["words"] = 1.0
    if options.features in ("encoder", "both"):
        parts.append(("encoder", SentenceEncoder(context_weight=options.context_weight)))
        weights["encoder"] = options.encoder_weight
    if tuned_encoder is not None:
        encoder = SentenceEncoder(
            str(tuned_encoder), context_weight=options.context_weight, max_length=TUNED_MAX_LENGTH
        )
        parts.append(("encoder", encoder))
        weights["encoder"] = options.encoder_weight
    parts.append(("layout", LayoutFeatures()))
    features = FeatureUnion(parts, transformer_weights=weights)
    classifier = OneVsRestClassifier(
        # The dual problem is the fast one when features far outnumber paragraphs.
        LogisticRegression(
            C=options.C, class_weight="balanced", solver="liblinear", dual=True, max_iter=5000,
            tol=1e-3, random_state=0,
        )
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def linear_model(pipeline: Pipeline, labels: Sequence[str]) -> LinearModel:
    """What a saved model keeps of a fitted pipeline: each feature step with its rows of the
    one-vs-rest weights (scaled by the step's union weight), and the intercepts."""
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    coef = np.column_stack([e.coef_.ravel() for e in classifier.estimators_])
    intercept = np.array([float(e.intercept_[0]) for e in classifier.estimators_])
    if len(classifier.classes_) == 2:  # one estimator, for the second class against the first
        coef, intercept = np.hstack([-coef, coef]), np.concatenate([-intercept, intercept])
    order = [list(classifier.classes_).index(label) for label in labels]
    weights, intercepts = coef[:, order], intercept[order]
    scale = features.transformer_weights or {}
    parts: list[Part] = []
    start = 0
    for name, step in features.transformer_list:
        width = step.feature_width() if hasattr(step, "part") else _width(step)
        block = weights[start : start + width] * float(scale.get(name, 1.0))
        parts.append(step.part(block) if hasattr(step, "part") else TransformedPart(step, block))
        start += width
    if start != weights.shape[0]:
        raise ValueError(f"feature steps give {start} columns, the classifier has {len(weights)}")
    return LinearModel(tuple(labels), tuple(parts), intercepts)


def _width(step: object) -> int:
    """Columns a fitted feature step gives, found by transforming one paragraph."""
    return int(step.transform(samples(["A paragraph."])).shape[1])  # type: ignore[attr-defined]
