"""A learned sentence scorer: which candidates editors pick, from reference summaries."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import repeat
from operator import itemgetter

import numpy as np

from medbrief.model import SentenceWeights
from medbrief.summary import (
    CUE_NAMES,
    TOPIC_PRIORITY,
    Candidate,
    Unit,
    candidates,
)

log = logging.getLogger(__name__)

# Labels whose editors' choices differ enough to get weights of their own.
INTERACTING = ("trial_results", "risks", "outlook")
_PLACE = (
    "first_in_paragraph", "sentence_in_paragraph", "first_paragraph_of_topic",
    "paragraph_in_topic", "sentence_in_topic", "article_position", "first_sentence",
)
_WEIGHT = ("log_length", "short", "relative_score", "score_vs_best")
_PER_TOPIC = (
    "first_in_paragraph", "paragraph_in_topic", "sentence_in_topic", "log_length",
    "topic_cues", "numbers", "percent", "relative_score", "hedges", "quoted",
    "outcome_words", "design_words", "comparison",
)
# Every cue but the lean on a previous sentence, which the summary penalises by rule.
_CUES = tuple(name for name in CUE_NAMES if name != "dangling")
# Wording that tells a measured outcome from a description of the study behind it.
OUTCOME_WORDS = frozenset(
    "reduced reduce reduces reducing fell fall dropped drop declined rose rise increased "
    "improved improvement improvements lowered lower higher doubled halved lost gained "
    "achieved met showed shrank shrinking cleared remained remain stayed free remission "
    "survival efficacy effective prevented cut slowed fewer".split()
)
DESIGN_WORDS = frozenset(
    "enrolled involved assigned randomised randomized recruited published journal sites "
    "aged designed ran run led conducted presented meeting company announced today "
    "developed founded based".split()
)
_COMPARE = re.compile(r"\b(?:compared|than|vs\.?|versus)\b", re.IGNORECASE)
_COMPARE_WORDS = ("compared", "than", "vs", "versus")
# A press release's dateline with the company's listing: "CITY, Date - Company (Nasdaq: X)".
_LISTING = re.compile(r"\((?:Nasdaq|NYSE|LSE|AIM|TSX|ASX|Euronext|OTC)[^)]*\)")
_WORDING = ("outcome_words", "design_words", "comparison", "listing")
FEATURE_NAMES = (
    *_PLACE, *_WEIGHT, *_CUES, *_WORDING, *(f"is_{label}" for label in TOPIC_PRIORITY),
    *(f"{label}:{name}" for label in INTERACTING for name in _PER_TOPIC),
)
N_FEATURES = len(FEATURE_NAMES)
_CUE_VALUES = itemgetter(*(CUE_NAMES.index(name) for name in _CUES))
# The features every candidate has, in FEATURE_NAMES order up to the topic's one-hot.
_COMMON_NAMES = (*_PLACE, *_WEIGHT, *_CUES, *_WORDING)
_COMMON = len(_COMMON_NAMES)
_PER_TOPIC_START = _COMMON + len(TOPIC_PRIORITY)
# Where each per-topic feature is found among the common ones.
_PER_TOPIC_COLUMNS = [_COMMON_NAMES.index(name) for name in _PER_TOPIC]


@lru_cache(maxsize=4096)
def _comparison_and_listing(text: str) -> tuple[float, float]:
    """Whether a sentence compares ("than", "versus") and whether it names a stock listing;
    the patterns run only where the words they need occur (remembered: every scoring pass
    of an article asks again)."""
    lowered = text.lower()
    compares = any(word in lowered for word in _COMPARE_WORDS) and _COMPARE.search(text)
    listed = "(" in text and _LISTING.search(text)
    return float(bool(compares)), float(bool(listed))


def sentence_features(
    pool: Sequence[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
) -> np.ndarray:
    """One row per candidate (named by FEATURE_NAMES): its place in its paragraph, its topic
    and the article, its length, its built-in score relative to its topic's best, its overlap
    with the article's opening, its paragraph's label confidence, its cues; then the features
    whose weight depends on the topic, once per default topic. With ``only``: the rows of
    the candidates at those places of ``pool``, in that order."""
    chosen = list(range(len(pool))) if only is None else list(only)
    last = max(len(pool) - 1, 1)
    best = max((c.score for c in pool), default=1.0) or 1.0
    topic_best: dict[str, float] = {}
    for c in pool:
        topic_best[c.topic] = max(topic_best.get(c.topic, 0.0), c.score)
    # Where each candidate sits, read in order: in its paragraph, its topic and the article.
    place: dict[int, tuple[float, ...]] = {}
    topic_sentences: dict[str, int] = {}
    topic_paragraphs: dict[str, tuple[int, int]] = {}  # topic -> (paragraphs seen, last one)
    previous = -1
    in_paragraph = 0
    reading = sorted(range(len(pool)), key=lambda i: (pool[i].paragraph, pool[i].start))
    for position, i in enumerate(reading):
        c = pool[i]
        in_paragraph = in_paragraph + 1 if previous == c.paragraph else 0
        previous = c.paragraph
        seen, last_paragraph = topic_paragraphs.get(c.topic, (0, -1))
        if last_paragraph != c.paragraph:
            seen += 1
            topic_paragraphs[c.topic] = (seen, c.paragraph)
        sentence_in_topic = topic_sentences.get(c.topic, 0)
        topic_sentences[c.topic] = sentence_in_topic + 1
        place[i] = (
            float(in_paragraph == 0), math.log1p(in_paragraph), float(seen == 1),
            math.log1p(seen - 1), math.log1p(sentence_in_topic), position / last,
            float(position == 0),
        )
    rows = []
    for i in chosen:
        c = pool[i]
        relative = c.score / (topic_best[c.topic] or 1.0)
        rows.append((
            *place[i], math.log(max(c.length, 1)), float(c.length < 12), relative,
            c.score / best, *_CUE_VALUES(c.cues),
            float(min(len(OUTCOME_WORDS & c.words), 3)),
            float(min(len(DESIGN_WORDS & c.words), 3)), *_comparison_and_listing(c.text),
        ))
    common = np.asarray(rows, dtype=np.float64).reshape(len(rows), _COMMON)
    X = np.zeros((len(rows), N_FEATURES))
    X[:, :_COMMON] = common
    topics = [pool[i].topic for i in chosen]
    for k, topic in enumerate(TOPIC_PRIORITY):
        X[:, _COMMON + k] = [t == topic for t in topics]
    for k, topic in enumerate(INTERACTING):
        mine = np.array([t == topic for t in topics], dtype=bool)
        start = _PER_TOPIC_START + k * len(_PER_TOPIC)
        X[mine, start : start + len(_PER_TOPIC)] = common[mine][:, _PER_TOPIC_COLUMNS]
    return X


def word_tokens(c: Candidate) -> list[str]:
    """The words the scorer weighs in a candidate: each content word, plain and under the
    topic the candidate competes for ("risks:infection")."""
    return [*c.words, *(f"{c.topic}:{word}" for word in c.words)]


class SentenceScorer:
    """Rescores candidates with a fitted logistic regression's probability of being picked."""

    def __init__(self, weights: SentenceWeights) -> None:
        self.weights = weights
        self.usable = np.shape(weights.coef_) == (1, N_FEATURES)
        if not self.usable:
            log.warning(
                "summary scorer expects %d features, this version builds %d: using the "
                "built-in sentence scores (retrain the model)",
                np.shape(weights.coef_)[-1], N_FEATURES,
            )
        # Each word's weight in a candidate of each topic (plain and under the topic added
        # up), so that a candidate's words are looked up once each, without building strings.
        self._plain: dict[str, float] = {}
        by_topic: dict[str, dict[str, float]] = {}
        for token, weight in (weights.words or {}).items():
            topic, _, word = token.rpartition(":")
            (by_topic.setdefault(topic, {}) if topic else self._plain)[word] = weight
        self._by_topic = {
            topic: {word: self._plain.get(word, 0.0) + topical.get(word, 0.0)
                    for word in self._plain.keys() | topical.keys()}
            for topic, topical in by_topic.items()
        }

    def _weights_of(self, c: Candidate) -> dict[str, float]:
        """The word weights that apply to a candidate: those of the topic it competes for."""
        return self._by_topic.get(c.topic, self._plain)

    def word_weights(self, c: Candidate) -> dict[str, float]:
        """Each of the candidate's content words with its weight (plain and under its
        topic together), for those the scorer learnt."""
        weights = self._weights_of(c)
        return {word: weights[word] for word in c.words if weights.get(word)}

    def logits(
        self, pool: list[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
    ) -> np.ndarray:
        """The logistic regression's logit of each candidate (of those at ``only``)."""
        logits = sentence_features(pool, units, only) @ self.weights.coef_[0]
        if self._plain or self._by_topic:
            chosen = pool if only is None else [pool[i] for i in only]
            logits += [
                sum(map(self._weights_of(c).get, c.words, repeat(0.0)))
                for c in chosen
            ]
        return logits + self.weights.intercept_[0]  # type: ignore[no-any-return]

    def __call__(
        self, pool: list[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
    ) -> list[float]:
        if not self.usable:
            return [pool[i].score for i in only] if only is not None else [c.score for c in pool]
        # The logistic regression's probability, as predict_proba would give it.
        return (1.0 / (1.0 + np.exp(-self.logits(pool, units, only)))).tolist()  # type: ignore[no-any-return]


def sentence_cues_shares(
    scorer: SentenceScorer | None, pool: list[Candidate], units: Sequence[Unit],
    chosen: Sequence[int], top: int = 5,
) -> list[dict[str, float]]:
    """What chose each of the candidates at ``chosen``: the largest shares of the learned
    scorer's logit (feature value times weight; a word's weight as ``word:<word>``), or
    without one, the built-in cues that are not zero."""
    if scorer is None or not scorer.usable or not chosen:
        return [
            {name: float(value) for name, value in zip(CUE_NAMES, pool[i].cues, strict=True)
             if value}
            for i in chosen
        ]
    shares = sentence_features(pool, units, chosen) * scorer.weights.coef_[0]
    out = []
    for i, row in zip(chosen, shares, strict=True):
        named = {name: float(share) for name, share in zip(FEATURE_NAMES, row, strict=True)}
        named.update(
            (f"word:{word}", weight) for word, weight in scorer.word_weights(pool[i]).items()
        )
        largest = sorted(named.items(), key=lambda item: -abs(item[1]))[:top]
        out.append({name: share for name, share in largest if share})
    return out


# A word is weighed when at least this many training candidates hold it.
MIN_WORD_COUNT = 3


def fit_scorer(
    articles: Sequence[tuple[Sequence[Unit], Sequence[str]]], C: float = 0.05
) -> SentenceWeights | None:
    """Fit on (paragraph units, reference sentences) pairs; None when nothing was matched.
    The sentence features and the candidates' words (``word_tokens``) are weighed together."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    X: list[np.ndarray] = []
    tokens: list[list[str]] = []
    y: list[bool] = []
    for units, references in articles:
        pool = candidates(units)
        wanted = {tuple(r.split()) for r in references}
        if not pool:
            continue
        X.append(sentence_features(pool, units))
        tokens.extend(map(word_tokens, pool))
        y.extend(tuple(c.text.split()) in wanted for c in pool)
    if not X or len(set(y)) < 2:
        return None
    # The features are standardised so that one penalty suits them all (and folded back
    # below, so that the coefficients apply to the raw features); words count 0 or 1.
    raw = np.vstack(X)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale == 0] = 1.0
    vectorizer = CountVectorizer(analyzer=list, min_df=MIN_WORD_COUNT, binary=True)
    try:
        words = vectorizer.fit_transform(tokens)
    except ValueError:  # no word is common enough
        words = sparse.csr_matrix((len(tokens), 0))
    Z = sparse.hstack([sparse.csr_matrix((raw - mean) / scale), words]).tocsr()
    classifier = LogisticRegression(C=C, max_iter=2000).fit(Z, np.asarray(y))
    coef = classifier.coef_[:, :N_FEATURES] / scale
    vocabulary = vectorizer.vocabulary_ if words.shape[1] else {}
    return SentenceWeights(
        coef_=coef,
        intercept_=classifier.intercept_ - coef @ mean,
        words={
            token: float(classifier.coef_[0, N_FEATURES + column])
            for token, column in sorted(vocabulary.items())
        },
    )
