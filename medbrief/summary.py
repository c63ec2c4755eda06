"""Choosing a short extractive summary that covers the article's topics."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from medbrief.sentences import split_sentences

DEFAULT_SENTENCES = 3
DEFAULT_WORDS = 120
# Content labels in the order a reader wants them: a finding, a risk, what comes next.
TOPIC_PRIORITY = ("trial_results", "risks", "outlook", "mechanism")

_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")
_DANGLING = re.compile(
    r"^(?:however|but|this|these|that|those|it|its|they|their|he|she|his|her|also|and|so|yet|"
    r"still|additionally|moreover|meanwhile|furthermore|instead|despite this|in addition|"
    r"in contrast|as a result|such)\b",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?]['\"”’)]*$")
STOPWORDS = frozenset(
    "a an the and or but if of to in on at for with by from as is are was were be been being "
    "it its this that these those he she they them his her their we our you your i not no "
    "have has had do does did will would can could may might should than then so such into "
    "about after before over under more most other some any all also which who whom what when "
    "where why how there here up out one two said says".split()
)


@dataclass(frozen=True)
class Unit:
    """A paragraph offered to the summariser: its text, label and confidence."""

    index: int
    text: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Candidate:
    """A sentence that may go into the summary."""

    paragraph: int
    start: int
    text: str
    label: str
    score: float
    words: frozenset[str]

    @property
    def length(self) -> int:
        return len(self.text.split())


def candidates(units: Sequence[Unit]) -> list[Candidate]:
    """Every summary-worthy sentence of the content paragraphs, scored."""
    spans = [(u, s, e) for u in units if not _is_heading(u.text) for s, e in split_sentences(u.text)]
    tokens = [[w for w in _WORD.findall(u.text[s:e].lower()) if w not in STOPWORDS] for u, s, e in spans]
    freq = Counter(w for words in tokens for w in set(words))
    out = []
    for rank, ((unit, start, end), words) in enumerate(zip(spans, tokens, strict=True)):
        text = unit.text[start:end].strip()
        n = len(text.split())
        if n < 6 or not _TERMINAL.search(text):
            continue
        centrality = sum(math.log1p(freq[w]) for w in set(words)) / math.sqrt(max(len(words), 1))
        score = centrality * unit.confidence
        score *= 1.0 / (1.0 + 0.04 * rank)
        score *= 1.15 if start == 0 else 1.0
        score *= 0.5 if _DANGLING.match(text) else 1.0
        score *= 0.6 if text.endswith("?") else 1.0
        score *= 0.7 if n > 45 else 1.0
        out.append(Candidate(unit.index, start, text, unit.label, score, frozenset(words)))
    return out


def _is_heading(text: str) -> bool:
    return len(text.split()) <= 14 and not _TERMINAL.search(text)


def _near_duplicate(a: Candidate, b: Candidate) -> bool:
    if not a.words or not b.words:
        return a.text == b.text
    return len(a.words & b.words) / min(len(a.words), len(b.words)) > 0.7


def topic_order(labels: Sequence[str]) -> list[str]:
    """Content labels in priority order: the default topics first, then any others."""
    present = list(dict.fromkeys(labels))
    known = [label for label in TOPIC_PRIORITY if label in present]
    return known + [label for label in present if label not in TOPIC_PRIORITY]


def choose(
    units: Sequence[Unit], sentences: int = DEFAULT_SENTENCES, max_words: int = DEFAULT_WORDS
) -> list[Candidate]:
    """Up to ``sentences`` sentences within ``max_words``, one per topic before any repeats."""
    pool = sorted(candidates(units), key=lambda c: -c.score)
    if sentences <= 0 or not pool:
        return []
    by_share = Counter()  # type: Counter[str]
    for unit in units:
        by_share[unit.label] += len(unit.text.split())
    order = topic_order([label for label, _ in by_share.most_common()])
    chosen: list[Candidate] = []
    words = 0

    def fits(c: Candidate) -> bool:
        within = not chosen or words + c.length <= max_words
        return within and c not in chosen and not any(_near_duplicate(c, o) for o in chosen)

    for topic in order + [""] * sentences:
        if len(chosen) >= sentences:
            break
        pick = next((c for c in pool if (not topic or c.label == topic) and fits(c)), None)
        if pick is not None:
            chosen.append(pick)
            words += pick.length
    return sorted(chosen, key=lambda c: (c.paragraph, c.start))


def key_sentences(units: Sequence[Unit]) -> dict[str, Candidate]:
    """The best sentence of each content label."""
    best: dict[str, Candidate] = {}
    for c in sorted(candidates(units), key=lambda c: -c.score):
        best.setdefault(c.label, c)
    return {label: best[label] for label in topic_order(list(best))}
