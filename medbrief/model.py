"""A saved topic model: a folder of versions, each a data-only model file plus its card."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medbrief import bounded, persist
from medbrief.card import ModelCard
from medbrief.errors import ModelError
from medbrief.features import Sample, samples

BOILERPLATE = "boilerplate"
MODEL_FILE = "model.zip"
CARD_FILE = "card.json"
POINTER = "CURRENT"
KEEP_VERSIONS = 3
STAGING_PREFIX = ".staging-"
# A fine-tuned sentence encoder travels with its model, in this folder of the version.
ENCODER_FOLDER = "encoder"


class Part(Protocol):
    """One feature step, fitted: a batch of paragraphs in, its share of each label's logit out."""

    def __call__(self, X: Sequence[Sample]) -> np.ndarray: ...


@dataclass(frozen=True)
class TransformedPart:
    """A feature step with no direct scoring form (the sentence encoder): its transform,
    multiplied by its rows of the classifier's weights."""

    transformer: Any
    weights: np.ndarray

    def __call__(self, X: Sequence[Sample]) -> np.ndarray:
        return np.asarray(self.transformer.transform(X) @ self.weights)

    def rows(self, X: Sequence[Sample], rows: np.ndarray) -> np.ndarray:
        """What ``self(X)[rows]`` gives, transforming only those rows where the transformer
        can (``transform_rows``: the sentence encoder embeds them and their neighbours)."""
        transform_rows = getattr(self.transformer, "transform_rows", None)
        features = (
            transform_rows(X, rows) if transform_rows is not None
            else self.transformer.transform(X)[rows]
        )
        return np.asarray(features @ self.weights)


@dataclass(frozen=True)
class LinearModel:
    """One-vs-rest logistic regressions over the sum of their feature parts, the columns in
    ``labels`` order; probabilities are each label's, normalised to sum to one."""

    labels: tuple[str, ...]
    parts: tuple[Part, ...]
    intercepts: np.ndarray

    def predict_proba(self, X: Sequence[Sample], rows: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of every paragraph of ``X``, or only of ``rows`` (indices into ``X``;
        the paragraphs around them are still read for their neighbour features)."""
        if rows is None:
            logits = self.intercepts + sum(part(X) for part in self.parts)
        else:
            logits = self.intercepts + sum(_part_rows(part, X, rows) for part in self.parts)
        probs = 1.0 / (1.0 + np.exp(-logits))
        return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def _part_rows(part: Part, X: Sequence[Sample], rows: np.ndarray) -> np.ndarray:
    """One part's logits for ``rows`` of ``X``: the cheap parts score the whole batch (their
    neighbour features need it) and keep those rows; a transformed part computes only them."""
    if isinstance(part, TransformedPart):
        return part.rows(X, rows)
    return np.asarray(part(X)[rows])


@dataclass(frozen=True)
class CascadeModel:
    """Two classifiers in turn: ``first`` (cheap) labels every paragraph, and ``second``
    (with the sentence encoder) relabels only those whose top probability from ``first`` is
    below ``threshold``, so the encoder embeds only those paragraphs (and their neighbours)."""

    first: LinearModel
    second: LinearModel
    threshold: float

    def __post_init__(self) -> None:
        if self.first.labels != self.second.labels:
            raise ValueError("the cascade's two classifiers must have the same labels")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.first.labels

    def unsure(self, probs: np.ndarray) -> np.ndarray:
        """Indices of the rows of ``first``'s probabilities that go to ``second``."""
        return np.flatnonzero(probs.max(axis=1) < self.threshold)

    def predict_proba(self, X: Sequence[Sample]) -> np.ndarray:
        probs = self.first.predict_proba(X)
        rows = self.unsure(probs)
        if len(rows):
            probs[rows] = self.second.predict_proba(X, rows)
        return probs


Classifier = LinearModel | CascadeModel


@dataclass(frozen=True)
class SentenceWeights:
    """The summary sentence scorer's logistic regression, as its coefficients: ``coef_``
    (1, n) for the sentence features, and ``words``, the weight of each content word a
    sentence holds, plain ("remission") or under the topic it competes for
    ("risks:remission"). A model saved before words were learnt has none."""

    coef_: np.ndarray
    intercept_: np.ndarray
    words: dict[str, float] | None = None


@dataclass(frozen=True)
class TopicModel:
    """A fitted paragraph classifier, its optional summary sentence scorer, and its card."""

    card: ModelCard
    linear: Classifier
    scorer: SentenceWeights | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def unsure_below(self) -> float:
        """Paragraphs less confident than this are marked unsure (0: never, uncalibrated)."""
        return self.card.calibration.unsure_below if self.card.calibration else 0.0

    def predict_proba(self, articles: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Label probabilities for every paragraph of every article, one array per article
        (calibrated, when the card says how)."""
        batch = [s for texts in articles for s in samples(texts)]
        if not batch:
            return [np.zeros((0, len(self.labels))) for _ in articles]
        probs = self.linear.predict_proba(batch)
        if self.card.calibration is not None:
            probs = temperature_scaled(probs, self.card.calibration.temperature)
        out, start = [], 0
        for texts in articles:
            out.append(probs[start : start + len(texts)])
            start += len(texts)
        return out


def temperature_scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)`` row by row: the same ranking of labels, with
    confidences made to match accuracy (``training/calibration.py`` fits the temperature)."""
    logs = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    scaled = np.exp(logs)
    return np.asarray(scaled / scaled.sum(axis=1, keepdims=True))


def save_model(model: TopicModel, root: Path) -> Path:
    """Write a model as a new version folder under ``root`` and point CURRENT at it atomically."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    try:
        shipped = _own_encoders(model.linear)
        if len(shipped) > 1:
            raise ValueError("a model can carry one encoder folder of its own")
        for encoder in shipped:
            shutil.copytree(encoder.model_path, staging / ENCODER_FOLDER)
        # The saved model names its encoder folder relative to the version (load_model
        # resolves it); the model in memory keeps reading the folder it was trained with.
        paths = [encoder.model_path for encoder in shipped]
        try:
            for encoder in shipped:
                encoder.model_path = ENCODER_FOLDER
            persist.dump({"linear": model.linear, "scorer": model.scorer}, staging / MODEL_FILE)
        finally:
            for encoder, path in zip(shipped, paths, strict=True):
                encoder.model_path = path
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


_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_CARD_BYTES = 10_000_000


def current_version(root: Path) -> str | None:
    """The version CURRENT points at, or None when there is no model. A pointer that is
    not a plain version name (a path, ``..``) is refused: it could lead outside ``root``."""
    try:
        text = bounded.read_file(root / POINTER, 1_000, POINTER).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except (OSError, bounded.TooLarge) as exc:
        raise ModelError(f"{root / POINTER}: cannot read ({exc})") from exc
    version = text.strip()
    if not version:
        return None
    if not _VERSION.fullmatch(version) or version in (".", ".."):
        raise ModelError(f"{root / POINTER}: {version[:80]!r} is not a model version name")
    return version


def load_model(root: Path) -> TopicModel:
    """Load the current model of a model folder, validated before it is trusted: the
    pointer names a version inside ``root``, the model file holds only allowed classes
    within its size limits (``persist``), the classifier matches the card, and it labels
    a probe article with finite probabilities. Anything else is a ModelError."""
    version = current_version(root)
    if version is None:
        raise ModelError(f"{root}: no model here (train one with `medbrief train`)")
    folder = root / version
    try:
        card_text = bounded.read_file(folder / CARD_FILE, MAX_CARD_BYTES, CARD_FILE)
        card = ModelCard.model_validate_json(card_text)
        saved = persist.load(folder / MODEL_FILE)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot load model ({exc})") from exc
    linear, scorer = saved.get("linear"), saved.get("scorer")
    if not isinstance(linear, LinearModel | CascadeModel) or list(linear.labels) != card.labels:
        raise ModelError(f"{folder}: {MODEL_FILE} does not hold a classifier for {card.labels}")
    if scorer is not None and not isinstance(scorer, SentenceWeights):
        raise ModelError(f"{folder}: the summary scorer is not a sentence scorer")
    for encoder in _own_encoders(linear, relative=True):
        if encoder.model_path != ENCODER_FOLDER or not (folder / ENCODER_FOLDER).is_dir():
            raise ModelError(f"{folder}: the model's encoder folder is not {ENCODER_FOLDER}/")
        encoder.model_path = str(folder / ENCODER_FOLDER)
        try:
            encoder.load()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{folder}: cannot load its encoder ({exc})") from exc
    model = TopicModel(card, linear, scorer)
    _probe(model, folder)
    return model


def _own_encoders(linear: Classifier, relative: bool = False) -> list[Any]:
    """The sentence encoders of a classifier that read a folder of their own (a fine-tuned
    one) rather than the bundled model: with ``relative``, those a loaded model names
    relative to its version folder."""
    linears = [linear.first, linear.second] if isinstance(linear, CascadeModel) else [linear]
    found = []
    for part in (p for one in linears for p in one.parts):
        path = getattr(getattr(part, "transformer", None), "model_path", None)
        if isinstance(path, str) and Path(path).is_absolute() != relative:
            found.append(part.transformer)  # type: ignore[attr-defined]
    return found


PROBE = ("We use cookies on this site.", "Nine of twelve patients improved in the trial.")


def _probe(model: TopicModel, folder: Path) -> None:
    """Refuse a model whose parts do not fit together: it must label a small article
    with one finite probability per label for each paragraph, summing to one."""
    try:
        with np.errstate(all="ignore"):
            probs = model.predict_proba([PROBE])[0]
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ModelError(f"{folder}: the model cannot label an article ({exc})") from exc
    fine = probs.shape == (len(PROBE), len(model.labels)) and bool(np.isfinite(probs).all())
    if not fine or not np.allclose(probs.sum(axis=1), 1.0):
        raise ModelError(f"{folder}: the model gives unusable probabilities")
    scorer = model.scorer
    if scorer is not None and (
        np.shape(scorer.coef_)[:1] != (1,) or np.ndim(scorer.coef_) != 2
        or np.shape(scorer.intercept_) != (1,)
        or not _finite_weights(scorer.words)
    ):
        raise ModelError(f"{folder}: the summary scorer has the wrong shape")


def _finite_weights(words: object) -> bool:
    """Whether a scorer's word weights are absent or a mapping of words to finite numbers."""
    if words is None:
        return True
    return isinstance(words, dict) and all(
        isinstance(k, str) and isinstance(v, float) and math.isfinite(v) for k, v in words.items()
    )
