"""Reading HTML into paragraphs: every text block in order, with trafilatura's verdict."""

from __future__ import annotations

import lxml.html
import trafilatura
from lxml import etree

from medbrief.errors import InputError, InputTooLarge
from medbrief.ingest import Paragraph, collapse

SKIPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"}
)
BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "button",
        "select", "option", "caption",
    }
)  # fmt: skip
DROPPED = "dropped_by_extractor"


def html_paragraphs(html: str, max_paragraphs: int | None = None) -> list[Paragraph]:
    """Every text block of a page in reading order; blocks trafilatura drops are forced.
    A page of more than ``max_paragraphs`` blocks is refused before the extractor runs,
    and one nested deeper than the parser reads (huge_tree: 2048 levels, not libxml2's
    default 256) is refused rather than cut."""
    parser = lxml.html.HTMLParser(huge_tree=True)  # per call: it keeps an error log
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise InputError(f"unreadable HTML ({exc})") from exc
    if any(e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for e in parser.error_log):
        raise InputError("HTML nested too deeply to read whole (libxml2 stops at 2048 levels)")
    blocks = _blocks(root, max_paragraphs)
    kept = _Kept(_extracted_lines(html))
    return [Paragraph(text, None if kept.keeps(text) else DROPPED) for text in blocks]


def _blocks(root: etree._Element, limit: int | None) -> list[str]:
    """The text blocks under ``root`` in document order (walked with an explicit stack, so
    any depth of nesting reads)."""
    blocks: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        text = collapse("".join(buffer))
        buffer.clear()
        if text:
            blocks.append(text)
            if limit is not None and len(blocks) > limit:
                raise InputTooLarge(
                    f"page has more than {limit} paragraphs (the limit)", "paragraphs"
                )

    # Each entry: an element to open, or (when closing) the element whose end is reached.
    stack: list[tuple[etree._Element, bool]] = [(root, False)]
    while stack:
        element, closing = stack.pop()
        tag = element.tag if isinstance(element.tag, str) else ""
        if closing:
            if tag in BLOCKS:
                flush()
            if element.tail:
                buffer.append(element.tail)
            continue
        if tag in SKIPPED or not tag:
            if element.tail:
                buffer.append(element.tail)
            continue
        if tag in BLOCKS:
            flush()
        if tag == "br":
            buffer.append(" ")
        if element.text:
            buffer.append(element.text)
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))
    flush()
    return blocks


def _extracted_lines(html: str) -> list[str]:
    """The normalised text lines trafilatura keeps as the page's main content."""
    text = trafilatura.extract(
        html,
        include_comments=False,
        include_tables=True,
        include_images=False,
        favor_recall=True,
        deduplicate=False,
        fast=True,  # no second opinion from the fallback extractors: a quarter faster
    )
    if not text:
        return []
    return [_norm(line) for line in text.splitlines() if line.strip()]


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _norm(text: str) -> str:
    return collapse(text.translate(_ZERO_WIDTH)).casefold().lstrip("-•* ").strip()


SHINGLE = 5  # words: a block of fewer must match a kept line exactly


class _Kept:
    """The extractor's lines, indexed so that asking about a block costs time in proportion
    to the block, not to the page: a block is kept when it is a kept line, lies inside one,
    or holds one of at least SHINGLE words. Candidate lines are found through their runs of
    SHINGLE words, then checked as strings."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.exact = set(lines)
        self.containing: dict[tuple[str, ...], list[int]] = {}  # every run -> lines with it
        self.starting: dict[tuple[str, ...], list[int]] = {}  # first run -> lines
        for number, line in enumerate(lines):
            words = line.split()
            if len(words) < SHINGLE:
                continue
            self.starting.setdefault(tuple(words[:SHINGLE]), []).append(number)
            for run in {tuple(words[k : k + SHINGLE]) for k in range(len(words) - SHINGLE + 1)}:
                self.containing.setdefault(run, []).append(number)

    def keeps(self, text: str) -> bool:
        if not self.lines:
            return True
        norm = _norm(text)
        if norm in self.exact:
            return True
        words = norm.split()
        if len(words) < SHINGLE:
            return False
        first = tuple(words[:SHINGLE])
        if any(norm in self.lines[i] for i in self.containing.get(first, ())):
            return True
        runs = (tuple(words[k : k + SHINGLE]) for k in range(len(words) - SHINGLE + 1))
        return any(
            self.lines[i] in norm for run in runs for i in self.starting.get(run, ())
        )
