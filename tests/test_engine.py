"""The analysis record and the summary's invariants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medbrief.engine import Analyzer, Options
from medbrief.model import SentenceWeights
from medbrief.scorer import FEATURE_NAMES, SentenceScorer, sentence_features
from medbrief.summary import (
    CUE_NAMES,
    Candidate,
    Unit,
    candidates,
    choose,
    scored,
    sentence_cues,
    words_of,
)
from tests.conftest import SEEDS

CONTENT = [
    "Researchers said {n} of {m} patients went into remission after the infusion.",
    "The engineered T cells hunt down the B cells that make harmful antibodies.",
    "Side effects included fever and a fall in blood pressure in {n} patients.",
    "Larger trials are planned for next year, and approval could follow by {y}.",
    "The study was small and had no control group, so caution is needed.",
    "Dr. Lee said the results were the best she had seen in {y} years of practice.",
    "Patients receive chemotherapy first, which raises the risk of infection.",
    "Lupus is a chronic autoimmune disease that can damage the kidneys and skin.",
]
BOILERPLATE = [
    "We use cookies to improve your experience. Accept all cookies.",
    "Share this article: Facebook Twitter LinkedIn Email",
    "Leave a Reply. Your email address will not be published.",
    "Subscribe to our newsletter for the latest health news.",
    "Read more: How CAR-T Could Transform LupusBut the road ahead is long for patients.",
]

sentence = st.builds(
    lambda template, n, m, y: template.format(n=n, m=m + n, y=y),
    st.sampled_from(CONTENT), st.integers(1, 99), st.integers(1, 99), st.integers(2026, 2040),
)
paragraph = st.one_of(
    st.lists(sentence, min_size=1, max_size=4).map(" ".join), st.sampled_from(BOILERPLATE)
)
article = st.lists(paragraph, min_size=1, max_size=14).map("\n\n".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=article, n=st.integers(0, 6), words=st.integers(5, 200))
def test_summary_invariants_hold_on_generated_articles(
    analyzer: Analyzer, text: str, n: int, words: int
) -> None:
    record = analyzer.analyze(text, options=Options(sentences=n, max_words=words))
    assert len(record.summary) <= n
    paragraph, cursor = -1, 0
    for s in record.summary:
        source = record.paragraphs[s.paragraph]
        assert s.text in source.text, "summary sentences are verbatim"
        assert source.label != "boilerplate" and source.forced is None
        assert s.label == source.label
        assert not s.text.startswith("Read more")
        # In reading order: each sentence lies after the one before (a paragraph may hold
        # the same sentence twice, so it is looked for past the previous one).
        assert s.paragraph >= paragraph, "summary sentences are in reading order"
        cursor = 0 if s.paragraph > paragraph else cursor
        found = source.text.find(s.text, cursor)
        assert found >= 0, "summary sentences are in reading order"
        paragraph, cursor = s.paragraph, found + len(s.text)
    if len(record.summary) > 1:
        assert sum(len(s.text.split()) for s in record.summary) <= words
    texts = [s.text for s in record.summary]
    assert len(set(texts)) == len(texts)


def test_record_covers_every_paragraph_and_topics_sum_to_one(analyzer: Analyzer) -> None:
    text = (SEEDS / "000_ebad58953fcfc064.txt").read_text()
    record = analyzer.analyze(text, id="seed0")
    assert record.id == "seed0" and record.source is None
    assert [p.index for p in record.paragraphs] == list(range(len(record.paragraphs)))
    assert record.paragraphs[-1].text == "Leave a Reply"
    assert record.paragraphs[-1].label == "boilerplate"
    assert "boilerplate" not in record.topics
    assert sum(record.topics.values()) == pytest.approx(1.0)
    for p in record.paragraphs:
        assert p.confidence == max(p.scores.values())
        assert set(p.scores) == set(analyzer.model.labels)


def test_link_fragment_is_boilerplate_and_never_summarised(analyzer: Analyzer) -> None:
    record = analyzer.analyze((SEEDS / "000_ebad58953fcfc064.txt").read_text())
    fragment = next(p for p in record.paragraphs if p.text.startswith("Read more:"))
    assert fragment.label == "boilerplate" and fragment.forced == "link_fragment"
    assert all("Read more" not in s.text for s in record.summary)


def test_summary_covers_a_finding_a_risk_and_what_comes_next(analyzer: Analyzer) -> None:
    record = analyzer.analyze((SEEDS / "003_d68301345416b06b.txt").read_text())
    assert [s.label for s in record.summary] == ["trial_results", "risks", "outlook"]
    assert set(record.key_sentences) == {"trial_results", "risks", "outlook", "mechanism"}


def test_article_of_only_boilerplate_has_no_topics_and_no_summary(analyzer: Analyzer) -> None:
    record = analyzer.analyze("We use cookies. Accept all cookies.\n\nShare this on Facebook")
    assert all(p.label == "boilerplate" for p in record.paragraphs)
    assert record.topics == {} and record.summary == []


def test_one_paragraph_article_gets_a_one_sentence_summary(analyzer: Analyzer) -> None:
    text = "In the trial, 12 of 15 patients went into remission after one infusion."
    record = analyzer.analyze(text)
    assert [s.text for s in record.summary] == [text]


def test_near_duplicate_sentences_are_not_both_chosen() -> None:
    a = "The trial found that 40 of 50 patients were in remission after a year."
    b = "The trial found that 40 of 50 patients were in remission after one year."
    units = [Unit(0, a, "trial_results", 0.9), Unit(1, b, "trial_results", 0.9)]
    assert len(choose(scored(units), units, sentences=2, max_words=100)) == 1


def test_sentences_that_lean_on_their_predecessor_are_avoided() -> None:
    units = [
        Unit(0, "However, the effect faded after six months in most of the patients.", "risks", 1),
        Unit(1, "Side effects were mild and faded within a week in most patients.", "risks", 1),
    ]
    assert [c.paragraph for c in choose(scored(units), units, sentences=1)] == [1]


def test_leading_topics_are_all_covered_when_their_best_sentences_overrun_the_budget() -> None:
    long_finding = (
        "In the trial, 40 of 50 patients were in remission after a year, the highest rate yet "
        "reported for any treatment of this severe and long-lasting disease in adults."
    )
    units = [
        Unit(0, long_finding, "trial_results", 1.0),
        Unit(1, "Remission lasted a year in most of the patients treated.", "trial_results", 1.0),
        Unit(2, "Side effects were mild and faded within a week in most patients.", "risks", 1.0),
        Unit(3, "Larger trials are planned for next year in three countries.", "outlook", 1.0),
    ]
    pool = sorted(
        (c.rescored(2.0 if c.paragraph == 0 else 1.0) for c in candidates(units)),
        key=lambda c: -c.score,
    )
    chosen = choose(pool, units, sentences=3, max_words=40)
    assert [c.label for c in chosen] == ["trial_results", "risks", "outlook"]
    assert sum(c.length for c in chosen) <= 40
    assert chosen[0].paragraph == 1, "the shorter finding makes room for the other topics"


def test_without_a_risk_a_second_finding_comes_before_the_background() -> None:
    units = [
        Unit(0, "The engineered cells hunt down the B cells that make harmful antibodies.",
             "mechanism", 1.0),
        Unit(1, "In the trial, 40 of 50 patients were in remission after a year.",
             "trial_results", 1.0),
        Unit(2, "Kidney function improved in 30 of the 50 patients by the sixth month.",
             "trial_results", 1.0),
        Unit(3, "Larger trials are planned for next year in three countries.", "outlook", 1.0),
    ]
    chosen = choose(scored(units), units, sentences=3)
    assert sorted(c.label for c in chosen) == ["outlook", "trial_results", "trial_results"]
    four = choose(scored(units), units, sentences=4)
    assert "mechanism" in {c.label for c in four}, "the background comes after the findings"


def test_learned_scores_do_not_bring_back_sentences_that_lean_on_their_predecessor() -> None:
    units = [
        Unit(0, "However, the effect faded after six months in most of the patients.", "risks", 1),
        Unit(1, "Side effects were mild and faded within a week in most patients.", "risks", 1),
    ]

    def prefers_the_first(
        pool: list[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
    ) -> list[float]:
        chosen = pool if only is None else [pool[i] for i in only]
        return [0.6 if c.paragraph == 0 else 0.5 for c in chosen]

    pool = scored(units, prefers_the_first)
    assert [c.paragraph for c in choose(pool, units, sentences=1)] == [1]


def test_a_scorer_fitted_for_other_features_falls_back_to_the_built_in_scores() -> None:
    units = [Unit(0, "In the trial, 12 of 15 patients went into remission after one dose.", "x", 1)]
    stale = SentenceWeights(np.zeros((1, 2)), np.zeros(1), {"remission": 1.0})
    pool = candidates(units)
    assert SentenceScorer(stale)(pool, units) == [c.score for c in pool]


def test_sentence_cues_come_in_the_order_of_their_names() -> None:
    text = 'Side effects were rare, he said: "We will file in 2026," at 40% of the dose?'
    cues = dict(zip(CUE_NAMES, sentence_cues(text, words_of(text), "risks"), strict=True))
    assert cues["year"] and cues["percent"] and cues["quoted"] and cues["question"]
    assert cues["risks_cues"] == cues["topic_cues"] == 1  # "side effects"
    assert cues["outlook_cues"] == 2 and cues["trial_results_cues"] == 1  # will, file; %
    assert cues["numbers"] == 1, "40 is a number; 2026 is a year"
    assert not cues["dangling"] and not cues["long"] and not cues["hedges"]


def test_summary_scorer_features_have_one_name_each() -> None:
    units = [Unit(0, "In the trial, 12 of 15 patients went into remission in 2024.", "risks", 0.9)]
    assert sentence_features(candidates(units), units).shape == (1, len(FEATURE_NAMES))
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_a_sentence_can_fill_the_topic_its_paragraph_was_nearly_labelled_with() -> None:
    units = [
        Unit(0, "In the trial, 40 of 50 patients were in remission after a year.", "trial_results",
             0.9, {"trial_results": 0.9, "risks": 0.05, "outlook": 0.05}),
        Unit(1, "Serious infections were the main risk, and two patients died of sepsis.",
             "outlook", 0.5, {"trial_results": 0.05, "risks": 0.45, "outlook": 0.5}),
        Unit(2, "Larger trials are planned for next year in three countries.", "outlook", 0.9,
             {"trial_results": 0.05, "risks": 0.05, "outlook": 0.9}),
        Unit(3, "Some of the patients said that the infusion day was a long one.", "risks", 0.6,
             {"trial_results": 0.3, "risks": 0.6, "outlook": 0.1}),
    ]

    def prefers_the_infections_as_the_risk(
        pool: list[Candidate], units: Sequence[Unit], only: Sequence[int] | None = None
    ) -> list[float]:
        chosen = pool if only is None else [pool[i] for i in only]
        return [0.9 if (c.paragraph, c.topic) == (1, "risks") else 0.5 for c in chosen]

    chosen = choose(scored(units, prefers_the_infections_as_the_risk), units, sentences=3)
    assert [(c.paragraph, c.topic) for c in chosen] == [
        (0, "trial_results"), (1, "risks"), (2, "outlook")
    ]
    assert chosen[1].label == "outlook", "a summary sentence keeps its paragraph's label"
