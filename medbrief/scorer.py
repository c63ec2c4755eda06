"""A learned sentence scorer: which candidates editors pick, from reference summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from medbrief.summary import _WORD, STOPWORDS, TOPIC_PRIORITY, Candidate, Unit, candidates

CUE_NAMES = tuple(Candidate(0, 0, "", "", 0.0, frozenset(), 0).cues())
N_FEATURES = 9 + len(CUE_NAMES) + len(TOPIC_PRIORITY)


def sentence_features(pool: Sequence[Candidate], units: Sequence[Unit]) -> np.ndarray:
    """One row per candidate: its place in the article and topic, its cues, its built-in
    score relative to the best, and how much it shares with the article's opening."""
    in_reading_order = sorted(pool, key=lambda c: (c.paragraph, c.start))
    position = {id(c): i for i, c in enumerate(in_reading_order)}
    best = max((c.score for c in pool), default=1.0) or 1.0
    opening = {
        w for u in units[:2] for w in _WORD.findall(u.text.lower()) if w not in STOPWORDS
    }
    rows = []
    for c in pool:
        same = [o for o in in_reading_order if o.label == c.label]
        topic_best = max(o.score for o in same) or 1.0
        rank_in_topic = next(i for i, o in enumerate(same) if o is c)
        topic_paragraphs = sorted({o.paragraph for o in same})
        in_paragraph = sum(1 for o in pool if o.paragraph == c.paragraph and o.start < c.start)
        rows.append(
            [
                math.log1p(rank_in_topic),
                math.log1p(topic_paragraphs.index(c.paragraph)),
                math.log1p(in_paragraph),
                position[id(c)] / max(len(pool) - 1, 1),
                math.log(max(c.length, 1)),
                c.score / topic_best,
                c.score / best,
                len(c.words & opening) / max(len(c.words), 1),
                float(" said" in c.text or " says" in c.text),
                *c.cues().values(),
                *(float(c.label == label) for label in TOPIC_PRIORITY),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), N_FEATURES)


class SentenceScorer:
    """Rescores candidates with a fitted classifier's probability of being picked."""

    def __init__(self, classifier: LogisticRegression) -> None:
        self.classifier = classifier

    def __call__(self, pool: list[Candidate], units: Sequence[Unit]) -> list[float]:
        features = sentence_features(pool, units)
        return [float(p) for p in self.classifier.predict_proba(features)[:, 1]]


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
        X.append(sentence_features(pool, units))
        y.extend(tuple(c.text.split()) in wanted for c in pool)
    if not X or len(set(y)) < 2:
        return None
    return LogisticRegression(C=C, max_iter=2000).fit(np.vstack(X), np.asarray(y))
