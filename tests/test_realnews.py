"""The real-news corpus: outlets, the held-out split, attribution, and page residue."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from medbrief.engine import Analyzer
from medbrief.ingest import read_article
from medbrief.residue import RESIDUE, is_residue_sentence, residue_paragraphs
from medbrief.training.data import LABEL_SUFFIX, heldout_dirs, load_dir, load_labels
from medbrief.training.outlets import host, outlet
from tests.conftest import SEEDS, write_labelled

REAL = SEEDS / "real"
HELDOUT_REAL = SEEDS / "heldout-real"
SOURCES = SEEDS / "real-sources.csv"


def test_outlet_looks_through_archive_addresses_and_joins_an_organisations_hosts() -> None:
    archived = "https://web.archive.org/web/20181218015531/https://www.eurekalert.org/pub/x.php"
    assert host(archived) == "eurekalert.org"
    assert outlet("http://www.reuters.com/article/x") == outlet("https://uk.reuters.com/y")
    assert outlet("http://vitals.msnbc.msn.com/a") == outlet("https://www.nbcnews.com/b")
    assert outlet("https://well.blogs.nytimes.com/2010/x") == "nytimes"
    assert outlet("https://www.npr.org/sections/x") == "npr.org"
    assert outlet("") == "unknown"


def labelled_urls(folder: Path) -> dict[str, str]:
    return {a.name: a.url for a in load_dir(folder) if a.url is not None}


def test_real_held_out_outlets_appear_nowhere_in_training() -> None:
    training = {outlet(url) for url in labelled_urls(REAL).values()}
    heldout = {outlet(url) for url in labelled_urls(HELDOUT_REAL).values()}
    assert len(heldout) >= 20 and len(training) >= 30
    assert not training & heldout


def test_every_real_article_keeps_its_url_in_its_labels_and_in_the_sources_list() -> None:
    with SOURCES.open(encoding="utf-8") as handle:
        listed = {row["id"]: row for row in csv.DictReader(handle)}
    for folder, split in ((REAL, "train"), (HELDOUT_REAL, "heldout")):
        for name, url in labelled_urls(folder).items():
            assert listed[name]["url"] == url and listed[name]["split"] == split
        for path in folder.glob("*" + LABEL_SUFFIX):
            assert load_labels(path).url is not None, path.name


def test_real_reference_sentences_are_copied_from_content_paragraphs() -> None:
    for folder in (REAL, HELDOUT_REAL):
        for article in load_dir(folder):
            path = article.labels_path.with_name(article.name + ".reference.json")
            if not path.is_file():
                continue
            content = " ".join(
                t for t, label in zip(article.texts, article.labels, strict=True)
                if label != "boilerplate"
            )
            for sentence in json.loads(path.read_text(encoding="utf-8"))["sentences"]:
                assert sentence in content, (article.name, sentence)


def test_training_reads_subfolders_but_never_a_held_out_one(tmp_path: Path) -> None:
    rows = [("Accept cookies.", "boilerplate"), ("Nine patients recovered.", "results")]
    write_labelled(tmp_path, "top", rows)
    write_labelled(tmp_path / "real", "nested", rows)
    write_labelled(tmp_path / "heldout-real", "scored", rows)
    names = [a.name for a in load_dir(tmp_path, nested=True)]
    assert names == ["top", "nested"]
    assert [p.name for p in heldout_dirs(tmp_path)] == ["heldout-real"]


def test_a_label_file_naming_two_urls_is_refused(tmp_path: Path) -> None:
    from medbrief.errors import LabelFileError

    path = tmp_path / f"two{LABEL_SUFFIX}"
    path.write_text(
        json.dumps({"text": "A.", "label": "x", "url": "https://a.org/1"}) + "\n"
        + json.dumps({"text": "B.", "label": "y", "url": "https://b.org/2"}) + "\n"
    )
    with pytest.raises(LabelFileError, match=r":2: field 'url'"):
        load_labels(path)


RELEASE = [
    "Drug X Cuts Relapse Rate in Phase 3 Trial",
    "BOSTON, May 1, 2024 -- In a trial of 600 patients, drug X cut relapses by 40 percent.",
    "Side effects were mild, mostly headache and nausea in about one patient in ten.",
    "###",
    "The trial was paid for by the company that makes drug X.",
    "Media contact: Jane Doe, 617-555-0100, jane@example.org",
]


def test_everything_after_a_release_end_marker_is_residue() -> None:
    assert residue_paragraphs(RELEASE) == [False, False, False, True, True, True]


def test_an_about_section_is_residue_up_to_the_next_heading_whatever_it_is_about() -> None:
    # Clarification 23: a release's "About ..." sections on its publisher, its product, the
    # disease or the trial are all boilerplate.
    texts = [
        "In the trial, nine of ten patients improved within a month of starting the drug.",
        "About Halvera Therapeutics",
        "Halvera is a clinical-stage company developing antibodies for skin disease.",
        "About atopic dermatitis",
        "Atopic dermatitis is a chronic inflammatory skin disease that affects many adults.",
        "What patients said",
        "Patients said the itching eased within days of the first dose.",
    ]
    assert residue_paragraphs(texts) == [False, True, True, True, True, False, False]


@pytest.mark.parametrize(
    "heading", ["About a third of adults have it", "About 40 percent respond", "About half"]
)
def test_a_heading_that_opens_with_about_and_a_quantity_opens_no_about_section(
    heading: str,
) -> None:
    texts = [heading, "In the trial, nine of ten patients improved within a month of the drug."]
    assert residue_paragraphs(texts) == [False, False]


@pytest.mark.parametrize(
    "text",
    [
        "This press release contains forward-looking statements that involve risks.",
        "(Reporting by Jane Doe; Editing by Bill Berkrot)",
        "Copyright 2019 HealthDay. All rights reserved.",
        "Photo: Gregory Bull, AP",
        "Sign up for our weekly health newsletter.",
        "Editor's note: This story was first published in May.",
        # Typographic apostrophes and dashes, as real pages print them.
        "Editor’s Note : This study was funded by the maker of the drug.",
        "EDITOR'S NOTE — Jane Doe covers health and medicine for the agency.",
        "A woman travelled hundreds of miles for a delicate operation to replace lymph nodes "
        "lost in cancer surgery. A small but growing number of hospitals offer it. See photos.",
        "Nearly all men over 60 are eligible for statins, analysis suggests Read more",
        "AD",
        "A boy takes part in a lesson in Dhaka, May 19, 2010. REUTERS/Andrew Biraj",
        "If you buy something through a link on this page, we may earn a small commission.",
        "Newsletter Sign Up Continue reading the main story",
        "Journalists: broadcast-quality sound bites with Dr. Shapiro are available below.",
        # A disclosure block, whoever paid (rule 10, clarification 19).
        "Disclosure: This research was partially supported by the device's maker.",
        "Conflicts of interest: Dr. Smith has consulted for the drug's maker.",
    ],
)
def test_residue_paragraphs_on_their_own(text: str) -> None:
    story = ["Nine of ten patients improved in the study, the researchers reported.", text]
    assert residue_paragraphs(story) == [False, True]


@pytest.mark.parametrize(
    "text",
    [
        "Patients in the trial earned nothing for taking part, the authors noted.",
        "Responses were 3/4 in the treated group and 1/4 in the control group.",
        "The AP/ACP guideline panel reviewed the evidence over two years.",
        "Funding for the trial came from the drug's maker, which also designed the study.",
        # An editor's credit glued to the last content sentence leaves it content (rule 6);
        # the credit, a sentence of its own, stays out of summaries.
        "The team now plans a larger trial in 300 patients next year. (Editing by Jane Doe)",
    ],
)
def test_content_near_the_residue_patterns_is_not_residue(text: str) -> None:
    assert residue_paragraphs([text]) == [False]


def test_a_long_paragraph_ending_in_a_prompt_is_not_a_teaser() -> None:
    # A whole article scraped as one paragraph may end with the page's "Read more".
    article = " ".join(["Nine of ten patients improved in the study, the team reported."] * 12)
    assert residue_paragraphs([article + " Read more"]) == [False]
    assert residue_paragraphs(["The photos show the new device. See photos."]) == [True]


@pytest.mark.parametrize(
    ("sentence", "residue"),
    [
        ("For more information, visit www.example.org today.", True),
        ("Founded in 1905, the Society is the leading association of its kind.", True),
        ("Follow us on Twitter for the latest research news.", True),
        ("Call 800-555-0100 to join the study at one of our sites.", True),
        ("This study established in de novo patients that pain relief was similar.", False),
        ("Researchers set out to learn more about how the drug works in the body.", False),
        ("About three-quarters of children have an ear infection by age one.", False),
        ("COURT: Vaccine did not cause autism AUTISM: More likely in kids of older parents "
         "Their families stuck to a strict diet.", True),
        ("The WHO said in March: Vaccines are safe, and the FDA agreed in May.", False),
        # Series notes (rule 20), and content that speaks of series and columns.
        ("(Editing by Steve Addison)", True),
        ("Editor’s note: the trial's sponsor also sponsors this newsletter's summit.", True),
        ("Please verify you’re a human to continue reading.", True),
        ("This story is part of an occasional series.", True),
        ("Welcome to Ask Ana, a weekly column where readers send in health questions.", True),
        ("Part of an ongoing series looking at the science behind health claims.", True),
        ("The trial is part of a series of studies of the drug in older adults.", False),
        ("Patients received a series of weekly injections into the spinal column.", False),
    ],
)
def test_residue_sentences(sentence: str, residue: bool) -> None:
    assert is_residue_sentence(sentence) is residue


def test_residue_is_boilerplate_and_never_summarised(analyzer: Analyzer) -> None:
    record = analyzer.analyze("\n\n".join(RELEASE), format="text")
    after = record.paragraphs[3:]
    assert all(p.label == "boilerplate" and p.forced == RESIDUE for p in after)
    assert all(s.paragraph < 3 for s in record.summary)
    document = read_article("\n\n".join(RELEASE), "text")
    assert [p.forced for p in document.paragraphs][3:] == [RESIDUE] * 3
