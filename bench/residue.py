"""Page residue in summaries of real articles: tag every article of the real-news
collection and list each summary sentence that looks like residue, with its article id.

    .venv/bin/python bench/residue.py [--data ../shared/real-news/articles.jsonl.gz]
                                      [--model models] [--out bench/out/residue.json]
                                      [--training-outlets-only]

The checks below are the benchmark's own, written from LABELLING.md's rules 8-11 and from
reading real pages, and deliberately wide: a hit is a sentence to look at, not proof. The
script prints every hit, the count per check and per article, and exits 1 when any
summary sentence is a hit. ``--training-outlets-only`` leaves out every article of an
outlet the real held-out set draws from (``seeds/real-sources.csv``): the set to look at
while working on residue, so that the held-out outlets stay unseen until the final run.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from medbrief.engine import Analyzer
from medbrief.errors import InputError
from medbrief.model import load_model
from medbrief.training.outlets import outlet

ROOT = Path(__file__).resolve().parents[1]
REAL_NEWS = ROOT.parent / "shared" / "real-news" / "articles.jsonl.gz"
SOURCES = ROOT / "seeds" / "real-sources.csv"

_I = re.IGNORECASE
_STRAIGHT = str.maketrans("\u2019\u2018", "''")  # curly apostrophes, made straight
# What each check looks for, by name (the list this benchmark reports it checks).
CHECKS: dict[str, re.Pattern[str]] = {
    "forward_looking": re.compile(
        r"forward[- ]looking statements?|safe harbor|actual results (?:may|could) differ"
        r"|undue reliance|Private Securities Litigation", _I),
    "about_organisation": re.compile(
        r"^(?-i:About (?:the )?[A-Z][\w&.\-]*(?:\s[A-Z][\w&.\-]*)*\s*$|About [A-Z][\w&.\- ]{0,60}:)"
        r"|\bis (?:a|an|the) (?:leading |global |clinical[- ]stage |biopharmaceutical |"
        r"biotechnology |nonprofit |non-profit |private |public |independent |national |"
        r"international |research-based |academic |medical )+(?:company|organization|"
        r"organisation|institution|university|center|centre|agency|foundation|hospital|"
        r"health system|research institute)\b(?!.*\b(?:study|trial|found|patients)\b)"
        r"|^(?:headquartered|founded) in \d{4}|\bfor more information,? (?:visit|see|go to)"
        r"|\bvisit (?:us at |our website )?(?:www\.|https?://)", _I),
    "media_contact": re.compile(
        r"media (?:contact|inquiries|relations)|press (?:contact|office|inquiries)"
        r"|\bcontact:|\b\d{3}[-.) ]\s?\d{3}[-.]\d{4}\b|[\w.+-]+@[\w-]+\.(?:com|org|edu|gov)",
        _I),
    "credit": re.compile(
        r"\((?:Reporting|Writing|Editing|Additional reporting) by|\bEditing by\b"
        r"|\b(?:Photo|Image|Video|Graphic|Illustration)(?: credit)?s?:|\((?:AP|Reuters|AFP|"
        r"Getty) (?:Photo|Images)|\bGetty Images\b|\bShutterstock\b|\biStock(?:photo)?\b"
        r"|\bcourtesy of\b|\bStaff writer\b|\bContributing (?:writer|reporter)", _I),
    "caption": re.compile(r"^\(?(?:Photo|Image|Pictured|Above|Left|Right|Top)\b[:)]", _I),
    "copyright": re.compile(r"copyright|©|\ball rights reserved\b|\(c\) \d{4}", _I),
    "newsletter_signup": re.compile(
        r"sign up|subscribe|newsletter|\bfollow (?:us|him|her|them|@)|on (?:Twitter|Facebook"
        r"|Instagram|LinkedIn)\b|\bshare (?:this|on)\b|\bclick here\b|\bread more\b"
        r"|\bcomments?\b.*\b(?:below|policy)\b|\bdownload (?:the|our) app\b|\bpodcast\b", _I),
    "related_headline": re.compile(
        r"^(?:RELATED|READ MORE|MORE|SEE ALSO|WATCH|LISTEN|ALSO)\b\s*:?|^[A-Z0-9 ,'’:\-]{25,}$"),
    "disclosure": re.compile(
        r"^(?:Disclosures?|Conflicts? of interest|Funding|Competing interests?|"
        r"Financial disclosures?)\s*:|\bdeclare[sd]? no (?:competing|conflict)"
        r"|\breport(?:ed|s)? no (?:competing|conflicts?)\b|\bhas received (?:consulting|"
        r"speaking) fees\b", _I),
    "editorial_note": re.compile(
        r"Notes? to editors|Editor'?s note|SEE ORIGINAL STUDY|^#+$|^-?\s*(?:END|ENDS)\s*-?$"
        r"|originally (?:published|appeared)|this (?:article|story) (?:was|has been) "
        r"(?:updated|corrected)|\banswered readers'? questions\b|\bfollow-up here\b"
        r"|\bThis content is\b|^Advertisement\b|^Sponsored\b|\bSponsored content\b", _I),
    "series_note": re.compile(
        r"\b(?:this|the) (?:article|story|post|piece|report) is (?:part|one) of\b"
        r"|\b(?:weekly|monthly|daily|regular|occasional|ongoing) (?:column|series|feature)\b"
        r"|^part of (?:a|an|our) ", _I),
    "robot_check": re.compile(
        r"(?:enable|supports?) JavaScript|are you a robot|verify you are a human|"
        r"cookies? (?:policy|settings)|Terms of (?:Service|Use)|Privacy Policy", _I),
}


def checks_hit(sentence: str) -> list[str]:
    """The names of the checks a sentence trips."""
    # The checks spell apostrophes straight; pages often print them curly.
    text = sentence.strip().translate(_STRAIGHT)
    return [name for name, pattern in CHECKS.items() if pattern.search(text)]


def heldout_outlets() -> set[str]:
    with SOURCES.open(encoding="utf-8") as handle:
        return {row["outlet"] for row in csv.DictReader(handle) if row["split"] == "heldout"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REAL_NEWS)
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "residue.json")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--training-outlets-only", action="store_true")
    args = parser.parse_args()
    analyzer = Analyzer(load_model(args.model))
    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    if args.training_outlets_only:
        unseen = heldout_outlets()
        rows = [row for row in rows if outlet(row["url"]) not in unseen]
    started = time.perf_counter()
    hits: list[dict[str, object]] = []
    per_check: Counter[str] = Counter()
    sentences = unreadable = 0
    for start in range(0, len(rows), args.batch):
        batch = []
        for row in rows[start : start + args.batch]:
            try:
                batch.append(analyzer.read(row["text"], "text", id=row["id"]))
            except InputError:
                unreadable += 1
        for record in analyzer.analyze_many(batch):
            for s in record.summary:
                sentences += 1
                found = checks_hit(s.text)
                if found:
                    per_check.update(found)
                    hits.append({"id": record.id, "checks": found, "paragraph": s.paragraph,
                                 "label": s.label, "text": s.text})
    seconds = time.perf_counter() - started
    for hit in hits:
        print(f"{hit['id']}  [{', '.join(hit['checks'])}]  {hit['text']}")  # type: ignore[arg-type]
    print(f"\n{len(rows)} articles ({unreadable} unreadable), {sentences} summary sentences, "
          f"{len(hits)} look like residue, in {len({h['id'] for h in hits})} articles "
          f"({seconds:.1f} s, model {analyzer.model.version})")
    print("checks: " + ", ".join(f"{name} {per_check[name]}" for name in CHECKS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "model": analyzer.model.version, "articles": len(rows), "unreadable": unreadable,
        "summary_sentences": sentences, "residue": hits,
        "checks": {name: pattern.pattern for name, pattern in CHECKS.items()},
        "per_check": dict(per_check),
    }, indent=1) + "\n")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
