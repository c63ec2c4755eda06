"""Summary recall by grouped cross-validation on the training articles (never the held-out).

    .venv/bin/python bench/summary_cv.py [--data seeds] [--folds 5] [--misses]

The articles of ``--data`` (and its subfolders but the held-out ones) that have a
``<name>.reference.json`` are dealt into ``--folds`` folds by outlet (the i-th outlet by
name goes to fold i mod k; an article written here is an outlet of its own). For each
fold, a model (topic classifier and summary scorer) is trained by ``training.train.train``
on a folder holding the other folds' articles, exactly as ``medbrief train`` would train
it, and the fold's articles are summarised (3 sentences, the default word budget) two ways:

- predicted: the engine reads the raw article and labels its paragraphs with the fold's
  classifier (cross-validated labels and confidences, as on unseen articles);
- gold: the labelled paragraphs with their annotated labels (confidence 1), which isolates
  the choice of sentences from the classifier's errors.

Reference recall is the share of reference sentences that appear verbatim in the summary
(white-space normalised), as in bench/quality.py; ROUGE-2 F1 is printed beside it.
``--misses`` lists every reference sentence not chosen with the reason: its paragraph was
labelled with another topic or as boilerplate, it is no candidate (heading, too short, no
final stop), or another sentence of its topic was preferred (its rank in the topic shown).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import SEEDS
from benchlib import table as md_table
from rouge_score import rouge_scorer

from medbrief.engine import Analyzer
from medbrief.model import BOILERPLATE, TopicModel
from medbrief.scorer import SentenceScorer
from medbrief.summary import Candidate, Unit, choose, scored
from medbrief.training.data import (
    LABEL_SUFFIX,
    REFERENCE_SUFFIX,
    LabelledArticle,
    load_dir,
    load_references,
)
from medbrief.training.train import train

_WS = re.compile(r"\s+")
VIEWS = ("predicted", "gold")


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass
class Tally:
    """Recall and ROUGE-2 of one view over the articles summarised so far."""

    references: int = 0
    recalled: int = 0
    rouge2: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recalled / max(self.references, 1)


def fold_of(articles: Sequence[LabelledArticle], folds: int) -> list[int]:
    """Each article's fold: whole groups (outlets, or articles written here) together."""
    groups = sorted({a.group for a in articles})
    return [groups.index(a.group) % folds for a in articles]


def fit_model(articles: Sequence[LabelledArticle]) -> TopicModel:
    """The model ``medbrief train`` makes from these articles (their files linked into a
    folder of their own), without its cross-validation."""
    with tempfile.TemporaryDirectory(prefix="summary-cv-") as folder:
        for article in articles:
            source = article.labels_path.parent
            files = [f"{article.name}{LABEL_SUFFIX}", f"{article.name}{REFERENCE_SUFFIX}"]
            if article.raw_path is not None:
                files.append(article.raw_path.name)
            for name in files:
                if (source / name).is_file():
                    (Path(folder) / name).symlink_to((source / name).resolve())
        return train(Path(folder), None, cross_validation=False)


def predicted_units(analyzer: Analyzer, article: LabelledArticle) -> tuple[list[Unit], list[str]]:
    """The content units the engine would summarise, and every paragraph's predicted label."""
    assert article.raw_path is not None
    record = analyzer.analyze_many([analyzer.read_path(article.raw_path)])[0]
    units = [
        Unit(p.index, p.text, p.label, p.confidence, p.scores)
        for p in record.paragraphs
        if p.label != BOILERPLATE and p.forced is None
    ]
    return units, [p.label for p in record.paragraphs]


def gold_units(article: LabelledArticle) -> list[Unit]:
    return [
        Unit(i, text, label, 1.0)
        for i, (text, label) in enumerate(zip(article.texts, article.labels, strict=True))
        if label != BOILERPLATE
    ]


def explain(
    reference: str,
    article: LabelledArticle,
    labels: Sequence[str],
    pool: Sequence[Candidate],
    chosen: Sequence[Candidate],
) -> str:
    """Why a reference sentence is not in the summary."""
    target = norm(reference)
    home = next((i for i, t in enumerate(article.texts) if target in norm(t)), None)
    gold = article.labels[home] if home is not None else "?"
    label = labels[home] if home is not None and home < len(labels) else "?"
    mine = next((c for c in pool if norm(c.text) == target), None)
    if label != gold:
        why = f"labelled {label}, annotated {gold}"
    elif mine is None:
        why = "no candidate"
    else:
        topic = [c for c in pool if c.topic == mine.topic]
        rank = topic.index(mine)
        took = [c for c in chosen if c.topic == mine.topic]
        why = f"rank {rank + 1}/{len(topic)} in {mine.topic}" + (
            f"; chose {took[0].text[:70]!r}" if took else "; topic not chosen"
        )
    return f"{article.name} p{home}: {why}\n    missed {reference[:110]!r}"


def run(data: Path, folds: int, show_misses: bool) -> dict[str, Tally]:
    articles = [
        a for a in load_dir(data, nested=True)
        if (a.labels_path.parent / f"{a.name}{REFERENCE_SUFFIX}").is_file()
        and a.raw_path is not None
    ]
    scorer_rouge = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
    tallies = {view: Tally() for view in VIEWS}
    assignment = fold_of(articles, folds)
    for fold in range(folds):
        test = [a for a, f in zip(articles, assignment, strict=True) if f == fold]
        model = fit_model([a for a, f in zip(articles, assignment, strict=True) if f != fold])
        analyzer = Analyzer(model)
        rescorer = SentenceScorer(model.scorer) if model.scorer is not None else None
        for article in test:
            path = article.labels_path.parent / f"{article.name}{REFERENCE_SUFFIX}"
            references = load_references(path)
            views = {"predicted": predicted_units(analyzer, article), "gold": None}
            for view in VIEWS:
                if view == "predicted":
                    units, labels = views["predicted"]  # type: ignore[misc]
                else:
                    units, labels = gold_units(article), list(article.labels)
                pool = scored(units, rescorer)
                summary = choose(pool, units)
                chosen = {norm(c.text) for c in summary}
                tally = tallies[view]
                tally.references += len(references)
                tally.recalled += sum(norm(r) in chosen for r in references)
                result = scorer_rouge.score(
                    " ".join(references), " ".join(c.text for c in summary)
                )
                tally.rouge2.append(result["rouge2"].fmeasure)
                tally.misses.extend(
                    explain(r, article, labels, pool, summary)
                    for r in references
                    if norm(r) not in chosen
                )
    if show_misses:
        for view in VIEWS:
            print(f"## misses, {view} labels\n")
            print("\n".join(tallies[view].misses) + "\n")
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SEEDS, help="training folder")
    parser.add_argument("--folds", type=int, default=5, help="folds by article")
    parser.add_argument("--misses", action="store_true", help="list the missed references")
    args = parser.parse_args(argv)
    if args.data.resolve() == (SEEDS / "heldout").resolve():
        raise SystemExit("summary_cv measures on training articles; the held-out set is not one")
    started = time.perf_counter()
    tallies = run(args.data, args.folds, args.misses)
    rows = [
        [
            f"{view} labels",
            f"{t.recall:.3f} ({t.recalled}/{t.references})",
            statistics.mean(t.rouge2) if t.rouge2 else 0.0,
        ]
        for view, t in tallies.items()
    ]
    print(md_table(["view", "reference recall", "ROUGE-2 F1"], rows))
    print(
        f"\n{args.folds}-fold grouped cross-validation on {args.data}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
