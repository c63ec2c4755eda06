"""The model card: what a saved model is, what it was trained on, how well it does."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LabelScores(BaseModel):
    """Precision, recall and F1 of one label."""

    precision: float
    recall: float
    f1: float
    support: int


class SummaryScores(BaseModel):
    """How an evaluation's summaries meet its articles' reference sentences."""

    references: int
    recalled: int = Field(description="reference sentences found verbatim in the summaries")
    recall: float
    boilerplate_sentences: int = Field(
        description="summary sentences from paragraphs labelled boilerplate (should be 0)"
    )


class Metrics(BaseModel):
    """Per-label scores, macro-F1, accuracy and the confusion matrix (rows are truth)."""

    per_label: dict[str, LabelScores]
    macro_f1: float
    accuracy: float
    labels: list[str]
    confusion: list[list[int]]
    articles: int
    paragraphs: int
    summary: SummaryScores | None = None
    calibration_error: float | None = Field(
        default=None, description="expected calibration error of the confidences given"
    )
    calibration_error_uncalibrated: float | None = Field(
        default=None, description="the same without the model's calibration"
    )


class DataSummary(BaseModel):
    """What the model was trained on."""

    digest: str = Field(description="sha256 over every training text and label")
    articles: int
    paragraphs: int
    label_counts: dict[str, int]
    real_articles: int = Field(default=0, description="articles taken from real pages (with a URL)")
    outlets: int = Field(default=0, description="distinct outlets of the real articles")


class ThresholdScore(BaseModel):
    """One candidate threshold of a cascade, scored by grouped cross-validation."""

    threshold: float
    encoder_share: float = Field(description="share of paragraphs the second classifier relabels")
    macro_f1: float


class CascadeSummary(BaseModel):
    """How a cascade's threshold was chosen: leave-one-article-out on the training articles."""

    threshold: float = Field(description="paragraphs whose top light probability is below "
                             "this go to the encoder classifier")
    encoder_share: float | None = Field(
        default=None, description="share of the training paragraphs relabelled, in CV"
    )
    light_macro_f1: float | None = Field(
        default=None, description="cross-validated, the light classifier alone"
    )
    both_macro_f1: float | None = Field(
        default=None, description="cross-validated, the both classifier alone"
    )
    candidates: list[ThresholdScore] = Field(
        default_factory=list, description="empty when the threshold was given, not chosen"
    )


class CalibrationSummary(BaseModel):
    """How the confidences were calibrated: temperature scaling fitted on the training
    articles' cross-validated probabilities."""

    temperature: float
    ece_before: float = Field(description="expected calibration error in CV, uncalibrated")
    ece_after: float = Field(description="the same after calibration")
    unsure_below: float = Field(description="a paragraph less confident than this is unsure")


class ModelCard(BaseModel):
    """Everything a user needs to know about a saved model, stored beside its weights."""

    version: str
    created_at: str
    labels: list[str]
    features: str
    params: dict[str, float | int | str]
    data: DataSummary
    cascade: CascadeSummary | None = Field(
        default=None, description="the threshold and how it was chosen (features: cascade)"
    )
    cross_validation: Metrics | None = Field(
        default=None, description="every training paragraph, predicted with its outlet (or, "
        "for an article written here, the article) left out"
    )
    cross_validation_real: Metrics | None = Field(
        default=None, description="the same predictions, on the real articles only"
    )
    heldout_sets: dict[str, Metrics] = Field(
        default_factory=dict, description="each held-out folder's scores, by folder name "
        "(heldout: written articles; heldout-real: real articles from unseen outlets)"
    )
    calibration: CalibrationSummary | None = Field(
        default=None, description="absent when trained without cross-validation"
    )
    summary_references: int = Field(
        default=0, description="training articles whose reference summaries taught the scorer"
    )
    libraries: dict[str, str]
    train_seconds: float
