"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from medbrief.record import ModelInfo, SummarySentence
from medbrief.summary import DEFAULT_SENTENCES, DEFAULT_WORDS


class AnalyzeRequest(BaseModel):
    """One article to analyse."""

    text: str = Field(min_length=1, description="the article: plain text, Markdown or HTML")
    format: Literal["auto", "text", "markdown", "html"] = "auto"
    sentences: int = Field(default=DEFAULT_SENTENCES, ge=0, description="summary length")
    words: int = Field(default=DEFAULT_WORDS, ge=1, le=2000, description="summary word budget")
    id: str | None = Field(default=None, max_length=500)

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

    text: str = Field(min_length=1)
    label: str = Field(min_length=1, max_length=100)


class LabelledArticleIn(BaseModel):
    """A training article: its paragraphs in reading order with their labels."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    paragraphs: list[LabelledParagraph] = Field(min_length=1)


class RetrainRequest(BaseModel):
    """Retrain from these articles, or from the service's seeds/ when none are given."""

    articles: list[LabelledArticleIn] | None = None


class RetrainResponse(BaseModel):
    """The outcome of a retrain that was swapped in."""

    version: str
    previous: str | None
    articles: int
    cross_validation_macro_f1: float | None
    heldout_macro_f1: float | None
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
