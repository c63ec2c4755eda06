"""`medbrief evaluate --report DIR`: an HTML page (and its PNG figures) of how a model does
on each held-out folder: the per-label table, the confusion matrix, a reliability diagram
(confidence against accuracy, with and without calibration), and the worst-classified
paragraphs with what drove their labels. Needs matplotlib (``medbrief[report]``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from medbrief.errors import MedbriefError
from medbrief.explain import explain
from medbrief.features import samples
from medbrief.model import TopicModel
from medbrief.training.calibration import BINS
from medbrief.training.evaluate import Assessment, assess

WORST = 12  # paragraphs listed per held-out folder

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 0 auto; padding: 1rem;
       color: #1d1d1f; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { padding: .2rem .6rem;
       border-bottom: 1px solid #ddd; text-align: right; } th:first-child, td:first-child {
       text-align: left; }
.figures { display: flex; gap: 1rem; flex-wrap: wrap; } .figures img { max-width: 520px; }
.worst p { margin: .2rem 0 .6rem; } .worst small { color: #555; }
"""


def write_report(model: TopicModel, folders: list[Path], out: Path) -> Path:
    """Write ``out/index.html`` and its figures; returns the page's path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MedbriefError("--report needs matplotlib: pip install 'medbrief[report]'") from exc
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for folder in folders:
        result = assess(model, folder)
        name = folder.name
        _confusion(plt, result, out / f"{name}-confusion.png")
        _reliability(plt, model, result, out / f"{name}-reliability.png")
        sections.append(_section(model, name, result))
    card = model.card
    calibration = card.calibration
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>medbrief evaluation</title>"
        f"<style>{STYLE}</style></head><body><h1>medbrief evaluation</h1>"
        f"<p>Model <code>{escape(card.version)}</code> ({escape(card.features)} features), "
        f"trained on {card.data.articles} articles ({card.data.real_articles} real, from "
        f"{card.data.outlets} outlets)."
        + (f" Confidences calibrated by temperature {calibration.temperature:.3f}: expected "
           f"calibration error in cross-validation {calibration.ece_before:.3f} before, "
           f"{calibration.ece_after:.3f} after; paragraphs under "
           f"{calibration.unsure_below:.2f} are marked unsure." if calibration else
           " Confidences are not calibrated (trained without cross-validation).")
        + "</p>" + "".join(sections) + "</body></html>"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _section(model: TopicModel, name: str, result: Assessment) -> str:
    m = result.metrics
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td>{s.precision:.3f}</td><td>{s.recall:.3f}</td>"
        f"<td>{s.f1:.3f}</td><td>{s.support}</td></tr>"
        for label, s in m.per_label.items()
    )
    extra = []
    if m.summary is not None:
        extra.append(f"summaries recall {m.summary.recalled} of {m.summary.references} "
                     f"reference sentences ({m.summary.recall:.3f})")
    if m.calibration_error is not None:
        extra.append(f"expected calibration error {m.calibration_error:.3f} "
                     f"({m.calibration_error_uncalibrated:.3f} uncalibrated)")
    return (
        f"<section><h2>{escape(name)}</h2><p>{m.articles} articles, {m.paragraphs} paragraphs:"
        f" macro-F1 <strong>{m.macro_f1:.3f}</strong>, accuracy {m.accuracy:.3f}"
        + "".join(f"; {e}" for e in extra) + ".</p>"
        "<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>support</th></tr>{rows}</table>"
        f"<div class='figures'><img alt='confusion matrix of {escape(name)}' "
        f"src='{escape(name)}-confusion.png'><img alt='reliability diagram of {escape(name)}' "
        f"src='{escape(name)}-reliability.png'></div>"
        f"<h3>The {WORST} worst-classified paragraphs</h3><div class='worst'>"
        + _worst(model, result) + "</div></section>"
    )


def _worst(model: TopicModel, result: Assessment) -> str:
    """The paragraphs whose true label got the lowest probability, with the shares that
    drove the label given and the true one."""
    if not set(result.truth) <= set(model.labels):
        return "<p>(the folder's labels are not the model's)</p>"
    index = np.array([model.labels.index(label) for label in result.truth])
    given = result.calibrated[np.arange(len(index)), index]
    where = [(a, r, i) for a, r in zip(result.articles, result.records, strict=True)
             for i in range(len(r.paragraphs))]
    parts = []
    for flat in np.argsort(given)[:WORST]:
        article, record, i = where[flat]
        paragraph = record.paragraphs[i]
        texts = [p.text for p in record.paragraphs]
        why = explain(model.linear, samples(texts))[i]
        truth = result.truth[flat]

        def shares(label: str, why: dict = why) -> str:  # type: ignore[type-arg]
            return ", ".join(f"{escape(c.feature)} {c.value:+.2f}" for c in why[label].features[:5])

        parts.append(
            f"<p><strong>{escape(article.name)} #{i}</strong>: labelled "
            f"<em>{escape(truth)}</em>, given <em>{escape(paragraph.label)}</em> "
            f"({paragraph.confidence:.2f}; {escape(truth)} {given[flat]:.2f})<br>"
            f"{escape(paragraph.text[:400])}<br><small>for {escape(paragraph.label)}: "
            f"{shares(paragraph.label)}<br>for {escape(truth)}: {shares(truth)}</small></p>"
        )
    return "".join(parts)


def _confusion(plt: object, result: Assessment, path: Path) -> None:
    m = result.metrics
    matrix = np.array(m.confusion)
    figure, axes = plt.subplots(figsize=(5.2, 4.4))  # type: ignore[attr-defined]
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(m.labels)), m.labels, rotation=35, ha="right")
    axes.set_yticks(range(len(m.labels)), m.labels)
    axes.set_xlabel("given")
    axes.set_ylabel("true")
    for (r, c), value in np.ndenumerate(matrix):
        axes.text(c, r, str(value), ha="center", va="center",
                  color="white" if value > matrix.max() / 2 else "black")
    axes.set_title("Confusion matrix")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)  # type: ignore[attr-defined]


def _reliability(plt: object, model: TopicModel, result: Assessment, path: Path) -> None:
    figure, axes = plt.subplots(figsize=(5.2, 4.4))  # type: ignore[attr-defined]
    axes.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect")
    if set(result.truth) <= set(model.labels):
        truth = np.array([model.labels.index(label) for label in result.truth])
        for probs, name in ((result.uncalibrated, "uncalibrated"),
                            (result.calibrated, "calibrated")):
            confidence = probs.max(axis=1)
            correct = probs.argmax(axis=1) == truth
            which = np.minimum((confidence * BINS).astype(int), BINS - 1)
            xs = [confidence[which == b].mean() for b in range(BINS) if (which == b).any()]
            ys = [correct[which == b].mean() for b in range(BINS) if (which == b).any()]
            axes.plot(xs, ys, marker="o", label=name)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title("Reliability")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)  # type: ignore[attr-defined]
