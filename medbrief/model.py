"""A saved topic model: a folder of versions, each a data-only model file plus its card."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from medbrief import persist
from medbrief.card import ModelCard
from medbrief.errors import ModelError
from medbrief.features import Projection, Sample, samples

BOILERPLATE = "boilerplate"
MODEL_FILE = "model.zip"
CARD_FILE = "card.json"
POINTER = "CURRENT"
KEEP_VERSIONS = 3

@dataclass(frozen=True)
class _Linear:
    """A fitted union of features and one-vs-rest logistic regressions, unrolled: the same
    probabilities as the pipeline's, without scikit-learn's per-call checks. Feature steps
    that offer a ``projector`` score a batch straight against their rows of the weights,
    never building the feature matrix; others are transformed and multiplied."""

    projections: list[Projection]
    intercepts: np.ndarray

    @classmethod
    def of(cls, pipeline: Pipeline, labels: list[str]) -> _Linear | None:
        features, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2 or not isinstance(features, FeatureUnion):
            return None
        if not isinstance(classifier, OneVsRestClassifier) or len(classifier.classes_) < 3:
            return None
        estimators = classifier.estimators_
        if not all(isinstance(e, LogisticRegression) for e in estimators):
            return None
        order = [list(classifier.classes_).index(label) for label in labels]
        weights = np.column_stack([estimators[i].coef_.ravel() for i in order])
        intercepts = np.array([float(estimators[i].intercept_[0]) for i in order])
        scale = features.transformer_weights or {}
        projections: list[Projection] = []
        start = 0
        for name, transformer in features.transformer_list:
            if not hasattr(transformer, "projector"):
                steps = [(t, float(scale.get(n, 1.0))) for n, t in features.transformer_list]
                return cls([_Transformed(steps, weights)], intercepts)
            width = transformer.feature_width()
            block = weights[start : start + width] * float(scale.get(name, 1.0))
            projections.append(transformer.projector(block))
            start += width
        return cls(projections, intercepts)

    def predict_proba(self, batch: list[Sample]) -> np.ndarray:
        logits = self.intercepts + sum(project(batch) for project in self.projections)
        probs = expit(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return np.asarray(probs)


@dataclass(frozen=True)
class _Transformed:
    """The plain route: every feature step transforms, the union is multiplied by the weights."""

    steps: list[tuple[Any, float]]
    weights: np.ndarray

    def __call__(self, batch: Sequence[Sample]) -> np.ndarray:
        X = sp.hstack([t.transform(batch) * w for t, w in self.steps], format="csr")
        return np.asarray(X @ self.weights)


@dataclass(frozen=True)
class TopicModel:
    """A fitted paragraph classifier, its optional summary sentence scorer, and its card."""

    pipeline: Pipeline
    card: ModelCard
    scorer: LogisticRegression | None = None
    _linear: _Linear | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_linear", _Linear.of(self.pipeline, self.labels))

    def __reduce__(self) -> tuple[type[TopicModel], tuple[Pipeline, ModelCard, Any]]:
        """Pickled (to worker processes) as its parts; the unrolled form is rebuilt there."""
        return (TopicModel, (self.pipeline, self.card, self.scorer))

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

    @property
    def version(self) -> str:
        return self.card.version

    def predict_proba(self, articles: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Label probabilities for every paragraph of every article, one array per article."""
        batch = [s for texts in articles for s in samples(texts)]
        if not batch:
            return [np.zeros((0, len(self.labels))) for _ in articles]
        if self._linear is not None:
            probs = self._linear.predict_proba(batch)
        else:
            order = [list(self.pipeline.classes_).index(label) for label in self.labels]
            probs = self.pipeline.predict_proba(batch)[:, order]
        out, start = [], 0
        for texts in articles:
            out.append(probs[start : start + len(texts)])
            start += len(texts)
        return out


def save_model(model: TopicModel, root: Path) -> Path:
    """Write a model as a new version folder under ``root`` and point CURRENT at it atomically."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        persist.dump({"pipeline": model.pipeline, "scorer": model.scorer}, staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(model.card.model_dump_json(indent=2) + "\n")
        final = root / model.version
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = root / f".{POINTER}.tmp"
    pointer.write_text(model.version + "\n")
    os.replace(pointer, root / POINTER)
    _prune(root, keep=model.version)
    return final


def _prune(root: Path, keep: str) -> None:
    versions = sorted(
        (p for p in root.iterdir() if (p / CARD_FILE).is_file() and p.name != keep),
        key=lambda p: p.stat().st_mtime,
    )
    for old in versions[: max(len(versions) - (KEEP_VERSIONS - 1), 0)]:
        shutil.rmtree(old, ignore_errors=True)


def current_version(root: Path) -> str | None:
    """The version CURRENT points at, or None when there is no model."""
    try:
        return (root / POINTER).read_text().strip() or None
    except FileNotFoundError:
        return None


def load_model(root: Path) -> TopicModel:
    """Load the current model of a model folder; refuses any class not explicitly allowed."""
    version = current_version(root)
    if version is None:
        raise ModelError(f"{root}: no model here (train one with `medbrief train`)")
    folder = root / version
    try:
        card = ModelCard.model_validate_json((folder / CARD_FILE).read_text())
        saved = persist.load(folder / MODEL_FILE)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot load model ({exc})") from exc
    pipeline, scorer = saved.get("pipeline"), saved.get("scorer")
    if not isinstance(pipeline, Pipeline):
        raise ModelError(f"{folder}: {MODEL_FILE} does not hold a scikit-learn pipeline")
    if scorer is not None and not isinstance(scorer, LogisticRegression):
        raise ModelError(f"{folder}: the summary scorer is not a logistic regression")
    return TopicModel(pipeline, card, scorer)
