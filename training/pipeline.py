"""The classifier pipelines, one per feature set, and the options that shape them."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from medbrief.features import ContextTfidf, LayoutFeatures

FEATURE_SETS = ("light",)


@dataclass(frozen=True)
class TrainingOptions:
    """Choices of a training run; validated on creation."""

    features: str = "light"
    C: float = 100.0
    context_weight: float = 0.5
    layout_weight: float = 0.3
    min_df: int = 2

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}")
        if self.C <= 0:
            raise ValueError("C must be positive")
        if self.context_weight < 0 or self.layout_weight < 0:
            raise ValueError("feature weights must not be negative")

    def params(self) -> dict[str, float | int | str]:
        return {
            "features": self.features, "C": self.C,
            "context_weight": self.context_weight, "layout_weight": self.layout_weight,
            "min_df": self.min_df,
        }


def build_pipeline(options: TrainingOptions) -> Pipeline:
    """An unfitted pipeline: features, then one class-balanced logistic regression per label."""
    features = FeatureUnion(
        [
            ("words", ContextTfidf(context_weight=options.context_weight, min_df=options.min_df)),
            ("layout", LayoutFeatures()),
        ],
        transformer_weights={"words": 1.0, "layout": options.layout_weight},
    )
    classifier = OneVsRestClassifier(
        LogisticRegression(C=options.C, class_weight="balanced", solver="liblinear")
    )
    return Pipeline([("features", features), ("classifier", classifier)])
