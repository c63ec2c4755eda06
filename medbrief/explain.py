"""Why a paragraph got its label: every feature's share of every label's logit.

The classifier is linear: a label's logit is its intercept plus, for each feature, the
feature's value times its weight. So the shares here are exact and add up to the logit:
the words of the paragraph (``word:``), the words of the paragraphs before and after it
(``previous:``, ``next:``, down-weighted), the layout cues measured from their training
means (``layout:``), and for a model
with the sentence encoder, the embeddings as one share (``encoder``). The probabilities a
record shows are the logistic of these logits, normalised over the labels, then
calibrated. A cascade is explained by its first (light) stage.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medbrief.features import LAYOUT_NAMES, LayoutPart, Sample, TfidfPart, layout_rows
from medbrief.model import CascadeModel, Classifier, LinearModel
from medbrief.record import Contribution, LabelExplanation

TOP = 8  # features shown per label; the others are summed into ``rest``


def explain(
    classifier: Classifier, X: Sequence[Sample], top: int = TOP
) -> list[dict[str, LabelExplanation]]:
    """For each paragraph of ``X`` (an article's samples, in order), each label's logit
    split into its base (intercept and constant terms) and its features' shares."""
    linear = classifier.first if isinstance(classifier, CascadeModel) else classifier
    shares: list[list[dict[str, float]]] = [[{} for _ in linear.labels] for _ in X]
    base = np.tile(np.asarray(linear.intercepts, dtype=np.float64), (len(X), 1))
    for part in linear.parts:
        if isinstance(part, TfidfPart):
            _words(part, X, shares)
        elif isinstance(part, LayoutPart):
            center = getattr(part, "center", None)  # absent from models saved before it
            _layout(part, X, shares, center)
            base += part.bias if center is None else part.bias + center @ part.scaled
        else:  # the sentence encoder: its dimensions mean nothing one by one
            values = np.asarray(part(X))
            for i, row in enumerate(values):
                for k, value in enumerate(row):
                    shares[i][k]["encoder"] = float(value)
    return [
        {label: _summary(float(base[i, k]), shares[i][k], top)
         for k, label in enumerate(linear.labels)}
        for i in range(len(X))
    ]


def _summary(base: float, shares: dict[str, float], top: int) -> LabelExplanation:
    ranked = sorted(shares.items(), key=lambda kv: -abs(kv[1]))
    shown = [Contribution(feature=name, value=value) for name, value in ranked[:top]]
    rest = float(sum(value for _, value in ranked[top:]))
    logit = base + float(sum(shares.values()))
    return LabelExplanation(logit=logit, base=base, features=shown, rest=rest)


def _words(part: TfidfPart, X: Sequence[Sample], shares: list[list[dict[str, float]]]) -> None:
    """Each term's share: its TF-IDF in the paragraph times its weight, and its TF-IDF in
    each neighbour times the neighbour weight."""
    values, columns, indptr = part.entries([s.text for s in X])
    k = part.blocks.shape[1] // 3
    from medbrief.features import neighbour_weights

    has_prev, has_next = neighbour_weights(X, part.context_weight)
    for i in range(len(X)):
        for row, prefix, offset, weight in (
            (i, "word", 0, 1.0),
            (i - 1, "previous", k, has_prev[i] if i > 0 else 0.0),
            (i + 1, "next", 2 * k, has_next[i] if i + 1 < len(X) else 0.0),
        ):
            if weight == 0.0:
                continue
            span = slice(indptr[row], indptr[row + 1])
            for value, column in zip(values[span], columns[span], strict=True):
                term = f"{prefix}:{part.terms[column]}"
                contribution = weight * value * part.blocks[column, offset : offset + k]
                for label, amount in enumerate(contribution):
                    target = shares[i][label]
                    target[term] = target.get(term, 0.0) + float(amount)


def _layout(
    part: LayoutPart, X: Sequence[Sample], shares: list[list[dict[str, float]]],
    center: np.ndarray | None,
) -> None:
    """Each cue's share: its distance from its training mean (or its raw value, for a
    model that did not keep the means) times its weight."""
    rows = layout_rows(X) if center is None else layout_rows(X) - center
    for i, row in enumerate(rows):
        contributions = row[:, None] * part.scaled  # cue x label
        for j, name in enumerate(LAYOUT_NAMES):
            for label in range(contributions.shape[1]):
                shares[i][label][f"layout:{name}"] = float(contributions[j, label])


def logits(classifier: Classifier, X: Sequence[Sample]) -> np.ndarray:
    """Each label's logit for each paragraph, as the classifier computes it (the quantity
    ``explain`` splits up)."""
    linear: LinearModel = classifier.first if isinstance(classifier, CascadeModel) else classifier
    return np.asarray(linear.intercepts + sum(part(X) for part in linear.parts))
