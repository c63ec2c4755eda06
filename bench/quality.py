"""Summary quality on the held-out articles: medbrief against Lead-3 and sumy's TextRank,
LexRank and LSA, all 3 sentences, measured in the same run.

    .venv/bin/python bench/quality.py [--data seeds/heldout] [--details]

Every article is read through ``medbrief.ingest``; medbrief analyses the read document and
the peers summarise the whole page text (every paragraph, boilerplate included, blank-line
separated) through sumy's PlaintextParser with a Punkt tokenizer and an English
abbreviation list. Lead-3 is the first three sentences of that same parse (sumy's parser
drops ALL-CAPS lines as headings). Scores against ``<name>.reference.json``:

- ROUGE-1/2/L F1 (rouge-score, Porter stemming) against the reference sentences joined,
  averaged over articles;
- reference recall: the share of all reference sentences that appear verbatim in the
  summary (exact match after white-space normalisation);
- boilerplate: summary sentences from a paragraph labelled ``boilerplate`` in
  ``<name>.labels.jsonl``; link fragments: sentences from a paragraph medbrief's reader
  splits off as a glued "Read more: ..." link, or containing such a link.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import HELDOUT, MODELS, PunktTokenizer, article_files, lead, page_text, sumy_peers
from benchlib import table as md_table
from rouge_score import rouge_scorer
from sumy.parsers.plaintext import PlaintextParser

from medbrief.engine import Analyzer, Article
from medbrief.model import BOILERPLATE, load_model

TARGET_RECALL = 0.6
_WS = re.compile(r"\s+")
_LINK = re.compile(
    r"\b(?:Read more|Read also|Also read|See also|Related(?: stories| articles| posts)?|"
    r"Recommended|More on this story)\s*:",
    re.IGNORECASE,
)
ROUGE = ("rouge1", "rouge2", "rougeL")


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Sample:
    """One held-out article: what was read, its paragraph labels and reference sentences."""

    name: str
    article: Article
    labels: list[str]
    references: list[str]


@dataclass
class Score:
    """Totals of one system over the held-out articles."""

    rouge: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in ROUGE})
    references: int = 0
    recalled: int = 0
    sentences: int = 0
    boilerplate: int = 0
    links: int = 0
    bad: int = 0  # boilerplate or link fragment (a sentence can be both)
    unattributed: int = 0  # sentences found in no paragraph
    per_article: dict[str, str] = field(default_factory=dict)


def load_samples(analyzer: Analyzer, folder: Path) -> list[Sample]:
    samples = []
    for path in article_files(folder):
        name = path.name.removesuffix(path.suffix)
        labels_path = path.with_name(name + ".labels.jsonl")
        reference_path = path.with_name(name + ".reference.json")
        if not (labels_path.exists() and reference_path.exists()):
            print(f"skipping {path.name}: no labels or reference", file=sys.stderr)
            continue
        article = analyzer.read_path(path)
        records = [
            json.loads(line) for line in labels_path.read_text().splitlines() if line.strip()
        ]
        texts = [p.text for p in article.document.paragraphs]
        if [r["text"].split() for r in records] != [t.split() for t in texts]:
            raise SystemExit(f"{labels_path}: labels do not match the paragraphs as read")
        references = json.loads(reference_path.read_text())["sentences"]
        samples.append(Sample(name, article, [r["label"] for r in records], references))
    return samples


def attribute(sentences: Sequence[str], paragraphs: Sequence[str]) -> list[int | None]:
    """The paragraph each sentence comes from, searching forward in reading order first."""
    normalised = [norm(p) for p in paragraphs]
    out: list[int | None] = []
    cursor = 0
    for sentence in sentences:
        s = norm(sentence)
        order = [*range(cursor, len(normalised)), *range(cursor)]
        found = next((i for i in order if s and s in normalised[i]), None)
        out.append(found)
        cursor = found if found is not None else cursor
    return out


def score_summary(
    score: Score,
    sample: Sample,
    summary: Sequence[str],
    paragraphs: Sequence[int | None],
    scorer: rouge_scorer.RougeScorer,
) -> None:
    document = sample.article.document
    result = scorer.score(" ".join(sample.references), " ".join(summary))
    for key in ROUGE:
        score.rouge[key].append(result[key].fmeasure)
    chosen = {norm(s) for s in summary}
    recalled = sum(norm(r) in chosen for r in sample.references)
    score.references += len(sample.references)
    score.recalled += recalled
    score.sentences += len(summary)
    flags = []
    for sentence, index in zip(summary, paragraphs, strict=True):
        if index is None:
            score.unattributed += 1
        boiler = index is not None and sample.labels[index] == BOILERPLATE
        link = bool(_LINK.search(sentence)) or (
            index is not None and document.paragraphs[index].forced == "link_fragment"
        )
        score.boilerplate += boiler
        score.links += link
        score.bad += boiler or link
        flags.append("B" if boiler else "L" if link else "?" if index is None else "")
    score.per_article[sample.name] = (
        f"{recalled}/{len(sample.references)} R2={result['rouge2'].fmeasure:.2f}"
        + (f" [{','.join(f for f in flags if f)}]" if any(flags) else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=HELDOUT, help="held-out folder")
    parser.add_argument("--model", type=Path, default=MODELS, help="model folder")
    parser.add_argument("--details", action="store_true", help="print per-article results")
    args = parser.parse_args(argv)

    analyzer = Analyzer(load_model(args.model))
    samples = load_samples(analyzer, args.data)
    tokenizer = PunktTokenizer()
    peers = {"Lead-3": lead(tokenizer), **sumy_peers(tokenizer)}
    scorer = rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)
    scores: dict[str, Score] = {"medbrief": Score(), **{name: Score() for name in peers}}
    coverage = 0  # reference sentences the peers' tokenizer yields whole: recall is fair
    for sample in samples:
        parsed = PlaintextParser.from_string(page_text(sample.article.document), tokenizer)
        whole = {norm(str(s)) for s in parsed.document.sentences}
        coverage += sum(norm(r) in whole for r in sample.references)
    records = analyzer.analyze_many([s.article for s in samples])
    for sample, record in zip(samples, records, strict=True):
        texts = [p.text for p in sample.article.document.paragraphs]
        summary = [s.text for s in record.summary]
        score_summary(
            scores["medbrief"], sample, summary, [s.paragraph for s in record.summary], scorer
        )
        page = page_text(sample.article.document)
        for name, summarise in peers.items():
            sentences = summarise(page)
            score_summary(scores[name], sample, sentences, attribute(sentences, texts), scorer)

    print(
        f"medbrief model {analyzer.model.version}; {len(samples)} held-out articles in "
        f"{args.data}, {sum(len(s.references) for s in samples)} reference sentences; "
        "3-sentence summaries\n"
    )
    total = sum(len(s.references) for s in samples)
    print(
        f"the peers' Punkt parse yields {coverage} of the {total} reference sentences as whole "
        "sentences, so exact-match recall is open to them\n"
    )
    rows = []
    for name, s in scores.items():
        rows.append(
            [
                name,
                *(statistics.mean(s.rouge[k]) for k in ROUGE),
                f"{s.recalled / s.references:.3f} ({s.recalled}/{s.references})",
                s.sentences,
                f"{s.boilerplate} ({s.boilerplate / max(s.sentences, 1):.0%})",
                f"{s.links} ({s.links / max(s.sentences, 1):.0%})",
                f"{s.bad} ({s.bad / max(s.sentences, 1):.0%})",
            ]
        )
    print(
        md_table(
            [
                "system",
                "ROUGE-1 F1",
                "ROUGE-2 F1",
                "ROUGE-L F1",
                "reference recall",
                "sentences",
                "boilerplate",
                "link fragments",
                "either",
            ],
            rows,
        )
    )
    unattributed = {n: s.unattributed for n, s in scores.items() if s.unattributed}
    if unattributed:
        print(f"\nsentences found in no paragraph (not counted as boilerplate): {unattributed}")
    if args.details:
        print(
            "\n"
            + md_table(
                ["article", *scores],
                [
                    [sample.name, *(scores[n].per_article[sample.name] for n in scores)]
                    for sample in samples
                ],
            )
        )
        print("\n(recalled/references, ROUGE-2 F1, [B]oilerplate / [L]ink / [?] unattributed)")

    ours = scores["medbrief"]
    recall = ours.recalled / ours.references
    r2 = statistics.mean(ours.rouge["rouge2"])
    best_name, best = max(
        ((n, statistics.mean(s.rouge["rouge2"])) for n, s in scores.items() if n != "medbrief"),
        key=lambda kv: kv[1],
    )
    ok_recall, ok_rouge, ok_clean = recall >= TARGET_RECALL, r2 > best, ours.bad == 0
    print(
        f"\nreference recall {recall:.3f} (target >= {TARGET_RECALL}: "
        f"{'PASS' if ok_recall else 'MISS'}); ROUGE-2 {r2:.3f} vs best peer {best_name} "
        f"{best:.3f}, {r2 / best:.2f}x ({'PASS' if ok_rouge else 'MISS'}); boilerplate or "
        f"link sentences in medbrief summaries: {ours.bad} ({'PASS' if ok_clean else 'MISS'})"
    )
    return 0 if ok_recall and ok_rouge and ok_clean else 1


if __name__ == "__main__":
    sys.exit(main())
