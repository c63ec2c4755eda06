"""A learned sentence scorer: which candidates editors pick, from reference summaries."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from medbrief.summary import (
    _WORD,
    CUE_NAMES,
    STOPWORDS,
    TOPIC_PRIORITY,
    Candidate,
    Unit,
    candidates,
)

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
    topic_best: dict[str, float] = {}
    topic_paragraphs: dict[str, list[int]] = {}
    rank_in_topic: dict[int, int] = {}
    in_paragraph: dict[int, int] = {}
    seen: Counter[str] = Counter()
    for i, c in enumerate(in_reading_order):
        topic_best[c.label] = max(topic_best.get(c.label, 0.0), c.score)
        rank_in_topic[id(c)] = seen[c.label]
        seen[c.label] += 1
        paragraphs = topic_paragraphs.setdefault(c.label, [])
        if not paragraphs or paragraphs[-1] != c.paragraph:
            paragraphs.append(c.paragraph)
        previous = in_reading_order[i - 1] if i else c
        follows = previous is not c and previous.paragraph == c.paragraph
        in_paragraph[id(c)] = in_paragraph[id(previous)] + 1 if follows else 0
    rows = []
    for c in pool:
        rows.append(
            [
                math.log1p(rank_in_topic[id(c)]),
                math.log1p(topic_paragraphs[c.label].index(c.paragraph)),
                math.log1p(in_paragraph[id(c)]),
                position[id(c)] / max(len(pool) - 1, 1),
                math.log(max(c.length, 1)),
                c.score / (topic_best[c.label] or 1.0),
                c.score / best,
                len(c.words & opening) / max(len(c.words), 1),
                float(" said" in c.text or " says" in c.text),
                *c.cues.values(),
                *(float(c.label == label) for label in TOPIC_PRIORITY),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), N_FEATURES)


class SentenceScorer:
    """Rescores candidates with a fitted classifier's probability of being picked."""

    def __init__(self, classifier: LogisticRegression) -> None:
        self.classifier = classifier

    def __call__(self, pool: list[Candidate], units: Sequence[Unit]) -> list[float]:
        # The logistic regression's probability, computed directly: the same number as
        # predict_proba without its per-call input checks.
        logits = sentence_features(pool, units) @ self.classifier.coef_[0]
        return expit(logits + self.classifier.intercept_[0]).tolist()  # type: ignore[no-any-return]


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
