"""Paragraph features: wording, the wording of neighbours, and layout cues."""

from __future__ import annotations

import copy
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


@lru_cache(maxsize=8192)
def word_ngrams(text: str, max_n: int) -> tuple[str, ...]:
    """Lower-cased, accent-stripped word 1..max_n-grams of a text (remembered across calls)."""
    tokens = _TOKEN.findall(strip_accents_unicode(text.lower()))
    grams = list(tokens)
    for n in range(2, max_n + 1):
        grams.extend(map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False)))
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
        return self._with_context(self._tfidf([s.text for s in X]), X)

    def __getstate__(self) -> dict[str, Any]:
        """Persist the vocabulary as one array of terms, not a dict of thousands of entries:
        a model file then loads (and is audited by skops) in a fraction of the time."""
        state = dict(super().__getstate__())
        vectorizer = state.get("vectorizer_")
        if vectorizer is not None and getattr(vectorizer, "vocabulary_", None) is not None:
            vocabulary = vectorizer.vocabulary_
            state["terms_"] = np.array(sorted(vocabulary, key=vocabulary.__getitem__))
            vectorizer = copy.copy(vectorizer)
            vectorizer.vocabulary_ = {}
            state["vectorizer_"] = vectorizer
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        terms = state.pop("terms_", None)
        super().__setstate__(state)
        if terms is not None:
            self.vectorizer_.vocabulary_ = {str(t): i for i, t in enumerate(terms)}

    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        """What ``vectorizer_.transform`` gives (sublinear tf, idf, L2 rows), counted with
        plain dictionary look-ups: much faster on paragraphs full of unseen n-grams."""
        vocabulary = self.vectorizer_.vocabulary_
        idf = self.vectorizer_.idf_
        analyzer = self.vectorizer_.analyzer
        indptr, indices, values = [0], [], []
        for text in texts:
            counts: dict[int, int] = {}
            for gram in analyzer(text):
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            columns = sorted(counts)
            row = np.array([counts[c] for c in columns], dtype=np.float64)
            row = (np.log(row) + 1.0) * idf[columns]
            norm = np.sqrt(row @ row) if len(row) else 0.0
            indices.extend(columns)
            values.extend((row / norm if norm else row).tolist())
            indptr.append(len(indices))
        shape = (len(texts), len(idf))
        return sp.csr_matrix((np.array(values), np.array(indices, dtype=np.int32), indptr), shape)

    def _with_context(self, own: sp.csr_matrix, X: Sequence[Sample]) -> sp.csr_matrix:
        n = own.shape[0]
        if n == 0:
            return sp.hstack([own, own, own], format="csr")
        zero = sp.csr_matrix((1, own.shape[1]))
        has_prev = np.array([s.index > 0 and i > 0 for i, s in enumerate(X)], dtype=float)
        has_next = np.array([s.index < s.count - 1 and i + 1 < n for i, s in enumerate(X)], float)
        shifted_down = sp.vstack([zero, own[:-1]], format="csr")  # row i holds row i - 1
        shifted_up = sp.vstack([own[1:], zero], format="csr")  # row i holds row i + 1
        prev = sp.diags(has_prev * self.context_weight) @ shifted_down
        after = sp.diags(has_next * self.context_weight) @ shifted_up
        return sp.hstack([own, prev, after], format="csr")


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


@lru_cache(maxsize=8192)
def text_cues(text: str) -> tuple[float, ...]:
    """What a paragraph's text alone shows: length, case, digits, symbols, links, quotes.

    Remembered, since cross-validation asks for the same paragraph many times.
    """
    words = _WORD.findall(text)
    n_words = len(words)
    chars = max(len(text), 1)
    return (
        float(n_words),
        math.log1p(n_words),
        math.log1p(len(text)),
        float(bool(_TERMINAL.search(text))),
        sum(map(str.isupper, text)) / max(sum(map(str.isalpha, text)), 1),
        len(_DIGIT.findall(text)) / chars,
        len(_PUNCT.findall(text)) / chars,
        sum(w[:1].isupper() for w in words) / max(n_words, 1),
        float(bool(_URL.search(text))),
        float(n_words <= 4),
        float(text.rstrip().endswith("?")),
        float(":" in text[:40]),
        float(any(q in text for q in "\"“”")),
    )


def layout_vector(sample: Sample, prev_words: float, after_words: float) -> list[float]:
    """Layout cues of one paragraph: where it sits, how long it and its neighbours are,
    what it is made of (the order of LAYOUT_NAMES)."""
    _, *cues, quote = text_cues(sample.text)
    last = sample.count - 1
    # A lone paragraph has no position to speak of: give it neutral position cues.
    position = [sample.index / last, (last - sample.index) / last] if last else [0.5, 0.5]
    return [
        *position,
        float(sample.index == 0 and last > 0),
        float(sample.index == last and last > 0),
        *cues,
        math.log1p(prev_words),
        math.log1p(after_words),
        quote,
    ]


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
        words = [text_cues(s.text)[0] for s in X]
        rows = []
        for i, sample in enumerate(X):
            prev = words[i - 1] if sample.index > 0 and i > 0 else 0.0
            after = words[i + 1] if sample.index < sample.count - 1 and i + 1 < len(X) else 0.0
            if sample.count == 1:  # a lone paragraph: neither edge nor neighbours tell anything
                prev = after = words[i]
            rows.append(layout_vector(sample, prev, after))
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(LAYOUT_NAMES))
