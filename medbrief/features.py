"""Paragraph features: wording, the wording of neighbours, and layout cues."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer, strip_accents_unicode


@dataclass(frozen=True)
class Sample:
    """One paragraph with its place in the article; samples of an article stay contiguous."""

    text: str
    index: int
    count: int


def samples(texts: Sequence[str]) -> list[Sample]:
    """The samples of one article's paragraphs, in reading order."""
    return [Sample(text, i, len(texts)) for i, text in enumerate(texts)]


_TOKEN = re.compile(r"(?u)\b\w[\w'’-]*\b")


@lru_cache(maxsize=200_000)
def word_ngrams(text: str, max_n: int) -> tuple[str, ...]:
    """Lower-cased, accent-stripped word 1..max_n-grams of a text (remembered across calls)."""
    tokens = _TOKEN.findall(strip_accents_unicode(text.lower()))
    grams = list(tokens)
    for n in range(2, max_n + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return tuple(grams)


class NGrams:
    """A picklable analyzer for TfidfVectorizer: word n-grams up to ``max_n``."""

    def __init__(self, max_n: int = 2) -> None:
        self.max_n = max_n

    def __call__(self, text: str) -> tuple[str, ...]:
        return word_ngrams(text, self.max_n)


class ContextTfidf(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """TF-IDF of each paragraph beside the (down-weighted) TF-IDF of its neighbours."""

    def __init__(
        self,
        context_weight: float = 0.5,
        max_n: int = 2,
        min_df: int = 1,
        max_features: int | None = 30000,
    ) -> None:
        self.context_weight = context_weight
        self.max_n = max_n
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X: Sequence[Sample], y: Any = None) -> ContextTfidf:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Sequence[Sample], y: Any = None, **_: Any) -> sp.csr_matrix:
        self.vectorizer_ = TfidfVectorizer(
            analyzer=NGrams(self.max_n),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=True,
        )
        own = self.vectorizer_.fit_transform([s.text for s in X]).tocsr()
        return self._with_context(own, X)

    def transform(self, X: Sequence[Sample]) -> sp.csr_matrix:
        return self._with_context(self.vectorizer_.transform([s.text for s in X]).tocsr(), X)

    def _with_context(self, own: sp.csr_matrix, X: Sequence[Sample]) -> sp.csr_matrix:
        n = own.shape[0]
        prev_rows = [i - 1 if s.index > 0 and i > 0 else -1 for i, s in enumerate(X)]
        next_rows = [i + 1 if s.index < s.count - 1 and i + 1 < n else -1 for i, s in enumerate(X)]
        prev = _pick_rows(own, prev_rows) * self.context_weight
        after = _pick_rows(own, next_rows) * self.context_weight
        return sp.hstack([own, prev, after], format="csr")


def _pick_rows(matrix: sp.csr_matrix, rows: list[int]) -> sp.csr_matrix:
    """Rows of ``matrix`` by index, with -1 giving an empty row."""
    valid = np.array([r >= 0 for r in rows])
    selector = sp.csr_matrix(
        (np.ones(int(valid.sum())), (np.flatnonzero(valid), [r for r in rows if r >= 0])),
        shape=(len(rows), matrix.shape[0]),
    )
    return (selector @ matrix).tocsr()


_URL = re.compile(r"https?://|www\.|\.com\b|\.org\b|@\w")
_TERMINAL = re.compile(r"[.!?]['\"”’)]*$")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"[|•·/\\©®™*#>_=+]")
_WORD = re.compile(r"\w+")

LAYOUT_NAMES = (
    "position", "from_end", "first", "last", "log_words", "log_chars", "sentence_end",
    "upper_share", "digit_share", "symbol_share", "title_share", "url", "short",
    "question", "colon", "prev_log_words", "next_log_words", "quote",
)  # fmt: skip


def layout_vector(sample: Sample, prev: str, after: str) -> list[float]:
    """Layout cues of one paragraph: where it sits, how long it is, what it is made of."""
    text = sample.text
    words = _WORD.findall(text)
    n_words = len(words)
    letters = [c for c in text if c.isalpha()] or [""]
    chars = max(len(text), 1)
    last = sample.count - 1
    # A lone paragraph has no position to speak of: give it neutral position cues.
    position = [sample.index / last, (last - sample.index) / last] if last else [0.5, 0.5]
    return [
        *position,
        float(sample.index == 0 and last > 0),
        float(sample.index == last and last > 0),
        math.log1p(n_words),
        math.log1p(len(text)),
        float(bool(_TERMINAL.search(text))),
        sum(c.isupper() for c in letters) / len(letters),
        len(_DIGIT.findall(text)) / chars,
        len(_PUNCT.findall(text)) / chars,
        sum(w[:1].isupper() for w in words) / max(n_words, 1),
        float(bool(_URL.search(text))),
        float(n_words <= 4),
        float(text.rstrip().endswith("?")),
        float(":" in text[:40]),
        math.log1p(len(_WORD.findall(prev))),
        math.log1p(len(_WORD.findall(after))),
        float(any(q in text for q in "\"“”")),
    ]


@lru_cache(maxsize=65536)
def _cached_layout(sample: Sample, prev: str, after: str) -> tuple[float, ...]:
    """Layout cues, remembered: cross-validation asks for the same paragraph many times."""
    return tuple(layout_vector(sample, prev, after))


class LayoutFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Scaled layout cues of each paragraph (position, length, punctuation, neighbours)."""

    def fit(self, X: Sequence[Sample], y: Any = None) -> LayoutFeatures:
        raw = self._raw(X)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = raw.std(axis=0) + 1e-6
        return self

    def transform(self, X: Sequence[Sample]) -> sp.csr_matrix:
        return sp.csr_matrix((self._raw(X) - self.mean_) / self.scale_)

    @staticmethod
    def _raw(X: Sequence[Sample]) -> np.ndarray:
        rows = []
        for i, sample in enumerate(X):
            prev = X[i - 1].text if sample.index > 0 and i > 0 else ""
            after = X[i + 1].text if sample.index < sample.count - 1 and i + 1 < len(X) else ""
            if sample.count == 1:  # a lone paragraph: neither edge nor neighbours tell anything
                prev = after = sample.text
            rows.append(_cached_layout(sample, prev, after))
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(LAYOUT_NAMES))
