"""A learned sentence scorer: which candidates editors pick, from reference summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from medbrief.summary import TOPIC_PRIORITY, Candidate, Unit, candidates

CUE_NAMES = tuple(Candidate(0, 0, "", "", 0.0, frozenset(), 0).cues())


def sentence_features(pool: Sequence[Candidate]) -> np.ndarray:
    """One row per candidate: place in its topic and article, cues, relative built-in score."""
    in_reading_order = sorted(pool, key=lambda c: (c.paragraph, c.start))
    position = {id(c): i for i, c in enumerate(in_reading_order)}
    best = max((c.score for c in pool), default=1.0) or 1.0
    rows = []
    for c in pool:
        same = [o for o in in_reading_order if o.label == c.label]
        topic_best = max(o.score for o in same) or 1.0
        rank_in_topic = next(i for i, o in enumerate(same) if o is c)
        rows.append(
            [
                math.log1p(rank_in_topic),
                position[id(c)] / max(len(pool) - 1, 1),
                math.log(max(c.length, 1)),
                c.score / topic_best,
                c.score / best,
                *c.cues().values(),
                *(float(c.label == label) for label in TOPIC_PRIORITY),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), 5 + len(CUE_NAMES) + 4)


class SentenceScorer:
    """Rescores candidates with a fitted classifier's probability of being picked."""

    def __init__(self, classifier: LogisticRegression) -> None:
        self.classifier = classifier

    def __call__(self, pool: list[Candidate]) -> list[float]:
        return [float(p) for p in self.classifier.predict_proba(sentence_features(pool))[:, 1]]


def fit_scorer(
    articles: Sequence[tuple[Sequence[Unit], Sequence[str]]], C: float = 0.5
) -> LogisticRegression | None:
    """Fit on (paragraph units, reference sentences) pairs; None when nothing was matched."""
    X: list[np.ndarray] = []
    y: list[bool] = []
    for units, references in articles:
        pool = candidates(units)
        wanted = {tuple(r.split()) for r in references}
        if not pool:
            continue
        X.append(sentence_features(pool))
        y.extend(tuple(c.text.split()) in wanted for c in pool)
    if not X or len(set(y)) < 2:
        return None
    return LogisticRegression(C=C, max_iter=2000).fit(np.vstack(X), np.asarray(y))
