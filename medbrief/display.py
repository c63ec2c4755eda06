"""An analysis record as HTML (what a Jupyter notebook shows for one): the summary, the
topic bar, and every paragraph with its label."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medbrief.record import AnalysisRecord

COLOURS = {
    "mechanism": "#4f7cac", "trial_results": "#2e9e6a", "risks": "#d1495b",
    "outlook": "#e3a33b", "boilerplate": "#b8b8b8",
}
OTHER = "#8e6cbf"


def colour(label: str) -> str:
    return COLOURS.get(label, OTHER)


def record_html(record: AnalysisRecord) -> str:
    """The record as a self-contained HTML fragment (no script, inline styles only)."""
    title = escape(record.id or record.source or "article")
    summary = "".join(
        f'<li>{escape(s.text)} <span style="color:{colour(s.label)}">[{escape(s.label)}]'
        "</span></li>"
        for s in record.summary
    ) or "<li><em>no content to summarise</em></li>"
    bar = "".join(
        f'<div title="{escape(label)} {share:.0%}" style="width:{share * 100:.2f}%;'
        f'background:{colour(label)}"></div>'
        for label, share in record.topics.items()
    )
    legend = " ".join(
        f'<span style="color:{colour(label)}">■</span> {escape(label)} {share:.0%}'
        for label, share in record.topics.items()
    )
    chosen = {s.paragraph for s in record.summary}
    paragraphs = "".join(
        f'<p style="border-left:4px solid {colour(p.label)};padding-left:.5em;margin:.3em 0;'
        f'{"color:#999;" if p.label == "boilerplate" else ""}'
        f'{"background:#fff8e0;" if p.index in chosen else ""}">'
        f'<small style="color:{colour(p.label)}">{escape(p.label)} {p.confidence:.2f}</small> '
        f"{escape(p.text)}</p>"
        for p in record.paragraphs
    )
    return (
        f'<div class="medbrief-record"><strong>{title}</strong><ul>{summary}</ul>'
        f'<div style="display:flex;height:12px;border-radius:3px;overflow:hidden">{bar}</div>'
        f'<div style="font-size:smaller">{legend}</div>'
        f"<details><summary>{len(record.paragraphs)} paragraphs</summary>{paragraphs}"
        "</details></div>"
    )
