"""Splitting a paragraph into sentences, each a verbatim slice of the paragraph."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import blingfire

# blingfire always ends a sentence at a paragraph separator, so one call splits many texts.
_SEPARATOR = "\u2029"

# Abbreviations blingfire keeps as non-final even when a sentence ends on them: units
# before any capitalised word, and U.S./U.K.-style initials before a typical sentence start.
_UNIT_END = re.compile(
    r"(?:\b(?:mg|kg|ml|mL|mm|cm|km|g|lb|lbs|oz|mmol|mcg|µg)\.\s+(?=[A-Z][a-z])"
    r"|\b(?:U\.S|U\.K|E\.U|U\.N)\.\s+(?=(?:The|This|That|These|Those|It|Its|In|A|An|He|She|"
    r"They|We|But|And|However|Our|His|Her|There|Its)\b))"
)
# Abbreviations after which blingfire sometimes breaks although the sentence goes on.
_NO_BREAK = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|Sr|Jr|St|vs|No|approx|e\.g|i\.e|Fig|al|Inc|Ltd|Co|Jan|Feb|Mar|"
    r"Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|\b[A-Z]\.)$"
)
_NO_BREAK_TAIL = 8  # "approx." and a character before it


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, in order, covering its words."""
    return split_many([text])[0]


def split_many(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """``split_sentences`` of every text, with one pass of blingfire over all of them."""
    starts, cursor = [], 0
    for text in texts:
        starts.append(cursor)
        cursor += len(text) + len(_SEPARATOR)
    joined = _SEPARATOR.join(texts)
    found: list[list[tuple[int, int]]] = [[] for _ in texts]
    for start, end in _blingfire_spans(joined) if joined.strip() else []:
        i = bisect_right(starts, start) - 1
        if end > starts[i] + len(texts[i]):  # ran across a separator: split one by one
            return [split_many([text])[0] for text in texts] if len(texts) > 1 else [[]]
        found[i].append((start - starts[i], end - starts[i]))
    return [
        _split_units(_rejoin(spans, text), text) for text, spans in zip(texts, found, strict=True)
    ]


def _blingfire_spans(text: str) -> list[tuple[int, int]]:
    """blingfire's sentences located in ``text`` (finding them beats its offsets API)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in blingfire.text_to_sentences(text).split("\n"):
        sentence = sentence.strip()
        if not sentence:
            continue
        start = text.find(sentence, cursor)
        if start < 0:  # blingfire normalised something: fall back to its own offsets
            _, offsets = blingfire.text_to_sentences_and_offsets(text)
            return [(int(s), int(e)) for s, e in offsets]
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings."""
    return [text[s:e] for s, e in split_sentences(text)]


def _rejoin(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and _ends_unfinished(text, *out[-1]):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _ends_unfinished(text: str, start: int, end: int) -> bool:
    """Whether the sentence ``text[start:end]`` ends on an abbreviation (only its last
    characters are searched: no abbreviation is longer than _NO_BREAK_TAIL)."""
    tail = text[max(start, end - _NO_BREAK_TAIL) : end]
    if start < end - _NO_BREAK_TAIL:  # keep the word boundary the full sentence would see
        tail = text[end - _NO_BREAK_TAIL - 1] + tail
        return bool(_NO_BREAK.search(tail, 1))
    return bool(_NO_BREAK.search(tail))


def _split_units(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Spans cut after a unit or initials that end a sentence."""
    pieces: list[tuple[int, int]] = []
    for start, end in spans:
        if text.find(".", start, end - 1) < 0:  # no stop inside the sentence: nothing to cut
            pieces.append((start, end))
            continue
        for match in _UNIT_END.finditer(text, start, end):
            cut = match.start() + len(match.group().rstrip())
            pieces.append((start, cut))
            start = match.end()
        pieces.append((start, end))
    return pieces
