"""Choosing a short extractive summary that covers the article's topics."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, filterfalse, pairwise, repeat
from typing import Protocol

from medbrief.features import ends_sentence
from medbrief.model import BOILERPLATE
from medbrief.residue import is_residue_sentence
from medbrief.sentences import split_many

DEFAULT_SENTENCES = 3
DEFAULT_WORDS = 120
# Content labels in the order a reader wants them: a finding, a risk, what comes next.
TOPIC_PRIORITY = ("trial_results", "risks", "outlook", "mechanism")
# An editor's fallbacks when the article lacks a leading topic (the guide's reference rule
# 2): a second finding first, only then the background.
SECOND_TOPIC = "trial_results"
BACKGROUND = "mechanism"

# Words, with a number's inner separators kept ("1,067", "3.5").
_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*(?:[.,]\d[a-z0-9'’-]*)*")
_PLAIN_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")  # the same where no separator meets a digit
_SEPARATED_DIGIT = re.compile(r"[.,]\d")
_QUOTES = "\"“”‘'"
# First words that make a sentence lean on the one before it.
DANGLING = frozenset(
    "however but this these that those it its they their he she his her also and so yet still "
    "additionally moreover meanwhile furthermore instead such".split()
)
DANGLING_PHRASES = (
    ("despite", "this"), ("in", "addition"), ("in", "contrast"), ("as", "a", "result"),
)
_SAID = frozenset(("said", "says", "added", "according"))
_HEDGES = frozenset("not no only without never yet unclear unknown".split())
# Words that mark the concrete sentence an editor picks under each default topic.
CUES: dict[str, frozenset[str]] = {
    "trial_results": frozenset(
        "patients participants trial trials study studies remission percent median compared "
        "placebo reduced cut rate rates months weeks years".split()
    ),
    "risks": frozenset(
        "adverse risk risks infection infections died death deaths cost costs price expensive "
        "small uncontrolled short caution limit limits limited limitation limitations toxicity "
        "syndrome serious severe".split()
    ),
    "outlook": frozenset(
        "plan plans planned will expect expects larger approval approve regulator regulators "
        "fda ema submit file filing underway due scheduled launch begin start".split()
    ),
}
CUE_PAIRS: dict[tuple[str, str], str] = {
    ("per", "cent"): "trial_results",
    ("side", "effect"): "risks",
    ("side", "effects"): "risks",
    ("no", "control"): "risks",
    ("next", "year"): "outlook",
    ("under", "way"): "outlook",
    **{("phase", n): "outlook" for n in ("2", "3", "ii", "iii", "2b", "2a", "3b")},
}
_PAIR_FIRSTS = frozenset(first for first, _ in CUE_PAIRS)
_PHRASE_FIRSTS = frozenset(phrase[0] for phrase in DANGLING_PHRASES)
_DIGITS = frozenset("0123456789")
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
    """A paragraph offered to the summariser: its text, label and confidence, and (when the
    classifier gave them) every label's probability."""

    index: int
    text: str
    label: str
    confidence: float
    scores: Mapping[str, float] = field(default_factory=dict, compare=False)


def words_of(sentence: str) -> list[str]:
    """A sentence's lower-cased words, numbers whole ("1,067", "3.5")."""
    lowered = sentence.lower()
    pattern = _WORD if _SEPARATED_DIGIT.search(lowered) else _PLAIN_WORD
    return pattern.findall(lowered)


# What ``sentence_cues`` returns, in this order.
CUE_NAMES = (
    "numbers", "percent", "year", "topic_cues", *(f"{topic}_cues" for topic in CUES),
    "quoted", "dangling", "question", "long", "announced", "hedges",
)
_TOPIC_CUES = CUE_NAMES.index("topic_cues")
_DANGLING = CUE_NAMES.index("dangling")
# Where each default topic's count of cue words sits among the cues.
_CUE_AT = {topic: CUE_NAMES.index(f"{topic}_cues") for topic in CUES}
_TOPIC_AT = {topic: k for k, topic in enumerate(CUES)}
# Every cue word, with the default topics (by place in CUES) it is a cue of.
_CUE_WORDS: dict[str, tuple[int, ...]] = {
    word: tuple(k for k, cues in enumerate(CUES.values()) if word in cues)
    for word in frozenset().union(*CUES.values())
}
_CUE_WORD_SET = frozenset(_CUE_WORDS)
_ANY_DIGIT = re.compile(r"\d").search


def sentence_cues(text: str, tokens: Sequence[str], label: str) -> tuple[float, ...]:
    """What a reader notices about a sentence, from its text and lower-cased words, in the
    order of CUE_NAMES: numbers and years, the cue words of each default topic (and of its
    own label), hedges, quotes, questions, a lead-in that leans on the previous sentence, a
    press release's opener."""
    words = set(tokens)
    topics = [0] * len(CUES)
    for word in words & _CUE_WORD_SET:
        for k in _CUE_WORDS[word]:
            topics[k] += 1
    if not _PAIR_FIRSTS.isdisjoint(words):
        for pair in pairwise(tokens):
            topic = CUE_PAIRS.get(pair)
            if topic is not None:
                topics[_TOPIC_AT[topic]] += 1
    percent = "%" in text
    topics[_TOPIC_AT["trial_results"]] += percent
    numeric = [w for w in words if w[0] in _DIGITS] if _ANY_DIGIT(text) else []  # distinct
    years = sum(len(w) == 4 and w[:2] in ("19", "20") and w.isdigit() for w in numeric)
    first = tokens[0].partition("’")[0].partition("'")[0] if tokens else ""
    dangling = first in DANGLING or (
        first in _PHRASE_FIRSTS
        and any(tuple(tokens[: len(p)]) == p for p in DANGLING_PHRASES)
    )
    quoted = text[:1] in _QUOTES or (
        not _SAID.isdisjoint(words) and ('"' in text or "“" in text or "”" in text)
    )
    own = _TOPIC_AT.get(label)
    return (
        min(len(numeric) - years, 4),
        percent,
        years > 0,
        min(topics[own], 3) if own is not None else 0,
        *map(min, topics, repeat(3)),
        quoted,
        dangling,
        text.endswith("?"),
        len(tokens) > 50,
        "announced" in words,
        min(len(_HEDGES & words), 3),
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sentence that may go into the summary, with the cues that score it and the topic
    it competes for: its paragraph's label, or the paragraph's runner-up label."""

    paragraph: int
    start: int
    text: str
    label: str
    topic: str
    score: float
    words: frozenset[str]
    rank: int
    length: int
    cues: tuple[float, ...] = field(compare=False)

    def rescored(self, score: float) -> Candidate:
        return Candidate(
            self.paragraph, self.start, self.text, self.label, self.topic, score, self.words,
            self.rank, self.length, self.cues,
        )


# Multipliers of the built-in scoring, chosen on the training articles' reference summaries.
CUE_WEIGHTS = {
    "numbers": 0.04, "topic_cues": 0.2, "quoted": -0.65, "dangling": -0.5, "question": -0.7,
    "long": -0.3,
}
_WEIGHTED = [(CUE_NAMES.index(name), weight) for name, weight in CUE_WEIGHTS.items()]
LEAD_WEIGHT = 0.05
# What a learned score is worth for a sentence that leans on the one before it ("However,
# ...", "This ..."): such a sentence is avoided unless nothing comparable is left.
DANGLING_PENALTY = 0.5



class Rescorer(Protocol):
    """Learned scores of candidates in their article (of those at ``only``, when given)."""

    def __call__(
        self, pool: list[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
    ) -> list[float]: ...


def candidates(units: Sequence[Unit]) -> list[Candidate]:
    """Every summary-worthy sentence of the content paragraphs, scored by built-in cues."""
    prose = [u for u in units if not _is_heading(u.text)]
    spans = [
        (u, s, e)
        for u, found in zip(prose, split_many([u.text for u in prose]), strict=True)
        for s, e in found
    ]
    tokens = [words_of(u.text[s:e]) for u, s, e in spans]
    content = [list(filterfalse(STOPWORDS.__contains__, words)) for words in tokens]
    # How many sentences share each word, on a log scale: a sentence's centrality.
    freq = Counter(chain.from_iterable(map(set, content)))
    shared = dict(zip(freq, map(math.log1p, freq.values()), strict=True))
    out = []
    for rank, ((unit, start, end), words, all_words) in enumerate(
        zip(spans, content, tokens, strict=True)
    ):
        text = unit.text[start:end].strip()
        length = len(text.split())
        if length < 6 or not ends_sentence(text) or is_residue_sentence(text, all_words):
            continue
        distinct = frozenset(words)
        centrality = sum(map(shared.__getitem__, distinct)) / math.sqrt(max(len(words), 1))
        cues = sentence_cues(text, all_words, unit.label)
        score = centrality * unit.confidence / (1.0 + LEAD_WEIGHT * rank)
        for at, weight in _WEIGHTED:
            value = cues[at]
            score *= (1.0 + weight) ** value if weight < 0 else 1.0 + weight * value
        out.append(
            Candidate(
                unit.index, start, text, unit.label, unit.label, score, distinct, rank, length,
                cues,
            )
        )
    return out


def _is_heading(text: str) -> bool:
    return not ends_sentence(text.strip()) and len(text.split()) <= 14


def _near_duplicate(a: Candidate, b: Candidate) -> bool:
    if not a.words or not b.words:
        return a.text == b.text
    return len(a.words & b.words) / min(len(a.words), len(b.words)) > 0.7


def topic_order(labels: Sequence[str]) -> list[str]:
    """Content labels in priority order: the default topics first, then any others."""
    present = list(dict.fromkeys(labels))
    known = [label for label in TOPIC_PRIORITY if label in present]
    return known + [label for label in present if label not in TOPIC_PRIORITY]


# How likely a paragraph's runner-up content label must be for its sentences to compete
# under that label too (chosen on the training articles by outlet-grouped cross-validation,
# bench/summary_cv.py: recall 0.399, 0.415, 0.426, 0.419 and 0.416 at 0.1, 0.2, 0.3, 0.4 and
# never).
ALTERNATE_MIN = 0.3


def alternates(pool: Sequence[Candidate], units: Sequence[Unit]) -> list[Candidate]:
    """The pool as it would read if every paragraph whose runner-up content label has a
    probability of at least ``ALTERNATE_MIN`` had that label instead."""
    runner_up: dict[int, str] = {}
    for unit in units:
        others = [
            (p, label) for label, p in unit.scores.items()
            if label not in (unit.label, BOILERPLATE)
        ]
        if others:
            p, label = max(others)
            if p >= ALTERNATE_MIN:
                runner_up[unit.index] = label
    if not runner_up:
        return list(pool)
    topic_weight = CUE_WEIGHTS["topic_cues"]
    out = []
    for c in pool:
        alternate = runner_up.get(c.paragraph)
        if alternate is None:
            out.append(c)
            continue
        # The built-in score and cues as they would be under the runner-up label.
        at = _CUE_AT.get(alternate)
        topic_cues = c.cues[at] if at is not None else 0.0
        cues = (*c.cues[:_TOPIC_CUES], topic_cues, *c.cues[_TOPIC_CUES + 1 :])
        factor = (1.0 + topic_weight * topic_cues) / (1.0 + topic_weight * c.cues[_TOPIC_CUES])
        out.append(
            Candidate(
                c.paragraph, c.start, c.text, c.label, alternate, c.score * factor, c.words,
                c.rank, c.length, cues,
            )
        )
    return out


def scored(units: Sequence[Unit], rescorer: Rescorer | None = None) -> list[Candidate]:
    """Candidates, best first, rescored by a learned scorer when one is given. With a learned
    scorer, the sentences of a paragraph whose runner-up label is likely also compete under
    that label (see ``alternates``), scored as if the paragraph had it."""
    pool = candidates(units)
    if rescorer is not None and pool:
        view = alternates(pool, units)
        moved = [i for i, c in enumerate(view) if c.topic != c.label]
        learned = rescorer(pool, units)
        pool = [c.rescored(_penalised(c, s)) for c, s in zip(pool, learned, strict=True)]
        if moved:
            again = rescorer(view, units, moved)
            pool += [view[i].rescored(_penalised(view[i], s)) for i, s in zip(moved, again,
                                                                              strict=True)]
    return sorted(pool, key=lambda c: -c.score)


def _penalised(c: Candidate, score: float) -> float:
    return score * DANGLING_PENALTY if c.cues[_DANGLING] else score


def choose(
    pool: Sequence[Candidate],
    units: Sequence[Unit],
    sentences: int = DEFAULT_SENTENCES,
    max_words: int = DEFAULT_WORDS,
) -> list[Candidate]:
    """Up to ``sentences`` of the (best-first) pool within ``max_words``, one per topic first.

    The leading topics (one per sentence, the background never among them) are chosen
    together: the best sentence of each when they fit the budget, else the combination of
    their few best that covers the most topics with the highest total score. A second
    finding, the background, other topics and repeats are then added greedily, in that order.
    """
    if sentences <= 0 or not pool:
        return []
    shares: Counter[str] = Counter()
    for unit in units:
        shares[unit.label] += len(unit.text.split())
    order = topic_order([label for label, _ in shares.most_common()])
    chosen = _leading(pool, [t for t in order if t != BACKGROUND][:sentences], max_words)
    words = sum(c.length for c in chosen)

    def fits(c: Candidate) -> bool:
        within = not chosen or words + c.length <= max_words
        return within and not any(c is o or _near_duplicate(c, o) for o in chosen)

    covered = {c.topic for c in chosen}
    rest = [t for t in order if t not in covered]
    for topic in [SECOND_TOPIC, *rest] + [""] * sentences:
        if len(chosen) >= sentences:
            break
        pick = next((c for c in pool if (not topic or c.topic == topic) and fits(c)), None)
        if pick is not None:
            chosen.append(pick)
            words += pick.length
    return sorted(chosen, key=lambda c: (c.paragraph, c.start))


# How many of each leading topic's best sentences the joint choice weighs.
JOINT_DEPTH = 4
# Partial choices the joint choice keeps while it goes through the topics: every one while
# there are no more (three or four topics), the best this many beyond that, so that the
# work stays bounded whatever the number of labels and sentences asked for.
JOINT_BEAM = 256


def _leading(pool: Sequence[Candidate], topics: Sequence[str], max_words: int) -> list[Candidate]:
    """One sentence for each of ``topics``: the best of each if together they fit, else the
    fitting combination that covers most topics, then scores highest in total (searched
    topic by topic, keeping the JOINT_BEAM best partial choices)."""
    best: dict[str, list[Candidate]] = {t: [] for t in topics}
    for c in pool:
        options = best.get(c.topic)
        if options is not None and len(options) < JOINT_DEPTH:
            options.append(c)
    tops = [options[0] for options in best.values() if options]
    if _compatible(tops, max_words):
        return tops
    beam: list[tuple[Candidate, ...]] = [()]
    for options in best.values():
        grown = [
            (*picked, c) for picked in beam for c in options
            if _compatible((*picked, c), max_words)
        ]
        beam = sorted([*beam, *grown], key=_joint_key, reverse=True)[:JOINT_BEAM]
    chosen: tuple[Candidate, ...] = max(beam, key=_joint_key)
    return list(chosen)


def _joint_key(picked: tuple[Candidate, ...]) -> tuple[int, float]:
    return len(picked), sum(c.score for c in picked)


def _compatible(picked: Sequence[Candidate], max_words: int) -> bool:
    """Whether sentences may stand together: within the budget (a lone sentence always is)
    and no two near-duplicates."""
    if len(picked) > 1 and sum(c.length for c in picked) > max_words:
        return False
    return not any(
        _near_duplicate(a, b) for i, a in enumerate(picked) for b in picked[i + 1 :]
    )


def key_sentences(pool: Sequence[Candidate]) -> dict[str, Candidate]:
    """The best sentence of each content label, from a best-first pool."""
    best: dict[str, Candidate] = {}
    for c in pool:
        best.setdefault(c.topic, c)
    return {label: best[label] for label in topic_order(list(best))}
