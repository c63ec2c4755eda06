"""Paragraph features: wording, the wording of neighbours, and layout cues.

The functions here say what the features are; ``TfidfPart`` and ``LayoutPart`` are their
fitted forms that a saved model holds, each scoring a batch of paragraphs straight against
its rows of the classifier's weights. Fitting them is training's business
(``training/estimators.py``); nothing here needs scikit-learn.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Sample:
    """One paragraph with its place in the article; samples of an article stay contiguous."""

    text: str
    index: int
    count: int


def samples(texts: Sequence[str]) -> list[Sample]:
    """The samples of one article's paragraphs, in reading order."""
    return [Sample(text, i, len(texts)) for i, text in enumerate(texts)]


# A word: word characters, inner apostrophes and hyphens. Its start needs no \b, as findall
# resumes after a token's end, always before a non-word character.
_TOKEN = re.compile(r"\w[\w'’-]*\b")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode`` (NFKD, combining marks dropped), with the
    per-character test confined to the few non-ASCII characters."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_drop_combining, unicodedata.normalize("NFKD", text))


def _drop_combining(match: re.Match[str]) -> str:
    return "" if unicodedata.combining(match.group()) else match.group()


@lru_cache(maxsize=2048)
def word_tokens(text: str) -> tuple[str, ...]:
    """A paragraph's words as written: runs of word characters, inner apostrophes and
    hyphens kept (remembered across calls: the word and layout features both ask)."""
    return tuple(_TOKEN.findall(text))


@lru_cache(maxsize=2048)
def word_unigrams(text: str) -> tuple[str, ...]:
    """A text's words lower-cased and accent-stripped (remembered across calls)."""
    return tuple(strip_accents(" ".join(word_tokens(text)).lower()).split())


@lru_cache(maxsize=2048)
def word_ngrams(text: str, max_n: int) -> tuple[str, ...]:
    """Lower-cased, accent-stripped word 1..max_n-grams of a text (remembered across calls)."""
    tokens = word_unigrams(text)
    grams = list(tokens)
    for n in range(2, max_n + 1):
        grams.extend(map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False)))
    return tuple(grams)


def tfidf_entries(
    texts: Sequence[str], vocabulary: dict[str, int], idf: np.ndarray, max_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero sublinear-tf TF-IDF values of every text with unit L2 norm per text (as
    scikit-learn's ``TfidfVectorizer`` with ``sublinear_tf=True`` gives), in CSR form:
    ``(values, columns, indptr)``, the n-grams looked up as strings."""
    grams: list[str] = []
    lengths: list[int] = []
    for text in texts:
        found = word_ngrams(text, max_n)
        grams.extend(found)
        lengths.append(len(found))
    columns = np.fromiter(map(vocabulary.get, grams, repeat(-1)), np.int64, len(grams))
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    known = columns >= 0
    return tfidf_values(rows[known], columns[known], len(texts), idf)


def tfidf_values(
    rows: np.ndarray, columns: np.ndarray, n: int, idf: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tfidf_entries`` from every occurrence of a vocabulary term (its text's row and its
    column), counted in one vectorised pass over the whole batch."""
    width = len(idf)
    keys, counts = np.unique(rows * width + columns, return_counts=True)
    rows, cols = np.divmod(keys, width)
    values = (np.log(counts) + 1.0) * idf[cols]
    norms = np.sqrt(np.bincount(rows, values * values, minlength=n))
    values /= norms[rows]  # a row with any known n-gram has a positive norm
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    return values, cols, indptr


@dataclass(frozen=True)
class BigramIndex:
    """A vocabulary of word 1- and 2-grams looked up by word: each word of a text once,
    then its bigrams as pairs of word ids, without building a string per bigram."""

    words: dict[str, int]
    unigram_columns: np.ndarray  # per word id: the word's own column, or -1
    bigram_keys: np.ndarray  # sorted: first word id * len(words) + second word id
    bigram_columns: np.ndarray

    @classmethod
    def of(cls, terms: Sequence[str]) -> BigramIndex | None:
        """The index of a vocabulary (``terms[i]`` is column i); None if a term is longer
        than two words."""
        words: dict[str, int] = {}
        unigrams: dict[int, int] = {}
        bigrams: dict[tuple[int, int], int] = {}
        for column, term in enumerate(terms):
            parts = term.split(" ")
            if len(parts) > 2:
                return None
            ids = tuple(words.setdefault(word, len(words)) for word in parts)
            if len(ids) == 1:
                unigrams[ids[0]] = column
            else:
                bigrams[(ids[0], ids[1])] = column
        unigram_columns = np.full(len(words) + 1, -1, np.int64)  # the last: unknown words
        unigram_columns[list(unigrams)] = list(unigrams.values())
        keys = np.array([a * len(words) + b for a, b in bigrams], np.int64)
        order = np.argsort(keys)
        columns = np.array(list(bigrams.values()), np.int64)
        return cls(words, unigram_columns, keys[order], columns[order])

    def occurrences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every occurrence of a vocabulary term in the texts: its text's row, its column."""
        tokens = [word_unigrams(text) for text in texts]
        flat = list(chain.from_iterable(tokens))
        ids = np.fromiter(map(self.words.get, flat, repeat(-1)), np.int64, len(flat))
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        unigrams = self.unigram_columns[ids]  # id -1 reads the last entry: -1
        known = unigrams >= 0
        first, second = ids[:-1], ids[1:]
        pairs = (rows[:-1] == rows[1:]) & (first >= 0) & (second >= 0)
        keys = first[pairs] * len(self.words) + second[pairs]
        at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
        found = self.bigram_keys[at] == keys if len(self.bigram_keys) else np.zeros(len(keys), bool)
        return (
            np.concatenate([rows[known], rows[:-1][pairs][found]]),
            np.concatenate([unigrams[known], self.bigram_columns[at[found]]]),
        )


def tfidf_matrix(
    texts: Sequence[str], vocabulary: dict[str, int], idf: np.ndarray, max_n: int
) -> sp.csr_matrix:
    """``tfidf_entries`` as a sparse matrix, one row per text."""
    values, cols, indptr = tfidf_entries(texts, vocabulary, idf, max_n)
    return sp.csr_matrix((values, cols.astype(np.int32), indptr), shape=(len(texts), len(idf)))


def neighbour_weights(X: Sequence[Sample], weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the weight of the previous and of the next paragraph of the same article
    (0 at an article's edges and at the batch's)."""
    n = len(X)
    has_prev = [s.index > 0 and i > 0 for i, s in enumerate(X)]
    has_next = [s.index < s.count - 1 and i + 1 < n for i, s in enumerate(X)]
    return np.array(has_prev, float) * weight, np.array(has_next, float) * weight


@dataclass(frozen=True)
class TfidfPart:
    """Fitted word features, ready to score: the vocabulary's terms and idf, and the
    classifier's weights for a paragraph's own TF-IDF and its neighbours' side by side
    (``blocks``: one row per term, ``3 * labels`` columns)."""

    terms: np.ndarray
    idf: np.ndarray
    blocks: np.ndarray
    context_weight: float
    max_n: int
    vocabulary: dict[str, int] = field(init=False, repr=False, compare=False)
    index: BigramIndex | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        terms = [str(t) for t in self.terms]
        object.__setattr__(self, "vocabulary", {t: i for i, t in enumerate(terms)})
        object.__setattr__(self, "index", BigramIndex.of(terms))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("vocabulary", "index")}

    def entries(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``tfidf_entries`` of the texts, by word ids where the vocabulary allows."""
        if self.index is None:
            return tfidf_entries(texts, self.vocabulary, self.idf, self.max_n)
        rows, columns = self.index.occurrences(texts)
        return tfidf_values(rows, columns, len(texts), self.idf)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def __call__(self, X: Sequence[Sample]) -> np.ndarray:
        """``transform(X) @ weights`` of the training-time transformer, without building
        the wide matrix: each paragraph's TF-IDF meets the three blocks in one product
        and the neighbours' parts are shifted into place."""
        k = self.blocks.shape[1] // 3
        values, cols, indptr = self.entries([s.text for s in X])
        tfidf = sp.csr_matrix((values, cols, indptr), shape=(len(X), len(self.idf)))
        parts = np.asarray(tfidf @ self.blocks)
        has_prev, has_next = neighbour_weights(X, self.context_weight)
        out = parts[:, :k].copy()
        out[1:] += has_prev[1:, None] * parts[:-1, k : 2 * k]
        out[:-1] += has_next[:-1, None] * parts[1:, 2 * k :]
        return out


_URL = re.compile(r"https?://|www\.|\.com\b|\.org\b|@\w")
_URL_HINTS = ("://", "www.", ".com", ".org", "@")
_CLOSERS = "'\"”’)"
_ASCII_UPPER = string.ascii_uppercase.encode()
_ASCII_LETTERS = string.ascii_letters.encode()
_ASCII_DIGITS = string.digits.encode()
_ASCII_SYMBOLS = b"|/\\*#>_=+"
_OTHER_SYMBOLS = frozenset("•·©®™")

LAYOUT_NAMES = (
    "position", "from_end", "first", "last", "log_words", "log_chars", "sentence_end",
    "upper_share", "digit_share", "symbol_share", "title_share", "url", "short",
    "question", "colon", "prev_log_words", "next_log_words", "quote",
)  # fmt: skip


@lru_cache(maxsize=2048)
def text_cues(text: str) -> tuple[float, ...]:
    """What a paragraph's text alone shows: length, case, digits, symbols, links, quotes.

    Remembered, since cross-validation asks for the same paragraph many times.
    """
    tokens = word_tokens(text)
    n_words = len(tokens)
    chars = max(len(text), 1)
    upper, letters, digits, symbols = _character_counts(text)
    return (
        float(n_words),
        math.log1p(n_words),
        math.log1p(len(text)),
        float(ends_sentence(text)),
        upper / max(letters, 1),
        digits / chars,
        symbols / chars,
        _upper_count("".join(map(itemgetter(0), tokens))) / max(n_words, 1),
        float(any(hint in text for hint in _URL_HINTS) and bool(_URL.search(text))),
        float(n_words <= 4),
        float(text.rstrip().endswith("?")),
        float(":" in text[:40]),
        float(any(q in text for q in "\"“”")),
    )


def ends_sentence(text: str) -> bool:
    """Whether a text ends as a sentence does: a stop, then perhaps closing quotes."""
    return text.rstrip(_CLOSERS)[-1:] in (".", "!", "?")


def _upper_count(text: str) -> int:
    """Upper-case characters in a text, the ASCII ones counted by deleting bytes."""
    if text.isascii():
        return len(text) - len(text.encode().translate(None, _ASCII_UPPER))
    return sum(map(str.isupper, text))


def _character_counts(text: str) -> tuple[int, int, int, int]:
    """Upper-case letters, letters, decimal digits and layout symbols in a text, as
    ``str.isupper``/``isalpha``/``isdecimal`` count them: the ASCII part by deleting bytes,
    the few other characters one by one."""
    ascii_part = text.encode("ascii", "ignore")
    size = len(ascii_part)
    upper = size - len(ascii_part.translate(None, _ASCII_UPPER))
    letters = size - len(ascii_part.translate(None, _ASCII_LETTERS))
    digits = size - len(ascii_part.translate(None, _ASCII_DIGITS))
    symbols = size - len(ascii_part.translate(None, _ASCII_SYMBOLS))
    if size < len(text):
        for char in _NON_ASCII.findall(text):
            upper += char.isupper()
            letters += char.isalpha()
            digits += char.isdecimal()
            symbols += char in _OTHER_SYMBOLS
    return upper, letters, digits, symbols


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


def layout_rows(X: Sequence[Sample]) -> np.ndarray:
    """The raw (unscaled) layout cues of every paragraph, one row each."""
    words = [text_cues(s.text)[0] for s in X]
    rows = []
    for i, sample in enumerate(X):
        prev = words[i - 1] if sample.index > 0 and i > 0 else 0.0
        after = words[i + 1] if sample.index < sample.count - 1 and i + 1 < len(X) else 0.0
        if sample.count == 1:  # a lone paragraph: neither edge nor neighbours tell anything
            prev = after = words[i]
        rows.append(layout_vector(sample, prev, after))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(LAYOUT_NAMES))


@dataclass(frozen=True)
class LayoutPart:
    """Fitted layout features, ready to score: the classifier's weights for the raw cues
    with the standard scaling folded in (``scaled``), the constant it leaves (``bias``),
    and the training mean of each cue (``center``; explanations measure cues from it)."""

    scaled: np.ndarray
    bias: np.ndarray
    center: np.ndarray | None = None

    def __call__(self, X: Sequence[Sample]) -> np.ndarray:
        return np.asarray(layout_rows(X) @ self.scaled + self.bias)
