"""Shared pieces of the benchmarks: corpora, the sumy peers, generated articles, timing.

The benchmark scripts import this module as a sibling (``python bench/speed.py`` puts
``bench/`` on ``sys.path``); nothing here is part of medbrief itself.
"""

from __future__ import annotations

import html
import json
import random
import re
import statistics
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
from sumy.nlp.stemmers import Stemmer
from sumy.nlp.tokenizers import Tokenizer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from medbrief.engine import Analyzer, Article
from medbrief.features import ends_sentence
from medbrief.ingest import SUFFIX_FORMATS, Document
from medbrief.model import BOILERPLATE
from medbrief.sentences import sentences as split_into_sentences

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SEEDS = ROOT / "seeds"
HELDOUT = SEEDS / "heldout"
MODELS = ROOT / "models"
SUMMARY_SENTENCES = 3

# --------------------------------------------------------------------------- sumy peers

# Abbreviations Punkt must not end a sentence on (lower case, no final period), the kind
# NLTK's pre-trained English model has learnt; "et al." is the token "al".
ENGLISH_ABBREVIATIONS = frozenset(
    """
    dr mr mrs ms prof sr jr st mt rev gen col lt sgt capt gov sen rep hon
    u.s u.k u.n e.u u.s.a a.m p.m e.g i.e etc vs v no nos approx ca fig figs al cf
    inc ltd co corp dept univ assn bros est
    jan feb mar apr jun jul aug sep sept oct nov dec
    mass calif fla ill penn wash conn ariz colo
    """.split()
)


class _TreebankWords:
    """``nltk.word_tokenize`` without its Punkt download: Punkt sentences, then Treebank words."""

    def __init__(self, sentence_tokenizer: PunktSentenceTokenizer) -> None:
        self._sentences = sentence_tokenizer
        self._words = NLTKWordTokenizer()

    def tokenize(self, text: str) -> list[str]:
        return [w for s in self._sentences.tokenize(text) for w in self._words.tokenize(s)]


class PunktTokenizer(Tokenizer):  # type: ignore[misc]
    """sumy's English tokenizer with an untrained Punkt plus an English abbreviation list.

    sumy's default loads NLTK's pre-trained ``punkt_tab`` data, which cannot be downloaded
    here; this is the same algorithm with the abbreviations it would most need.
    """

    def __init__(self) -> None:
        params = PunktParameters()
        params.abbrev_types = set(ENGLISH_ABBREVIATIONS)
        self._punkt = PunktSentenceTokenizer(params)
        super().__init__("english")

    def _get_sentence_tokenizer(self, language: str) -> PunktSentenceTokenizer:
        return self._punkt

    def _get_word_tokenizer(self, language: str) -> _TreebankWords:
        return _TreebankWords(self._punkt)


Summariser = Callable[[str], list[str]]


def sumy_peers(tokenizer: PunktTokenizer | None = None) -> dict[str, Summariser]:
    """TextRank, LexRank and LSA as commonly configured: English stemmer and stop words."""
    tokenizer = tokenizer or PunktTokenizer()
    stemmer = Stemmer("english")
    stop_words = get_stop_words("english")
    peers: dict[str, Summariser] = {}
    for name, cls in (
        ("TextRank", TextRankSummarizer),
        ("LexRank", LexRankSummarizer),
        ("LSA", LsaSummarizer),
    ):
        summariser = cls(stemmer)
        summariser.stop_words = stop_words
        peers[name] = _sumy_call(summariser, tokenizer)
    return peers


def _sumy_call(summariser: Any, tokenizer: PunktTokenizer) -> Summariser:
    def summarise(text: str) -> list[str]:
        parser = PlaintextParser.from_string(text, tokenizer)
        return [str(s) for s in summariser(parser.document, SUMMARY_SENTENCES)]

    return summarise


def lead(tokenizer: PunktTokenizer, count: int = SUMMARY_SENTENCES) -> Summariser:
    """Lead-N: the first sentences of the page as sumy's parser reads it."""

    def summarise(text: str) -> list[str]:
        document = PlaintextParser.from_string(text, tokenizer).document
        return [str(s) for s in document.sentences[:count]]

    return summarise


# --------------------------------------------------------------------------- corpora


def article_files(folder: Path) -> list[Path]:
    """Article files directly in ``folder`` (not the label or reference files), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIX_FORMATS)


def read_articles(analyzer: Analyzer, paths: Iterable[Path]) -> list[Article]:
    return [analyzer.read_path(path) for path in paths]


def page_text(document: Document) -> str:
    """The whole page as medbrief read it, paragraphs separated by blank lines."""
    return "\n\n".join(p.text for p in document.paragraphs)


# --------------------------------------------------------------------------- timing


def clock() -> float:
    return time.perf_counter()


def median_ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000 if seconds else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (readable as plain text too)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([lines[0], rule, *lines[1:]])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


# --------------------------------------------------------------------------- generation

GENERATOR_VERSION = 1
LAYOUTS = ("blank_lines", "hard_wrapped", "one_per_line", "markdown", "html")
LAYOUT_WEIGHTS = (30, 20, 15, 20, 15)
_LINK_START = re.compile(r"^(?:Read more|Read also|Also read|See also|Related|More)\s*:", re.I)
_TOPIC_FLOW = ("trial_results", "trial_results", "mechanism", "risks", "outlook")


@dataclass(frozen=True)
class Material:
    """Sentences of the training articles by label, plus their boilerplate and headings."""

    sentences: dict[str, list[str]]
    boilerplate: list[str]
    link_fragments: list[str]
    headings: list[str]


def load_material(folder: Path = SEEDS) -> Material:
    """Read every ``*.labels.jsonl`` directly in ``folder`` (the training articles only)."""
    by_label: dict[str, list[str]] = {}
    boilerplate: list[str] = []
    links: list[str] = []
    headings: list[str] = []
    for path in sorted(folder.glob("*.labels.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            text, label = str(record["text"]).strip(), str(record["label"])
            if label == BOILERPLATE:
                (links if _LINK_START.match(text) else boilerplate).append(text)
            elif len(text.split()) <= 14 and not ends_sentence(text):
                headings.append(text)
            else:
                by_label.setdefault(label, []).extend(
                    s for s in split_into_sentences(text) if len(s.split()) >= 5
                )
    return Material(by_label, boilerplate, links, headings)


@dataclass(frozen=True)
class Generated:
    name: str
    layout: str
    text: str
    words: int


def generate_article(material: Material, seed: int, index: int, words: int = 800) -> Generated:
    """One article of about ``words`` words; the same (seed, index) gives the same article."""
    rng = random.Random(f"{seed}:{index}")
    layout = rng.choices(LAYOUTS, LAYOUT_WEIGHTS)[0]
    target = rng.randint(int(words * 0.9), int(words * 1.1))
    labels = [label for label in _TOPIC_FLOW if label in material.sentences] or sorted(
        material.sentences
    )
    title = rng.choice(material.headings) if material.headings else "Health news"
    top = rng.sample(material.boilerplate, k=min(rng.randint(1, 3), len(material.boilerplate)))
    bottom = rng.sample(material.boilerplate, k=min(rng.randint(1, 4), len(material.boilerplate)))
    target -= sum(len(t.split()) for t in (title, *top, *bottom))
    body: list[tuple[str, str]] = []  # (kind, text): kind is "p", "h", "bp", "link", "li"
    count = 0
    while count < target:
        label = (
            labels[min(len(body) // 3, len(labels) - 1)]
            if rng.random() < 0.6
            else (rng.choice(labels))
        )
        pool = material.sentences[label]
        text = " ".join(rng.sample(pool, k=min(rng.randint(1, 4), len(pool))))
        roll = rng.random()
        if roll < 0.06 and material.headings:
            body.append(("h", rng.choice(material.headings)))
        elif roll < 0.12 and material.boilerplate:
            body.append(("bp", rng.choice(material.boilerplate)))
        elif roll < 0.16 and material.link_fragments:
            body.append(("link", rng.choice(material.link_fragments)))
        elif roll < 0.20 and layout in ("markdown", "html"):
            for sentence in rng.sample(pool, k=min(3, len(pool))):
                body.append(("li", sentence))
                count += len(sentence.split())
            continue
        body.append(("p", text))
        count += len(text.split())
    blocks = [("h1", title), *(("bp", t) for t in top), *body, *(("bp", t) for t in bottom)]
    render = {
        "blank_lines": _as_text,
        "hard_wrapped": _as_wrapped,
        "one_per_line": _as_lines,
        "markdown": _as_markdown,
        "html": _as_html,
    }[layout]
    text = render(blocks, rng)
    suffix = {"markdown": ".md", "html": ".html"}.get(layout, ".txt")
    total = sum(len(t.split()) for _, t in blocks)
    return Generated(f"{index:05d}_{layout}{suffix}", layout, text, total)


def _glued(blocks: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    """Scraped text glues a "Read more: Title" link onto the next paragraph now and then."""
    out: list[tuple[str, str]] = []
    for kind, text in blocks:
        if out and out[-1][0] == "link" and kind == "p" and rng.random() < 0.5:
            out[-1] = ("p", out[-1][1] + text)
        else:
            out.append((kind, text))
    return out


def _as_text(blocks: list[tuple[str, str]], rng: random.Random) -> str:
    return "\n\n".join(t for _, t in _glued(blocks, rng)) + "\n"


def _as_lines(blocks: list[tuple[str, str]], rng: random.Random) -> str:
    return "\n".join(t for _, t in _glued(blocks, rng)) + "\n"


def _as_wrapped(blocks: list[tuple[str, str]], rng: random.Random) -> str:
    width = rng.choice((66, 72, 78))
    return (
        "\n\n".join(
            textwrap.fill(t, width, break_long_words=False, break_on_hyphens=False)
            for _, t in _glued(blocks, rng)
        )
        + "\n"
    )


def _as_markdown(blocks: list[tuple[str, str]], rng: random.Random) -> str:
    out: list[str] = []
    for kind, text in blocks:
        if kind == "h1":
            out.append(f"# {text}")
        elif kind == "h":
            out.append(f"## {text}")
        elif kind == "li":
            bullet = f"- {text}"
            if out and out[-1].startswith("- "):
                out[-1] += "\n" + bullet
            else:
                out.append(bullet)
        elif kind == "link":
            label, _, title = text.partition(":")
            out.append(f"{label}: [{title.strip()}](https://example.org/{rng.randrange(10**6)})")
        else:
            out.append(text)
    return "\n\n".join(out) + "\n"


def _as_html(blocks: list[tuple[str, str]], rng: random.Random) -> str:
    e = html.escape
    nav = "".join(
        f"<li><a href='/{w.lower()}'>{w}</a></li>"
        for w in ("News", "Health", "Science", "Opinion", "Subscribe")
    )
    title = blocks[0][1]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><script>var ads = [];</script></head><body>",
        f"<header><nav><ul>{nav}</ul></nav></header><main><article>",
        f"<h1>{e(title)}</h1>",
    ]
    in_list = False
    for kind, text in blocks[1:]:
        if kind != "li" and in_list:
            parts.append("</ul>")
            in_list = False
        if kind == "li":
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{e(text)}</li>")
        elif kind == "h":
            parts.append(f"<h2>{e(text)}</h2>")
        elif kind == "bp":
            parts.append(f"<div class='promo'><p>{e(text)}</p></div>")
        elif kind == "link":
            label, _, rest = text.partition(":")
            parts.append(
                f"<p class='related'>{e(label)}: <a href='/a/{rng.randrange(10**6)}'>"
                f"{e(rest.strip())}</a></p>"
            )
        else:
            parts.append(f"<p>{e(text)}</p>")
    if in_list:
        parts.append("</ul>")
    parts.append(
        "</article></main><footer><p>© 2025 Example Health Media. All rights "
        "reserved.</p><p><a href='/privacy'>Privacy</a> | <a href='/terms'>Terms</a>"
        "</p></footer></body></html>"
    )
    return "\n".join(parts) + "\n"


def generate_folder(folder: Path, count: int, seed: int = 0, words: int = 800) -> dict[str, Any]:
    """Write ``count`` generated articles to ``folder`` unless an identical set is there."""
    manifest = folder / "manifest.json"
    wanted = {"version": GENERATOR_VERSION, "count": count, "seed": seed, "words": words}
    if manifest.exists():
        info: dict[str, Any] = json.loads(manifest.read_text())
        if {k: info.get(k) for k in wanted} == wanted:
            return info
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    material = load_material()
    layouts: dict[str, int] = {}
    total_words = 0
    for index in range(count):
        article = generate_article(material, seed, index, words)
        (folder / article.name).write_text(article.text, encoding="utf-8")
        layouts[article.layout] = layouts.get(article.layout, 0) + 1
        total_words += article.words
    info = {
        **wanted,
        "layouts": dict(sorted(layouts.items())),
        "mean_words": round(total_words / max(count, 1), 1),
    }
    manifest.write_text(json.dumps(info, indent=2) + "\n")
    return info
