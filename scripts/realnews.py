"""Bring real articles from ../shared/real-news into the labelled corpus.

    python scripts/realnews.py select      # choose articles, write their text and worksheets
    python scripts/realnews.py assemble    # annotations -> NAME.labels.jsonl + NAME.reference.json
    python scripts/realnews.py agreement   # how two independent labellings agree

Articles are chosen per outlet (``training.outlets``): the held-out outlets below give
``seeds/heldout-real/`` and appear nowhere in training; every other outlet may give
``seeds/real/``. A worksheet numbers an article's paragraphs as medbrief reads them and
the sentences a summary may quote; a labeller answers with an annotation file:

    P0 boilerplate
    P1 trial_results
    ...
    REF P1.1 P4.2 P9.1

Annotations live in ``seeds/annotations/first`` (every article), ``reviewed`` (the first
labelling brought in line with the guide's clarifications, for articles labelled before
them), ``second`` (the independent second labelling of some) and ``settled`` (where first
and second disagreed, what the guide gives). ``assemble`` takes settled, else reviewed,
else first.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medbrief.features import ends_sentence  # noqa: E402
from medbrief.ingest import read_file  # noqa: E402
from medbrief.sentences import split_sentences  # noqa: E402
from medbrief.training.outlets import outlet  # noqa: E402

REAL_NEWS = ROOT.parent / "shared" / "real-news" / "articles.jsonl.gz"
TRAIN_DIR = ROOT / "seeds" / "real"
HELDOUT_DIR = ROOT / "seeds" / "heldout-real"
SOURCES = ROOT / "seeds" / "real-sources.csv"
ANNOTATIONS = ROOT / "seeds" / "annotations"
LABELS = ("mechanism", "trial_results", "risks", "outlook", "boilerplate")

# Outlets whose articles are only ever scored: none of their articles is trained on.
HELDOUT_OUTLETS: dict[str, int] = {
    "npr.org": 12, "cbsnews.com": 7, "foxnews.com": 6, "theguardian.com": 6,
    "abcnews.go.com": 5, "statnews.com": 5, "vox.com": 3, "newsweek.com": 4, "chron.com": 2,
    "fivethirtyeight.com": 1, "slate.com": 1, "news.yahoo.com": 1, "wtop.com": 1,
    "thestar.com": 1, "detroitnews.com": 1, "startribune.com": 1, "azcentral.com": 1,
    "articles.courant.com": 1, "articles.sun-sentinel.com": 1, "mercurynews.com": 1,
    "suntimes.com": 1, "oregonlive.com": 1, "huffingtonpost.com": 1, "health.msn.com": 1,
    # press releases
    "newswise.com": 14, "fda.gov": 6, "nih": 5, "jama": 2, "cdc.gov": 2, "bmj.com": 1,
    "asco.org": 1, "aan.com": 1, "uta.edu": 1, "buffalo.edu": 1, "warwick.ac.uk": 1,
    "businesswire.com": 1,
}
TRAIN_OUTLETS: dict[str, int] = {
    "healthday": 22, "reuters": 22, "webmd": 12, "nytimes": 12, "wsj": 10, "latimes": 10,
    "cnn": 9, "washingtonpost": 8, "usatoday": 6, "nbcnews": 4, "philly": 3, "usnews": 5,
    "time": 6, "bostonglobe": 4, "buzzfeed": 3, "chicagotribune": 3, "medicaldaily.com": 2,
    "denverpost.com": 2, "medicalnewstoday.com": 2, "ap": 1,
    # press releases
    "eurekalert.org": 35, "prnewswire.com": 12, "mayoclinic": 2, "ncl.ac.uk": 1,
    "sheffield.ac.uk": 1, "victorchang.edu.au": 1, "med.stanford.edu": 1,
    "newswire.rockefeller.edu": 1, "prweb.com": 1, "newswire.com": 1, "uphs.upenn.edu": 1,
    "hopkinsmedicine.org": 1, "health.ucsd.edu": 1, "med.wisc.edu": 1,
}
# Later rounds of training articles, from the same training outlets (rounds 2 to 5).
MORE_TRAIN_OUTLETS: tuple[dict[str, int], ...] = (
    {
        "healthday": 30, "reuters": 30, "webmd": 20, "nytimes": 20, "wsj": 20, "latimes": 20,
        "cnn": 15, "washingtonpost": 12, "usatoday": 8, "time": 6, "usnews": 6, "nbcnews": 2,
        "bostonglobe": 4, "chicagotribune": 2, "philly": 2, "buzzfeed": 1,
        "eurekalert.org": 50, "prnewswire.com": 14,
    },
    {
        "healthday": 25, "reuters": 25, "webmd": 15, "nytimes": 12, "wsj": 10, "latimes": 10,
        "cnn": 8, "washingtonpost": 6, "usatoday": 4, "time": 3, "usnews": 3,
        "eurekalert.org": 30, "prnewswire.com": 8,
    },
    {
        "healthday": 40, "reuters": 35, "webmd": 20, "nytimes": 20, "wsj": 18, "latimes": 16,
        "cnn": 10, "washingtonpost": 8, "usatoday": 5, "time": 3, "usnews": 3,
        "eurekalert.org": 50, "prnewswire.com": 10,
    },
    {
        "healthday": 40, "reuters": 30, "webmd": 20, "nytimes": 14, "wsj": 12, "latimes": 12,
        "cnn": 6, "washingtonpost": 5, "usatoday": 3, "time": 2, "usnews": 2, "bostonglobe": 2,
        "eurekalert.org": 60, "prnewswire.com": 5,
    },
)
DOUBLE = 30  # articles labelled twice, independently
JOBS = 12  # worksheets are dealt into this many labelling jobs
FIELDS = ["id", "split", "kind", "outlet", "press_office", "url", "title"]
_EUREKALERT_OFFICE = re.compile(r"pub_releases/[^/]+/([a-z0-9&]+)-")


def press_office(url: str) -> str:
    """The outlet, or for a EurekAlert release the issuing press office's code."""
    name = outlet(url)
    match = _EUREKALERT_OFFICE.search(url) if name == "eurekalert.org" else None
    return f"eurekalert:{match.group(1)}" if match else name


def load_real() -> list[dict[str, str]]:
    with gzip.open(REAL_NEWS, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def eligible(row: dict[str, str]) -> bool:
    """Whole articles of a labellable size (no failed scrapes, no book-length features)."""
    words = len(row["text"].split())
    blocks = [b for b in row["text"].split("\n\n") if b.strip()]
    return 150 <= words <= 1500 and 5 <= len(blocks) <= 45


def select(round_: int = 1) -> None:
    """Choose the articles of each outlet (in a later round: more training articles, none
    chosen before) and write their texts and the sources list."""
    more = round_ > 1
    rows = [r for r in load_real() if eligible(r)]
    before = {s["id"]: s for s in sources()} if more else {}
    rows = [r for r in rows if r["id"] not in before]
    by_outlet: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_outlet[outlet(row["url"])].append(row)
    rng = random.Random(11)
    chosen: list[tuple[str, dict[str, str]]] = []
    rounds = (
        (("train", MORE_TRAIN_OUTLETS[round_ - 2]),) if more
        else (("heldout", HELDOUT_OUTLETS), ("train", TRAIN_OUTLETS))
    )
    for split, quota in rounds:
        for name, count in quota.items():
            pool = sorted(by_outlet[name], key=lambda r: r["id"])
            rng.shuffle(pool)
            if name == "eurekalert.org":  # one release per press office first
                seen = {press_office(s["url"]) for s in before.values()}
                pool.sort(key=lambda r: (press_office(r["url"]) in seen
                                         or bool(seen.add(press_office(r["url"])))))
            if len(pool) < count:
                raise SystemExit(f"{name}: {len(pool)} eligible articles, {count} wanted")
            chosen.extend((split, row) for row in pool[:count])
    for folder in (TRAIN_DIR, HELDOUT_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    table = list(before.values()) + [
        {"id": row["id"], "split": split, "kind": row["kind"], "outlet": outlet(row["url"]),
         "press_office": press_office(row["url"]), "url": row["url"], "title": row["title"]}
        for split, row in chosen
    ]
    with SOURCES.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(sorted(table, key=lambda s: s["id"]))
    texts = {row["id"]: row["text"] for row in rows}
    for split, row in chosen:
        folder = HELDOUT_DIR if split == "heldout" else TRAIN_DIR
        (folder / f"{row['id']}.txt").write_text(texts[row["id"]].strip() + "\n", encoding="utf-8")
    print(f"{len(chosen)} articles: {Counter(s for s, _ in chosen)}, "
          f"{Counter(r['kind'] for _, r in chosen)}, "
          f"{len({outlet(r['url']) for _, r in chosen})} outlets, "
          f"{len({press_office(r['url']) for _, r in chosen})} outlets and press offices")


def sources() -> list[dict[str, str]]:
    if not SOURCES.is_file():
        return []
    with SOURCES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def text_path(source: dict[str, str]) -> Path:
    folder = HELDOUT_DIR if source["split"] == "heldout" else TRAIN_DIR
    return folder / f"{source['id']}.txt"


def quotable(paragraph: str) -> list[tuple[int, str, bool]]:
    """A paragraph's sentences, each with whether a summary may quote it."""
    heading = not ends_sentence(paragraph.strip()) and len(paragraph.split()) <= 14
    out = []
    for number, (start, end) in enumerate(split_sentences(paragraph), start=1):
        text = paragraph[start:end].strip()
        ok = not heading and len(text.split()) >= 6 and ends_sentence(text)
        out.append((number, text, ok))
    return out


def worksheet(source: dict[str, str]) -> str:
    document = read_file(text_path(source))
    lines = [
        f"ARTICLE {source['id']}   kind: {source['kind']}   outlet: {source['outlet']}",
        f"TITLE (page title, not part of the text): {source['title']}",
        "",
    ]
    for index, paragraph in enumerate(document.paragraphs):
        parts = []
        for number, text, ok in quotable(paragraph.text):
            parts.append(f"[{index}.{number}] {text}" if ok else text)
        lines.append(f"P{index}: " + " ".join(parts))
        lines.append("")
    return "\n".join(lines)


def worksheets(out: Path, only_new: bool = False, jobs_count: int = JOBS) -> None:
    """Deal the worksheets into ``jobs_count`` folders; the doubly labelled ones go a second
    time to a job other than their first. With ``only_new``: worksheets of the articles that have no
    annotation yet, none labelled twice."""
    chosen = sources()
    if only_new:
        chosen = [s for s in chosen if not (ANNOTATIONS / "first" / f"{s['id']}.ann").is_file()]
    rng = random.Random(5)
    order = list(chosen)
    rng.shuffle(order)
    jobs: list[list[dict[str, str]]] = [[] for _ in range(jobs_count)]
    for k, source in enumerate(order):
        jobs[k % jobs_count].append(source)
    double = [] if only_new else sorted(order[:DOUBLE], key=lambda s: s["id"])
    for k, source in enumerate(double):
        first = order.index(source) % jobs_count
        jobs[(first + 1 + k % (jobs_count - 1)) % jobs_count].append({**source, "second": "1"})
    for number, job in enumerate(jobs):
        folder = out / f"job{number:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for source in job:
            kind = "second" if source.get("second") else "first"
            (folder / f"{source['id']}.{kind}.txt").write_text(worksheet(source), encoding="utf-8")
    if not only_new:
        (out / "double.txt").write_text("".join(s["id"] + "\n" for s in double))
    print(f"{jobs_count} jobs of {[len(j) for j in jobs]} worksheets in {out}")


_LINE = re.compile(r"^P(\d+)\s+([a-z_]+)\s*$")
_REF = re.compile(r"^REF\s+(.*)$")


def parse_annotation(path: Path, count: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Labels of ``count`` paragraphs and reference sentence ids from an annotation file."""
    labels: dict[int, str] = {}
    refs: list[tuple[int, int]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("NOTE"):
            continue
        match = _LINE.match(line)
        if match:
            index, label = int(match.group(1)), match.group(2)
            if label not in LABELS:
                raise ValueError(f"{path}:{number}: unknown label {label!r}")
            if index in labels:
                raise ValueError(f"{path}:{number}: P{index} labelled twice")
            labels[index] = label
            continue
        match = _REF.match(line)
        if match:
            for item in match.group(1).replace(",", " ").split():
                p, _, s = item.removeprefix("P").partition(".")
                refs.append((int(p), int(s)))
            continue
        raise ValueError(f"{path}:{number}: cannot read {line!r}")
    missing = sorted(set(range(count)) - set(labels))
    extra = sorted(set(labels) - set(range(count)))
    if missing or extra:
        raise ValueError(f"{path}: paragraphs missing {missing}, unknown {extra}")
    return [labels[i] for i in range(count)], refs


def annotation(name: str) -> Path | None:
    """The annotation that stands for an article: settled, else reviewed, else first."""
    for kind in ("settled", "reviewed", "first"):
        path = ANNOTATIONS / kind / f"{name}.ann"
        if path.is_file():
            return path
    return None


def assemble() -> None:
    problems = []
    for source in sources():
        name = source["id"]
        path = annotation(name)
        if path is None:
            problems.append(f"{name}: no annotation")
            continue
        raw = text_path(source)
        paragraphs = [p.text for p in read_file(raw).paragraphs]
        try:
            labels, refs = parse_annotation(path, len(paragraphs))
            sentences = []
            for p, s in refs:
                found = {n: (t, ok) for n, t, ok in quotable(paragraphs[p])}
                if s not in found or not found[s][1]:
                    raise ValueError(f"{path}: P{p}.{s} is not a quotable sentence")
                if labels[p] == "boilerplate":
                    raise ValueError(f"{path}: P{p}.{s} quotes a boilerplate paragraph")
                sentences.append(found[s][0])
            no_content = all(label == "boilerplate" for label in labels)
            if len(sentences) != (0 if no_content else 3):
                raise ValueError(f"{path}: {len(sentences)} reference sentences, not 3")
        except (ValueError, IndexError) as exc:
            problems.append(str(exc))
            continue
        url = source["url"]
        raw.with_name(f"{name}.labels.jsonl").write_text("".join(
            json.dumps({"text": t, "label": lab, "url": url}, ensure_ascii=False) + "\n"
            for t, lab in zip(paragraphs, labels, strict=True)), encoding="utf-8")
        if sentences:  # a page with no content (a failed scrape) has no summary
            raw.with_name(f"{name}.reference.json").write_text(
                json.dumps({"url": url, "sentences": sentences}, indent=2, ensure_ascii=False)
                + "\n", encoding="utf-8")
    print("\n".join(problems) or "all annotations assembled")


def agreement(only: Path | None = None) -> None:
    """How the first and second labellings agree (with ``only``: on the articles it lists)."""
    from sklearn.metrics import cohen_kappa_score, f1_score

    first_all: list[str] = []
    second_all: list[str] = []
    refs_same = refs_total = articles = 0
    chosen = set(only.read_text().split()) if only else None
    for path in sorted((ANNOTATIONS / "second").glob("*.ann")):
        if chosen is not None and path.stem not in chosen:
            continue
        source = next(s for s in sources() if s["id"] == path.stem)
        count = len(read_file(text_path(source)).paragraphs)
        a, ra = parse_annotation(ANNOTATIONS / "first" / path.name, count)
        b, rb = parse_annotation(path, count)
        first_all += a
        second_all += b
        refs_same += len(set(ra) & set(rb))
        refs_total += len(ra)
        articles += 1
    per_label = f1_score(first_all, second_all, labels=list(LABELS), average=None)
    print(f"{articles} articles, {len(first_all)} paragraphs labelled twice")
    same = sum(x == y for x, y in zip(first_all, second_all, strict=True))
    print(f"agreement {same / len(first_all):.3f}, "
          f"Cohen's kappa {cohen_kappa_score(first_all, second_all):.3f}, "
          f"macro-F1 {f1_score(first_all, second_all, average='macro'):.3f}")
    for label, f in zip(LABELS, per_label, strict=True):
        print(f"  {label:<14} F1 {f:.3f}")
    print(f"reference sentences chosen by both: {refs_same}/{refs_total}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["select", "worksheets", "assemble", "agreement"])
    parser.add_argument("--out", type=Path, default=Path("/work/labelling"))
    rounds = range(1, len(MORE_TRAIN_OUTLETS) + 2)
    parser.add_argument("--round", type=int, default=1, choices=rounds,
                        help=f"select: 1 chooses the first articles, 2 to {rounds[-1]} add "
                        "training articles; worksheets: after round 1, only for articles "
                        "without an annotation")
    parser.add_argument("--only", type=Path,
                        help="agreement: only the articles this file lists, one id a line")
    parser.add_argument("--jobs", type=int, default=JOBS,
                        help="worksheets: how many labelling jobs to deal them into")
    args = parser.parse_args()
    if args.step == "worksheets":
        worksheets(args.out, args.round > 1, args.jobs)
    elif args.step == "select":
        select(args.round)
    elif args.step == "agreement":
        agreement(args.only)
    else:
        assemble()
