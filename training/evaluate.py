"""Scoring a classifier: per-label metrics, grouped cross-validation, the held-out set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from medbrief.card import LabelScores, Metrics
from medbrief.engine import Analyzer
from medbrief.model import TopicModel
from training.data import LabelledArticle, load_dir


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


def predict_articles(model: TopicModel, articles: Sequence[LabelledArticle]) -> list[list[str]]:
    """The labels the full engine gives each article, read from its raw file when it has one."""
    analyzer = Analyzer(model)
    out: list[list[str]] = []
    for article in articles:
        if article.raw_path is not None:
            record = analyzer.analyze_many([analyzer.read_path(article.raw_path)])[0]
        else:
            record = analyzer.analyze("\n\n".join(article.texts), format="text")
        out.append([p.label for p in record.paragraphs])
    return out


def evaluate_dir(model: TopicModel, directory: Path) -> Metrics:
    """Score a model on every labelled article of a folder (the held-out set)."""
    articles = load_dir(directory)
    predicted = predict_articles(model, articles)
    truth = [label for a in articles for label in a.labels]
    flat = [label for labels in predicted for label in labels]
    labels = sorted(set(model.labels) | set(truth))
    return score(truth, flat, labels, len(articles))


def format_table(metrics: Metrics) -> str:
    """A per-label table with macro-F1, as `medbrief evaluate` prints it."""
    rows = [f"{'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, s in metrics.per_label.items():
        rows.append(f"{label:<16}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>10}")
    rows.append(f"{'macro-F1':<16}{'':>20}{metrics.macro_f1:>10.3f}{metrics.paragraphs:>10}")
    rows.append(f"{'accuracy':<16}{'':>20}{metrics.accuracy:>10.3f}")
    rows.append(f"({metrics.articles} articles, {metrics.paragraphs} paragraphs)")
    return "\n".join(rows)
