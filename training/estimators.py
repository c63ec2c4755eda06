"""The feature steps of the training pipeline, as scikit-learn transformers.

They compute what ``medbrief.features`` defines, learn its vocabulary, idf and scaling,
and hand the fitted result over as the parts a saved model scores with (``part``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from medbrief.features import (
    LAYOUT_NAMES,
    LayoutPart,
    Sample,
    TfidfPart,
    layout_rows,
    neighbour_weights,
    tfidf_matrix,
    word_ngrams,
)


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
        vectorizer = self.vectorizer_
        own = tfidf_matrix(
            [s.text for s in X], vectorizer.vocabulary_, vectorizer.idf_, self.max_n
        )
        return self._with_context(own, X)

    def part(self, weights: np.ndarray) -> TfidfPart:
        """The fitted step with its rows of the classifier's weights (own, previous, next)."""
        vocabulary = self.vectorizer_.vocabulary_
        width = len(vocabulary)
        return TfidfPart(
            terms=np.array(sorted(vocabulary, key=vocabulary.__getitem__)),
            idf=np.asarray(self.vectorizer_.idf_, dtype=np.float64),
            blocks=np.hstack([weights[:width], weights[width : 2 * width], weights[2 * width :]]),
            context_weight=self.context_weight,
            max_n=self.max_n,
        )

    def feature_width(self) -> int:
        """Columns of ``transform``'s output: own, previous and next TF-IDF side by side."""
        return 3 * len(self.vectorizer_.idf_)

    def _with_context(self, own: sp.csr_matrix, X: Sequence[Sample]) -> sp.csr_matrix:
        n = own.shape[0]
        if n == 0:
            return sp.hstack([own, own, own], format="csr")
        zero = sp.csr_matrix((1, own.shape[1]))
        has_prev, has_next = neighbour_weights(X, self.context_weight)
        shifted_down = sp.vstack([zero, own[:-1]], format="csr")  # row i holds row i - 1
        shifted_up = sp.vstack([own[1:], zero], format="csr")  # row i holds row i + 1
        prev = sp.diags(has_prev) @ shifted_down
        after = sp.diags(has_next) @ shifted_up
        return sp.hstack([own, prev, after], format="csr")


class LayoutFeatures(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Scaled layout cues of each paragraph (position, length, punctuation, neighbours)."""

    def fit(self, X: Sequence[Sample], y: Any = None) -> LayoutFeatures:
        raw = layout_rows(X)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = raw.std(axis=0) + 1e-6
        return self

    def transform(self, X: Sequence[Sample]) -> sp.csr_matrix:
        return sp.csr_matrix((layout_rows(X) - self.mean_) / self.scale_)

    def part(self, weights: np.ndarray) -> LayoutPart:
        """The fitted step with its rows of the weights, the scaling folded into them."""
        return LayoutPart(
            scaled=weights / self.scale_[:, None], bias=-(self.mean_ / self.scale_) @ weights,
            center=self.mean_,
        )

    def feature_width(self) -> int:
        return len(LAYOUT_NAMES)
