"""Reading articles: every layout users paste, sentences, fragments and bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from medbrief.errors import InputError
from medbrief.ingest import detect_format, read_article, read_file
from medbrief.sentences import sentences
from medbrief.training.data import LABEL_SUFFIX, load_labels, raw_article_for
from tests.conftest import HELDOUT, SEEDS

PARAS = [
    "Lupus is a chronic autoimmune disease in which the immune system attacks healthy "
    "tissue, causing inflammation in the joints, skin and kidneys of the people it affects.",
    "Five of nine patients treated in the trial went into remission within three months, "
    "and the remissions have lasted for the whole eleven months of follow-up so far.",
    "The treatment needs chemotherapy first, which leaves patients open to infection for "
    "several weeks, and it costs hundreds of thousands of dollars per patient.",
]


def texts(source: str | bytes, fmt: str = "auto") -> list[str]:
    return [p.text for p in read_article(source, fmt).paragraphs]  # type: ignore[arg-type]


def test_blank_line_paragraphs() -> None:
    assert texts("\n\n".join(PARAS)) == PARAS


def test_one_paragraph_per_line() -> None:
    assert texts("Headline Here\n" + "\n".join(PARAS)) == ["Headline Here", *PARAS]


def test_hard_wrapped_lines_are_joined() -> None:
    wrapped = "\n\n".join(["A Short Headline", *(textwrap.fill(p, width=60) for p in PARAS)])
    assert wrapped.count("\n") > 8
    assert texts(wrapped) == ["A Short Headline", *PARAS]


def test_windows_line_endings_and_bullets() -> None:
    text = "Key points\r\n\r\n  • First point here.\r\n  • Second point here.\r\n- Third one."
    assert texts(text) == ["Key points", "First point here.", "Second point here.", "Third one."]


def test_markdown_syntax_removed_and_list_items_split() -> None:
    md = (
        "# A **bold** headline\n\nSome *emphasis* and a [link](https://x.org) here,\n"
        "wrapped over two lines.\n\n- first item\n- second `item`\n\n> A quoted line.\n\n---\n"
    )
    assert detect_format(md) == "markdown"
    assert texts(md) == [
        "A bold headline",
        "Some emphasis and a link here, wrapped over two lines.",
        "first item",
        "second item",
        "A quoted line.",
    ]


HTML = """<!doctype html><html><head><title>t</title><script>var x = 1;</script></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
<div class="consent"><p>We use cookies to improve your experience. Accept all cookies</p></div>
<article><h1>New drug halves migraine days</h1>
<p>A new drug cut the number of migraine days by half in a trial of 800 patients,
researchers reported on Monday in a leading medical journal.</p>
<p>The drug works by blocking a protein called CGRP that <strong>widens blood vessels</strong>
in the brain and sets off the pain signals of an attack.</p>
<p>Side effects included constipation and mild nausea in about 5% of patients, the
researchers said in their report on the two-year study.</p>
<!-- a comment that must not show -->
</article>
<footer><p>&copy; 2025 Health Daily. All rights reserved.</p></footer></body></html>"""


def test_html_blocks_kept_in_order_and_dropped_blocks_forced() -> None:
    doc = read_article(HTML)
    assert doc.format == "html"
    by_text = {p.text: p.forced for p in doc.paragraphs}
    assert [p.text for p in doc.paragraphs][:3] == [
        "Home", "News", "We use cookies to improve your experience. Accept all cookies",
    ]
    assert "var x" not in " ".join(by_text) and "comment" not in " ".join(by_text)
    assert by_text["Home"] == "dropped_by_extractor"
    assert by_text["© 2025 Health Daily. All rights reserved."] == "dropped_by_extractor"
    content = [t for t in by_text if t.startswith(("A new drug", "The drug works", "Side effects"))]
    assert len(content) == 3 and all(by_text[t] is None for t in content)
    assert "widens blood vessels in the brain" in content[1]


def test_link_fragment_glued_to_text_is_split_off() -> None:
    text = "Read more: How CAR-T Could Transform LupusBut in lupus, that control breaks down."
    doc = read_article(text)
    assert [(p.text, p.forced) for p in doc.paragraphs] == [
        ("Read more: How CAR-T Could Transform Lupus", "link_fragment"),
        ("But in lupus, that control breaks down.", None),
    ]


def test_link_fragment_before_an_acronym() -> None:
    doc = read_article("Related: What My Mother Taught MeALS, if you have it, is cruel.")
    assert doc.paragraphs[0].text == "Related: What My Mother Taught Me"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith of the U.K. said approx. 2.5 mg was used, e.g. in trial No. 5. It worked.",
            ["Dr. Smith of the U.K. said approx. 2.5 mg was used, e.g. in trial No. 5.",
             "It worked."],
        ),
        ("“It works,” she said. “We are thrilled.” Then she left.",
         ["“It works,” she said.", "“We are thrilled.”", "Then she left."]),
        ("The dose was 2 mg. Patients improved.", ["The dose was 2 mg.", "Patients improved."]),
        ("Rates fell 0.8% vs. 1.2% in 2024. What next?",
         ["Rates fell 0.8% vs. 1.2% in 2024.", "What next?"]),
    ],
)
def test_sentences_split_around_abbreviations_decimals_and_quotes(
    text: str, expected: list[str]
) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty article"),
        (b"  \n\n \t ", "empty article"),
        (b"caf\xe9 au lait \xff\xfe\xfa", "not UTF-8"),
        (b"abc\x00def", "binary"),
    ],
)
def test_bad_input_gives_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_article(data, name="upload.txt")


def test_huge_input_is_refused_with_the_limit() -> None:
    with pytest.raises(InputError, match="too large"):
        read_article("word " * 1000, max_bytes=1000)


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.txt"):
        read_file(tmp_path / "missing.txt")


def corpus_label_files() -> list[Path]:
    folders = (SEEDS, HELDOUT, SEEDS / "real", SEEDS / "heldout-real")
    return sorted(p for folder in folders for p in folder.glob("*" + LABEL_SUFFIX))


def test_corpus_covers_every_layout() -> None:
    suffixes = {raw.suffix for p in corpus_label_files() if (raw := raw_article_for(p))}
    assert suffixes == {".txt", ".md", ".html"}


@pytest.mark.parametrize("labels_path", corpus_label_files(), ids=lambda p: p.name)
def test_corpus_article_reads_back_as_its_labelled_paragraphs(labels_path: Path) -> None:
    raw = raw_article_for(labels_path)
    assert raw is not None, f"{labels_path.name} has no raw article beside it"
    expected = load_labels(labels_path).texts
    assert [p.text for p in read_file(raw).paragraphs] == expected
