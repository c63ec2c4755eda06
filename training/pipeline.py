"""The classifier pipelines, one per feature set, and the options that shape them."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from medbrief.encoder import SentenceEncoder
from medbrief.features import ContextTfidf, LayoutFeatures

# light: word n-grams and layout cues; encoder: sentence embeddings and layout cues;
# both: all three. See docs/features.md for what each costs and scores.
FEATURE_SETS = ("light", "encoder", "both")


@dataclass(frozen=True)
class TrainingOptions:
    """Choices of a training run; validated on creation."""

    features: str = "light"
    C: float = 100.0
    context_weight: float = 0.5
    layout_weight: float = 0.3
    encoder_weight: float = 1.0
    min_df: int = 2

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}")
        if self.C <= 0:
            raise ValueError("C must be positive")
        if min(self.context_weight, self.layout_weight, self.encoder_weight) < 0:
            raise ValueError("feature weights must not be negative")

    def params(self) -> dict[str, float | int | str]:
        return {
            "features": self.features, "C": self.C,
            "context_weight": self.context_weight, "layout_weight": self.layout_weight,
            "min_df": self.min_df,
            **({"encoder_weight": self.encoder_weight} if self.features != "light" else {}),
        }


def build_pipeline(options: TrainingOptions) -> Pipeline:
    """An unfitted pipeline: features, then one class-balanced logistic regression per label."""
    parts: list[tuple[str, object]] = []
    weights = {"layout": options.layout_weight}
    if options.features in ("light", "both"):
        words = ContextTfidf(context_weight=options.context_weight, min_df=options.min_df)
        parts.append(("words", words))
        weights["words"] = 1.0
    if options.features in ("encoder", "both"):
        parts.append(("encoder", SentenceEncoder(context_weight=options.context_weight)))
        weights["encoder"] = options.encoder_weight
    parts.append(("layout", LayoutFeatures()))
    features = FeatureUnion(parts, transformer_weights=weights)
    classifier = OneVsRestClassifier(
        # The dual problem is the fast one when features far outnumber paragraphs.
        LogisticRegression(
            C=options.C, class_weight="balanced", solver="liblinear", dual=True, max_iter=1000,
            tol=1e-3, random_state=0,
        )
    )
    return Pipeline([("features", features), ("classifier", classifier)])
