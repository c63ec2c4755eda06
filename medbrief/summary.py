"""Choosing a short extractive summary that covers the article's topics."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

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
_NUMBER = re.compile(r"\d")
_QUOTED = re.compile(r"^[\"“‘']|[\"“”]\s*(?:said|says|added|according)\b")
# Words that mark the concrete sentence an editor picks under each default topic.
CUES: dict[str, re.Pattern[str]] = {
    "trial_results": re.compile(
        r"\b(?:patients|participants|trial|study|remission|per ?cent|%|median|compared|placebo|"
        r"reduced|cut|rate|months|weeks|years)\b", re.IGNORECASE,
    ),
    "risks": re.compile(
        r"\b(?:side effects?|adverse|risk|infections?|died|deaths?|cost|price|expensive|small|"
        r"no control|uncontrolled|short|caution|limit\w*|toxicity|syndrome|serious|severe)\b",
        re.IGNORECASE,
    ),
    "outlook": re.compile(
        r"\b(?:plans?|planned|will|expects?|next year|phase [23i]+|larger|approval|approve|"
        r"regulators?|FDA|EMA|submit|file|filing|under ?way|due|scheduled|launch|begin|start)\b",
        re.IGNORECASE,
    ),
}
STOPWORDS = frozenset(
    (
        "a an the and or but if of to in on at for with by from as is are was were be been being "
        "it its this that these those he she they them his her their we our you your i not no "
        "have has had do does did will would can could may might should than then so such into "
        "about after before over under more most other some any all also which who whom what "
        "when where why how there here up out one two said says"
    ).split()
)


@dataclass(frozen=True)
class Unit:
    """A paragraph offered to the summariser: its text, label and confidence."""

    index: int
    text: str
    label: str
    confidence: float


def sentence_cues(text: str, label: str) -> dict[str, float]:
    """What a reader notices about a sentence: numbers, topic cues, quotes, questions."""
    cue = CUES.get(label)
    return {
        "numbers": float(min(len(_NUMBER.findall(text)), 4)),
        "topic_cues": float(min(len(cue.findall(text)), 3)) if cue else 0.0,
        "quoted": float(bool(_QUOTED.search(text))),
        "dangling": float(bool(_DANGLING.match(text))),
        "question": float(text.endswith("?")),
        "long": float(len(text.split()) > 50),
    }


CUE_NAMES = tuple(sentence_cues("", ""))


@dataclass(frozen=True)
class Candidate:
    """A sentence that may go into the summary, with the cues that score it."""

    paragraph: int
    start: int
    text: str
    label: str
    score: float
    words: frozenset[str]
    rank: int
    cues: dict[str, float] = field(compare=False)

    @property
    def length(self) -> int:
        return len(self.text.split())


# Multipliers of the built-in scoring, chosen on the training articles' reference summaries.
CUE_WEIGHTS = {
    "numbers": 0.04, "topic_cues": 0.2, "quoted": -0.65, "dangling": -0.5, "question": -0.7,
    "long": -0.3,
}
LEAD_WEIGHT = 0.05

Rescorer = Callable[[list["Candidate"], Sequence["Unit"]], list[float]]


def candidates(units: Sequence[Unit]) -> list[Candidate]:
    """Every summary-worthy sentence of the content paragraphs, scored by built-in cues."""
    spans = [
        (u, s, e) for u in units if not _is_heading(u.text) for s, e in split_sentences(u.text)
    ]
    tokens = [
        [w for w in _WORD.findall(u.text[s:e].lower()) if w not in STOPWORDS] for u, s, e in spans
    ]
    freq = Counter(w for words in tokens for w in set(words))
    out = []
    for rank, ((unit, start, end), words) in enumerate(zip(spans, tokens, strict=True)):
        text = unit.text[start:end].strip()
        if len(text.split()) < 6 or not _TERMINAL.search(text):
            continue
        centrality = sum(math.log1p(freq[w]) for w in set(words)) / math.sqrt(max(len(words), 1))
        cues = sentence_cues(text, unit.label)
        score = centrality * unit.confidence / (1.0 + LEAD_WEIGHT * rank)
        for name, value in cues.items():
            weight = CUE_WEIGHTS[name]
            score *= (1.0 + weight) ** value if weight < 0 else 1.0 + weight * value
        words_set = frozenset(words)
        out.append(Candidate(unit.index, start, text, unit.label, score, words_set, rank, cues))
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


def scored(units: Sequence[Unit], rescorer: Rescorer | None = None) -> list[Candidate]:
    """Candidates, best first, rescored by a learned scorer when one is given."""
    pool = candidates(units)
    if rescorer is not None and pool:
        pool = [replace(c, score=s) for c, s in zip(pool, rescorer(pool, units), strict=True)]
    return sorted(pool, key=lambda c: -c.score)


def choose(
    pool: Sequence[Candidate],
    units: Sequence[Unit],
    sentences: int = DEFAULT_SENTENCES,
    max_words: int = DEFAULT_WORDS,
) -> list[Candidate]:
    """Up to ``sentences`` of the (best-first) pool within ``max_words``, one per topic first."""
    if sentences <= 0 or not pool:
        return []
    shares: Counter[str] = Counter()
    for unit in units:
        shares[unit.label] += len(unit.text.split())
    order = topic_order([label for label, _ in shares.most_common()])
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


def key_sentences(pool: Sequence[Candidate]) -> dict[str, Candidate]:
    """The best sentence of each content label, from a best-first pool."""
    best: dict[str, Candidate] = {}
    for c in pool:
        best.setdefault(c.label, c)
    return {label: best[label] for label in topic_order(list(best))}
