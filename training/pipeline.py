"""The classifier pipelines, one per feature set, and the options that shape them."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from medbrief.features import ContextTfidf, LayoutFeatures

FEATURE_SETS = ("light",)


@dataclass(frozen=True)
class TrainingOptions:
    """Choices of a training run; validated on creation."""

    features: str = "light"
    C: float = 10.0
    context_weight: float = 0.5
    layout_weight: float = 1.0

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
        }


def build_pipeline(options: TrainingOptions) -> Pipeline:
    """An unfitted pipeline: features, then a class-balanced logistic regression."""
    features = FeatureUnion(
        [
            ("words", ContextTfidf(context_weight=options.context_weight)),
            ("layout", LayoutFeatures()),
        ],
        transformer_weights={"words": 1.0, "layout": options.layout_weight},
    )
    classifier = LogisticRegression(C=options.C, class_weight="balanced", max_iter=5000)
    return Pipeline([("features", features), ("classifier", classifier)])
