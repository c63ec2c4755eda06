"""The model card: what a saved model is, what it was trained on, how well it does."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LabelScores(BaseModel):
    """Precision, recall and F1 of one label."""

    precision: float
    recall: float
    f1: float
    support: int


class Metrics(BaseModel):
    """Per-label scores, macro-F1, accuracy and the confusion matrix (rows are truth)."""

    per_label: dict[str, LabelScores]
    macro_f1: float
    accuracy: float
    labels: list[str]
    confusion: list[list[int]]
    articles: int
    paragraphs: int


class DataSummary(BaseModel):
    """What the model was trained on."""

    digest: str = Field(description="sha256 over every training text and label")
    articles: int
    paragraphs: int
    label_counts: dict[str, int]


class ModelCard(BaseModel):
    """Everything a user needs to know about a saved model, stored beside its weights."""

    version: str
    created_at: str
    labels: list[str]
    features: str
    params: dict[str, float | int | str]
    data: DataSummary
    cross_validation: Metrics | None = None
    heldout: Metrics | None = None
    summary_references: int = Field(
        default=0, description="training articles whose reference summaries taught the scorer"
    )
    libraries: dict[str, str]
    train_seconds: float
