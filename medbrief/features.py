"""Paragraph features: wording, the wording of neighbours, and layout cues."""

from __future__ import annotations

import copy
import math
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class Sample:
    """One paragraph with its place in the article; samples of an article stay contiguous."""

    text: str
    index: int
    count: int


def samples(texts: Sequence[str]) -> list[Sample]:
    """The samples of one article's paragraphs, in reading order."""
    return [Sample(text, i, len(texts)) for i, text in enumerate(texts)]


Projection = Callable[[Sequence[Sample]], np.ndarray]

_TOKEN = re.compile(r"(?u)\b\w[\w'’-]*\b")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode`` (NFKD, combining marks dropped), with the
    per-character test confined to the few non-ASCII characters."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_drop_combining, unicodedata.normalize("NFKD", text))


def _drop_combining(match: re.Match[str]) -> str:
    return "" if unicodedata.combining(match.group()) else match.group()


@lru_cache(maxsize=8192)
def word_ngrams(text: str, max_n: int) -> tuple[str, ...]:
    """Lower-cased, accent-stripped word 1..max_n-grams of a text (remembered across calls)."""
    tokens = _TOKEN.findall(strip_accents(text.lower()))
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
        a model file then saves and loads in a fraction of the time."""
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

    def feature_width(self) -> int:
        """Columns of ``transform``'s output: own, previous and next TF-IDF side by side."""
        return 3 * len(self.vectorizer_.idf_)

    def projector(self, weights: np.ndarray) -> Projection:
        """A function giving ``transform(X) @ weights`` without building the wide matrix:
        each paragraph's TF-IDF meets the three row blocks of ``weights`` (own, previous,
        next) in one product, and the neighbours' parts are shifted into place."""
        width, k = len(self.vectorizer_.idf_), weights.shape[1]
        blocks = np.hstack([weights[:width], weights[width : 2 * width], weights[2 * width :]])

        def project(X: Sequence[Sample]) -> np.ndarray:
            parts = np.asarray(self._tfidf([s.text for s in X]) @ blocks)
            has_prev, has_next = self._neighbours(X)
            out = parts[:, :k].copy()
            out[1:] += has_prev[1:, None] * parts[:-1, k : 2 * k]
            out[:-1] += has_next[:-1, None] * parts[1:, 2 * k :]
            return out

        return project

    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        """What ``vectorizer_.transform`` gives (sublinear tf, idf, L2 rows), counted with
        plain dictionary look-ups and one vectorised pass over the whole batch."""
        lookup = self.vectorizer_.vocabulary_.get
        analyzer = self.vectorizer_.analyzer
        idf = self.vectorizer_.idf_
        columns: list[int] = []
        lengths: list[int] = []
        for text in texts:
            found = [c for c in map(lookup, analyzer(text)) if c is not None]
            columns.extend(found)
            lengths.append(len(found))
        n, width = len(texts), len(idf)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys, counts = np.unique(rows * width + np.asarray(columns, np.int64), return_counts=True)
        rows, cols = np.divmod(keys, width)
        values = (np.log(counts) + 1.0) * idf[cols]
        norms = np.sqrt(np.bincount(rows, values * values, minlength=n))
        values /= norms[rows]  # a row with any known n-gram has a positive norm
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return sp.csr_matrix((values, cols.astype(np.int32), indptr), shape=(n, width))

    def _neighbours(self, X: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the weight of the previous and of the next paragraph of the same article."""
        n = len(X)
        has_prev = [s.index > 0 and i > 0 for i, s in enumerate(X)]
        has_next = [s.index < s.count - 1 and i + 1 < n for i, s in enumerate(X)]
        weight = self.context_weight
        return np.array(has_prev, float) * weight, np.array(has_next, float) * weight

    def _with_context(self, own: sp.csr_matrix, X: Sequence[Sample]) -> sp.csr_matrix:
        n = own.shape[0]
        if n == 0:
            return sp.hstack([own, own, own], format="csr")
        zero = sp.csr_matrix((1, own.shape[1]))
        has_prev, has_next = self._neighbours(X)
        shifted_down = sp.vstack([zero, own[:-1]], format="csr")  # row i holds row i - 1
        shifted_up = sp.vstack([own[1:], zero], format="csr")  # row i holds row i + 1
        prev = sp.diags(has_prev) @ shifted_down
        after = sp.diags(has_next) @ shifted_up
        return sp.hstack([own, prev, after], format="csr")


_URL = re.compile(r"https?://|www\.|\.com\b|\.org\b|@\w")
_TERMINAL = re.compile(r"[.!?]['\"”’)]*$")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"[|•·/\\©®™*#>_=+]")
_WORD_START = re.compile(r"\b\w")  # the first character of every run of word characters
_ASCII_UPPER = string.ascii_uppercase.encode()
_ASCII_LETTERS = string.ascii_letters.encode()

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
    initials = _WORD_START.findall(text)
    n_words = len(initials)
    chars = max(len(text), 1)
    return (
        float(n_words),
        math.log1p(n_words),
        math.log1p(len(text)),
        float(bool(_TERMINAL.search(text))),
        _upper_share(text),
        len(_DIGIT.findall(text)) / chars,
        len(_PUNCT.findall(text)) / chars,
        sum(map(str.isupper, initials)) / max(n_words, 1),
        float(bool(_URL.search(text))),
        float(n_words <= 4),
        float(text.rstrip().endswith("?")),
        float(":" in text[:40]),
        float(any(q in text for q in "\"“”")),
    )


def _upper_share(text: str) -> float:
    """Upper-case letters among letters, as ``str.isupper``/``str.isalpha`` count them:
    the ASCII part by deleting bytes, the few other characters one by one."""
    ascii_part = text.encode("ascii", "ignore")
    upper = len(ascii_part) - len(ascii_part.translate(None, _ASCII_UPPER))
    letters = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    if len(ascii_part) < len(text):
        others = _NON_ASCII.findall(text)
        upper += sum(map(str.isupper, others))
        letters += sum(map(str.isalpha, others))
    return upper / max(letters, 1)


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

    def feature_width(self) -> int:
        return len(LAYOUT_NAMES)

    def projector(self, weights: np.ndarray) -> Projection:
        """A function giving ``transform(X) @ weights``, the scaling folded into the weights."""
        scaled = weights / self.scale_[:, None]
        bias = -(self.mean_ / self.scale_) @ weights

        def project(X: Sequence[Sample]) -> np.ndarray:
            return np.asarray(self._raw(X) @ scaled + bias)

        return project

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
