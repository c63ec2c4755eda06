"""The choices of a training run (no scikit-learn here: the command line imports this)."""

from __future__ import annotations

from dataclasses import dataclass, replace

# light: word n-grams and layout cues; encoder: sentence embeddings and layout cues;
# both: all three; cascade: light for every paragraph, both only where light is unsure;
# tuned: both, with the encoder first fine-tuned on the training paragraphs (slow to train).
# See docs/features.md and docs/realnews.md for what each costs and scores.
FEATURE_SETS = ("light", "encoder", "both", "cascade", "tuned")


@dataclass(frozen=True)
class TrainingOptions:
    """Choices of a training run; validated on creation."""

    features: str = "light"
    C: float = 10.0
    context_weight: float = 0.5
    layout_weight: float = 0.3
    encoder_weight: float = 1.0
    min_df: int = 2
    # cascade only: a fixed threshold (None: chosen by grouped CV on the training articles)
    threshold: float | None = None
    # tuned only: passes over the training paragraphs when fine-tuning the encoder
    epochs: float = 2.0

    def __post_init__(self) -> None:
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}")
        if self.C <= 0:
            raise ValueError("C must be positive")
        if min(self.context_weight, self.layout_weight, self.encoder_weight) < 0:
            raise ValueError("feature weights must not be negative")
        if self.threshold is not None and not (
            self.features == "cascade" and 0.0 <= self.threshold <= 1.0
        ):
            raise ValueError("threshold is for the cascade set only, between 0 and 1")
        if self.epochs <= 0:
            raise ValueError("epochs must be positive")

    def stage(self, features: str) -> TrainingOptions:
        """These choices for one stage of a cascade (``light`` or ``both``)."""
        return replace(self, features=features, threshold=None)

    def params(self) -> dict[str, float | int | str]:
        return {
            "features": self.features, "C": self.C,
            "context_weight": self.context_weight, "layout_weight": self.layout_weight,
            "min_df": self.min_df,
            **({"encoder_weight": self.encoder_weight} if self.features != "light" else {}),
            **({"threshold": self.threshold} if self.threshold is not None else {}),
            **({"epochs": self.epochs} if self.features == "tuned" else {}),
        }
