"""Scoring a classifier: per-label metrics, grouped cross-validation, the held-out sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from medbrief.card import LabelScores, Metrics, SummaryScores
from medbrief.engine import Analyzer
from medbrief.features import samples
from medbrief.model import BOILERPLATE, TopicModel, temperature_scaled
from medbrief.record import AnalysisRecord
from medbrief.training.calibration import expected_calibration_error
from medbrief.training.data import REFERENCE_SUFFIX, LabelledArticle, load_dir, load_references

# Cross-validation folds: every group is left out once, in at most this many folds.
CV_FOLDS = 5


def group_folds(groups: Sequence[str]) -> GroupKFold | LeaveOneGroupOut:
    """Folds that leave whole groups (outlets, or articles written here) out: one group at
    a time when there are few, else CV_FOLDS folds of similar size."""
    return LeaveOneGroupOut() if len(set(groups)) <= CV_FOLDS else GroupKFold(CV_FOLDS)


def score(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str], articles: int
) -> Metrics:
    """Per-label precision/recall/F1, macro-F1, accuracy and the confusion matrix."""
    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_label = {
        label: LabelScores(
            precision=round(float(p[i]), 4), recall=round(float(r[i]), 4),
            f1=round(float(f[i]), 4), support=int(s[i]),
        )
        for i, label in enumerate(labels)
    }
    present = [label for label in labels if per_label[label].support > 0]
    macro = sum(per_label[label].f1 for label in present) / max(len(present), 1)
    return Metrics(
        per_label=per_label,
        macro_f1=round(macro, 4),
        accuracy=round(float(accuracy_score(truth, predicted)), 4),
        labels=labels,
        confusion=confusion_matrix(truth, predicted, labels=labels).tolist(),
        articles=articles,
        paragraphs=len(truth),
    )


def analyze_articles(
    model: TopicModel, articles: Sequence[LabelledArticle]
) -> list[AnalysisRecord]:
    """The full engine's record of each article, read from its raw file when it has one."""
    analyzer = Analyzer(model)
    out: list[AnalysisRecord] = []
    for article in articles:
        if article.raw_path is not None:
            out.append(analyzer.analyze_many([analyzer.read_path(article.raw_path)])[0])
        else:
            out.append(analyzer.analyze("\n\n".join(article.texts), format="text"))
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


def summary_scores(
    articles: Sequence[LabelledArticle], records: Sequence[AnalysisRecord]
) -> SummaryScores | None:
    """How the summaries meet the articles' reference sentences, and how many summary
    sentences come from a paragraph labelled boilerplate; None without references."""
    references = recalled = boilerplate = 0
    for article, record in zip(articles, records, strict=True):
        boilerplate += sum(article.labels[s.paragraph] == BOILERPLATE for s in record.summary)
        path = article.labels_path.with_name(article.name + REFERENCE_SUFFIX)
        if not path.is_file():
            continue
        chosen = {_norm(s.text) for s in record.summary}
        wanted = [_norm(s) for s in load_references(path)]
        references += len(wanted)
        recalled += sum(s in chosen for s in wanted)
    if references == 0:
        return None
    return SummaryScores(
        references=references, recalled=recalled, recall=round(recalled / references, 4),
        boilerplate_sentences=boilerplate,
    )


@dataclass(frozen=True)
class Assessment:
    """A model on a held-out folder: the scores, and what they were computed from."""

    metrics: Metrics
    articles: list[LabelledArticle]
    records: list[AnalysisRecord]
    uncalibrated: np.ndarray  # the classifier's probabilities, every paragraph, in order
    calibrated: np.ndarray  # the same as the records give them
    truth: list[str]


def assess(model: TopicModel, directory: Path) -> Assessment:
    """Score a model on every labelled article of a folder (a held-out set): paragraph
    labels, the summaries against the reference sentences, and how well its confidence
    matches its accuracy, with and without its calibration."""
    articles = load_dir(directory)
    records = analyze_articles(model, articles)
    truth = [label for a in articles for label in a.labels]
    flat = [p.label for record in records for p in record.paragraphs]
    labels = sorted(set(model.labels) | set(truth))
    metrics = score(truth, flat, labels, len(articles))
    raw = [model.linear.predict_proba(samples([p.text for p in r.paragraphs])) for r in records]
    uncalibrated = np.vstack(raw) if raw else np.zeros((0, len(model.labels)))
    temperature = model.card.calibration.temperature if model.card.calibration else 1.0
    calibrated = temperature_scaled(uncalibrated, temperature)
    update: dict[str, object] = {"summary": summary_scores(articles, records)}
    if set(truth) <= set(model.labels) and truth:
        index = [model.labels.index(label) for label in truth]
        update["calibration_error"] = round(expected_calibration_error(calibrated, index), 4)
        update["calibration_error_uncalibrated"] = round(
            expected_calibration_error(uncalibrated, index), 4
        )
    return Assessment(metrics.model_copy(update=update), articles, records, uncalibrated,
                      calibrated, truth)


def evaluate_dir(model: TopicModel, directory: Path) -> Metrics:
    """The scores of ``assess``."""
    return assess(model, directory).metrics


def format_table(metrics: Metrics) -> str:
    """A per-label table with macro-F1, as `medbrief evaluate` prints it."""
    rows = [f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, s in metrics.per_label.items():
        rows.append(f"{label:<16}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10}")
    rows.append(f"{'macro-F1':<16}{'':>20}{metrics.macro_f1:>10.3f}{metrics.paragraphs:>10}")
    rows.append(f"{'accuracy':<16}{'':>20}{metrics.accuracy:>10.3f}")
    rows.append(f"({metrics.articles} articles, {metrics.paragraphs} paragraphs)")
    if metrics.calibration_error is not None:
        rows.append(f"expected calibration error {metrics.calibration_error:.3f} "
                    f"({metrics.calibration_error_uncalibrated:.3f} uncalibrated)")
    if metrics.summary is not None:
        summary = metrics.summary
        rows.append(
            f"summaries: {summary.recalled} of {summary.references} reference sentences "
            f"recalled ({summary.recall:.3f}), {summary.boilerplate_sentences} from boilerplate"
        )
    return "\n".join(rows)
