"""The analysis record: one per article, the same from the command line and over HTTP."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Contribution(BaseModel):
    """One feature's share of a label's logit."""

    feature: str = Field(description="word:, previous:, next:, layout: or encoder")
    value: float


class LabelExplanation(BaseModel):
    """A label's logit split up: ``base + sum(features) + rest == logit`` exactly."""

    logit: float
    base: float = Field(description="the intercept and the constant part of the layout cues")
    features: list[Contribution] = Field(description="the largest shares, largest first")
    rest: float = Field(description="the sum of every other feature's share")


class ParagraphRecord(BaseModel):
    """One paragraph as read, with its label, confidence and every label's score."""

    index: int
    text: str
    label: str
    confidence: float
    scores: dict[str, float]
    forced: str | None = Field(
        default=None, description="why the paragraph is boilerplate whatever the model says"
    )
    unsure: bool = Field(
        default=False, description="the confidence is below the model's unsure threshold"
    )
    explanation: dict[str, LabelExplanation] | None = Field(
        default=None, description="each label's logit split into features' shares (when asked)"
    )


class SummarySentence(BaseModel):
    """A sentence copied verbatim from a paragraph."""

    text: str
    paragraph: int
    label: str
    cues: dict[str, float] | None = Field(
        default=None, description="what chose the sentence: its largest scoring shares "
        "(when asked)"
    )


class ModelInfo(BaseModel):
    """Which model produced a record."""

    version: str
    labels: list[str] = Field(default_factory=list)


class AnalysisRecord(BaseModel):
    """Everything medbrief says about one article."""

    id: str | None
    source: str | None
    format: str | None = None
    paragraphs: list[ParagraphRecord]
    topics: dict[str, float] = Field(
        description="share of non-boilerplate words under each content label; sums to 1"
    )
    summary: list[SummarySentence]
    key_sentences: dict[str, SummarySentence] = Field(
        default_factory=dict, description="the best sentence of each content label"
    )
    model: ModelInfo

    def _repr_html_(self) -> str:
        """How a Jupyter notebook shows a record: summary, topic bar, labelled paragraphs."""
        from medbrief.display import record_html

        return record_html(self)


class ErrorRecord(BaseModel):
    """What batch tagging writes for an article it could not read."""

    id: str | None
    source: str | None
    error: str
