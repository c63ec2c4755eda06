"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from medbrief.record import ModelInfo, SummarySentence
from medbrief.summary import DEFAULT_SENTENCES, DEFAULT_WORDS

# What str.strip() removes (the engine's and the trainer's test for an empty text) as a regex
# class, spelled out so that it means the same in Python, ECMA-262 and Rust regexes (each
# reads `\s` differently).
STRIPPED = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"[^{STRIPPED}]"
# White space for the raw-body rules: those characters plus U+FEFF, a byte-order mark.
SPACE = STRIPPED + r"\ufeff"
SPACE_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\ufeff"
# A character that is not white space, and no NUL anywhere.
RAW_TEXT_PATTERN = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"
# The whole body, white space aside, is {...}, [...], true, false, null or a number.
JSON_LIKE_PATTERN = (
    rf"^[{SPACE}]*(\{{[\s\S]*\}}|\[[\s\S]*\]|true|false|null"
    rf"|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)[{SPACE}]*$"
)
RAW_ARTICLE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": RAW_TEXT_PATTERN,
    "not": {"pattern": JSON_LIKE_PATTERN},
    "description": (
        "The article as text (UTF-8, or UTF-16 with a byte-order mark). Refused with 422: "
        "white space only (`empty`), NUL characters or undecodable bytes (`unreadable`), "
        "or a body that looks like JSON, i.e. "
        "the whole body is {...}, [...], true, false, null or a number (`looks_like_json`): "
        "JSON goes with Content-Type application/json."
    ),
}


class AnalyzeRequest(BaseModel):
    """One article to analyse."""

    text: str = Field(min_length=1, description="the article: plain text, Markdown or HTML")
    format: Literal["auto", "text", "markdown", "html"] = "auto"
    sentences: int = Field(default=DEFAULT_SENTENCES, ge=0, description="summary length")
    words: int = Field(default=DEFAULT_WORDS, ge=1, le=2000, description="summary word budget")
    id: str | None = Field(default=None, max_length=500)
    explain: bool = Field(
        default=False, description="split each paragraph's label into its features' shares"
    )

    @field_validator("sentences", "words", mode="before")
    @classmethod
    def _json_integer(cls, value: object) -> object:
        """A JSON-Schema integer: 3 or 3.0, never true/false or "3" (no lax coercion)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("Input should be a valid integer")
        return value


class BatchRequest(BaseModel):
    """Several articles in one request."""

    articles: list[AnalyzeRequest] = Field(min_length=1)


class SummaryResponse(BaseModel):
    """The summary alone."""

    summary: list[SummarySentence]
    model: ModelInfo


class LabelledParagraph(BaseModel):
    """One labelled paragraph of a training article."""

    text: str = Field(min_length=1, pattern=NOT_BLANK)
    label: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)


class LabelledArticleIn(BaseModel):
    """A training article: its paragraphs in reading order with their labels."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    paragraphs: list[LabelledParagraph] = Field(min_length=1)


class RetrainRequest(BaseModel):
    """Retrain from these articles, or from the service's seeds/ when none are given."""

    articles: list[LabelledArticleIn] | None = Field(default=None, min_length=1)

    @field_validator("articles")
    @classmethod
    def _unique_names(cls, articles: list[LabelledArticleIn] | None) -> object:
        """Each article is a file named after it: two of one name would train as one."""
        counts = Counter(a.name for a in articles or [])
        repeated = sorted(name for name, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"article names must be unique; repeated: {', '.join(repeated[:5])}")
        return articles


class CorrectionIn(BaseModel):
    """An article with its paragraphs' labels as a reviewer corrected them."""

    paragraphs: list[LabelledParagraph] = Field(min_length=1)
    source: str | None = Field(default=None, max_length=2000, description="where it came from")


class CorrectionSaved(BaseModel):
    """Where a correction went."""

    name: str
    paragraphs: int
    corrections: int = Field(description="corrected articles saved in all")


class CorrectionSummary(BaseModel):
    name: str
    paragraphs: int
    labels: dict[str, int]


class CorrectionList(BaseModel):
    """The corrected articles the service holds."""

    folder: str
    corrections: list[CorrectionSummary]


class RetrainResponse(BaseModel):
    """The outcome of a retrain that was swapped in."""

    version: str
    previous: str | None
    articles: int
    cross_validation_macro_f1: float | None
    heldout_macro_f1: float | None = Field(description="macro-F1 on the written held-out set")
    heldout: dict[str, float] = Field(
        default_factory=dict, description="macro-F1 on each held-out folder, by name"
    )
    serving_heldout: dict[str, float] = Field(
        default_factory=dict, description="the model it replaced, on the same folders"
    )
    corrections: int = Field(default=0, description="corrected articles it learned from")
    seconds: float


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    version: str
    worker: int = Field(description="pid of the worker process that answered")


class ErrorBody(BaseModel):
    """Every error the service returns has this shape."""

    detail: str
    code: str
