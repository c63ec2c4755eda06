"""Reading an article (plain text, Markdown or HTML) into paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from medbrief import bounded
from medbrief.errors import InputError, InputTooLarge
from medbrief.residue import RESIDUE, residue_paragraphs

Format = Literal["auto", "text", "markdown", "html"]
FORMATS: tuple[Format, ...] = ("auto", "text", "markdown", "html")
SUFFIX_FORMATS: dict[str, Format] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
MAX_BYTES = 5_000_000
MAX_PARAGRAPHS = 10_000
# Markdown nested deeper than this (lists in lists, quotes in quotes) is refused, not cut.
MAX_MARKDOWN_NESTING = 100

_BULLET = re.compile(r"^\s*(?:[•·▪◦‣●*+\-–]|\d{1,3}[.)])\s+(?=\S)")
_LINK_FRAGMENT = re.compile(
    r"^((?:Read more|Read also|Also read|See also|Related|Recommended|More)\s*:\s*"
    r"[^.!?\n]{1,80}?\s[^.!?\n]{1,80}?[a-z0-9)’'\"”])(?=[A-Z](?:[a-z’']|[A-Z]{1,5}\b))"
)
# Signs of Markdown: a heading, quote or fence opening a line; a link or bold text; two
# list items in a row (blank lines between them allowed).
_MD_LINE_SIGN = re.compile(r"#{1,6}\s|>\s|```")
_MD_INLINE_SIGNS = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)|\*\*[^*\n]+\*\*")
_MD_INLINE_HINTS = ("](", "**")
_HTML_SIGNS = re.compile(
    r"<(?:!doctype|html|body|head|p|div|article|h[1-6]|li|ul|span|a\s|br)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Paragraph:
    """One paragraph as read; ``forced`` names why it is boilerplate whatever the model says."""

    text: str
    forced: str | None = None


@dataclass(frozen=True)
class Document:
    """An article read into paragraphs, with the format it was read as."""

    paragraphs: tuple[Paragraph, ...]
    format: Format


def collapse(text: str) -> str:
    """Collapse every run of white space to one space and strip the ends."""
    return " ".join(text.split())


def decode(data: bytes, name: str = "input") -> str:
    """Decode bytes as UTF-8 (or BOM-marked UTF-16); anything else is an InputError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: invalid UTF-16 at byte {exc.start}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    if "\x00" in text:
        raise InputError(f"{name}: looks like binary data (contains NUL characters)")
    return text


def detect_format(text: str) -> Format:
    """Guess whether a text is HTML, Markdown or plain text."""
    head = text[:20_000]
    if "<" in head and _at_least_two(_HTML_SIGNS, head):
        return "html"
    if _markdown_signs(head) >= 2:
        return "markdown"
    return "text"


def _at_least_two(signs: re.Pattern[str], text: str) -> bool:
    return next(islice(signs.finditer(text), 1, None), None) is not None


def _markdown_signs(text: str) -> int:
    """How many Markdown signs a text shows, counting stops at two (line by line: a regex
    scan of a whole plain-text article costs more than reading it)."""
    signs = 0
    if any(hint in text for hint in _MD_INLINE_HINTS):
        signs = len(_MD_INLINE_SIGNS.findall(text))
    item_before = False
    for line in text.splitlines():
        if signs >= 2:
            break
        start = line.lstrip()
        if not start:
            continue
        if not line[0].isspace() and _MD_LINE_SIGN.match(line):
            signs += 1
        is_item = start[0] in "-*+" and start[1:2].isspace()
        if is_item and item_before:
            signs += 1
        item_before = is_item and not item_before
    return signs


def format_for_path(path: Path) -> Format:
    """The format a file's suffix implies (``auto`` when it implies none)."""
    return SUFFIX_FORMATS.get(path.suffix.lower(), "auto")


def read_article(
    source: str | bytes,
    format: Format = "auto",
    name: str = "input",
    max_bytes: int = MAX_BYTES,
    max_paragraphs: int = MAX_PARAGRAPHS,
) -> Document:
    """Read an article into paragraphs; raises InputError for empty or bad input, and
    InputTooLarge for one over ``max_bytes`` or ``max_paragraphs`` (an HTML page is
    refused before its main content is extracted)."""
    size = len(source) if isinstance(source, bytes) else len(source.encode("utf-8"))
    if size > max_bytes:
        raise InputTooLarge(f"{name}: article too large ({size} bytes; the limit is {max_bytes})")
    text = decode(source, name) if isinstance(source, bytes) else source
    if not text.strip():
        raise InputError(f"{name}: empty article")
    if format not in FORMATS:
        raise InputError(f"{name}: unknown format {format!r} (use one of {', '.join(FORMATS)})")
    fmt = detect_format(text) if format == "auto" else format
    try:
        if fmt == "html":
            from medbrief.html import html_paragraphs

            paragraphs = html_paragraphs(text, max_paragraphs)
        elif fmt == "markdown":
            paragraphs = [Paragraph(t) for t in markdown_paragraphs(text)]
        else:
            paragraphs = [Paragraph(t) for t in text_paragraphs(text)]
    except InputTooLarge as exc:
        raise InputTooLarge(f"{name}: {exc}", exc.what) from exc
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc
    if len(paragraphs) > max_paragraphs:
        raise InputTooLarge(
            f"{name}: article has {len(paragraphs)} paragraphs; the limit is {max_paragraphs}",
            "paragraphs",
        )
    paragraphs = mark_residue(split_link_fragments(paragraphs))
    if not paragraphs:
        raise InputError(f"{name}: no readable text")
    return Document(tuple(paragraphs), fmt)


def read_file(
    path: Path, format: Format | None = None, max_bytes: int = MAX_BYTES,
    max_paragraphs: int = MAX_PARAGRAPHS,
) -> Document:
    """Read an article file; the format follows the suffix unless one is given. Only a
    regular file of at most ``max_bytes`` is read (``medbrief.bounded``)."""
    try:
        data = bounded.read_file(path, max_bytes, "article")
    except bounded.TooLarge as exc:
        raise InputTooLarge(f"{path}: {exc}") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return read_article(
        data, format or format_for_path(path), str(path), max_bytes, max_paragraphs
    )


def split_link_fragments(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Split a scraped "Read more: Title" glued onto the next text into its own paragraph."""
    out: list[Paragraph] = []
    for paragraph in paragraphs:
        match = _LINK_FRAGMENT.match(paragraph.text)
        if match and paragraph.forced is None:
            out.append(Paragraph(match.group(1).strip(), forced="link_fragment"))
            out.append(Paragraph(paragraph.text[match.end() :].strip()))
        else:
            out.append(paragraph)
    return out


def mark_residue(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Force page residue (``medbrief.residue``) to be boilerplate."""
    marks = residue_paragraphs([p.text for p in paragraphs])
    return [
        Paragraph(p.text, RESIDUE) if marked and p.forced is None else p
        for p, marked in zip(paragraphs, marks, strict=True)
    ]


def _strip_bullet(line: str) -> tuple[str, bool]:
    match = _BULLET.match(line)
    return (line[match.end() :], True) if match else (line, False)


def text_paragraphs(text: str) -> list[str]:
    """Split plain text into paragraphs: blank lines, one per line, or hard-wrapped lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [block.split("\n") for block in re.split(r"\n[ \t\f\v\u00a0]*\n", text)]
    blocks = [[line.rstrip() for line in block if line.strip()] for block in blocks]
    width = _wrap_width([line for block in blocks for line in block])
    paragraphs: list[str] = []
    for block in blocks:
        current: list[str] = []
        for i, raw in enumerate(block):
            line, bullet = _strip_bullet(raw)
            if current and (bullet or not _continues(block[i - 1], raw, width)):
                paragraphs.append(collapse(" ".join(current)))
                current = []
            current.append(line)
        if current:
            paragraphs.append(collapse(" ".join(current)))
    return [p for p in paragraphs if p]


def _continues(previous: str, line: str, width: int) -> bool:
    """Whether ``line`` continues ``previous`` in text hard-wrapped at ``width`` columns."""
    if width == 0:
        return False
    first_word = line.split(None, 1)[0]
    return len(previous) + 1 + len(first_word) > width


def _wrap_width(lines: list[str]) -> int:
    """The column a text is hard-wrapped at, or 0 when it is not hard-wrapped."""
    if len(lines) < 4:
        return 0
    short = [len(line) for line in lines if len(line) <= 100]
    if len(short) < 0.9 * len(lines):
        return 0
    width = max(short)
    if width < 40:
        return 0
    full = sum(1 for n in short if n >= width - 15)
    return width if full >= 0.4 * len(short) else 0


# markdown-it stops reading at its nesting limit and drops what lies deeper: the limit is
# one past the deepest nesting medbrief reads, so reaching it means text would be lost.
_MARKDOWN = MarkdownIt("commonmark", {"maxNesting": MAX_MARKDOWN_NESTING + 1})
_MD_BLOCKS = {"paragraph_open", "heading_open"}


def markdown_paragraphs(text: str) -> list[str]:
    """Every heading, paragraph and list item of a Markdown text, with syntax removed;
    InputError for Markdown nested deeper than MAX_MARKDOWN_NESTING."""
    try:
        tokens = _MARKDOWN.parse(text)
    except RecursionError as exc:
        raise InputError("Markdown nested too deeply to read") from exc
    if any(token.level > MAX_MARKDOWN_NESTING for token in tokens):
        raise InputError(f"Markdown nested deeper than {MAX_MARKDOWN_NESTING} levels")
    paragraphs: list[str] = []
    for i, token in enumerate(tokens):
        if token.type == "inline" and i > 0 and tokens[i - 1].type in _MD_BLOCKS:
            paragraphs.append(collapse(_inline_text(token.children or [])))
        elif token.type in ("fence", "code_block"):
            paragraphs.append(collapse(token.content))
    return [p for p in paragraphs if p]


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)
