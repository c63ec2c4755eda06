"""The cascade set: its two stages, and its threshold chosen by grouped cross-validation.

The light classifier labels every paragraph; the ``both`` classifier (words, embeddings and
layout) relabels the paragraphs whose top light probability is below the threshold. Both
stages' grouped cross-validated probabilities are computed once, so every candidate threshold
is scored exactly as the cascade would label those held-out articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import cross_val_predict

from medbrief.card import CascadeSummary, ThresholdScore
from medbrief.features import Sample
from medbrief.training.evaluate import group_folds, score
from medbrief.training.options import TrainingOptions
from medbrief.training.pipeline import build_pipeline

# Candidate thresholds on the light classifier's top probability.
THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class StageProbabilities:
    """Grouped cross-validated probabilities of both stages for every training paragraph
    (columns in ``labels`` order), and the true labels."""

    labels: list[str]
    light: np.ndarray
    both: np.ndarray
    truth: list[str]
    articles: int

    def unsure(self, threshold: float) -> np.ndarray:
        return np.asarray(self.light.max(axis=1) < threshold)

    def probabilities(self, threshold: float) -> np.ndarray:
        """The cascade's probabilities at ``threshold``."""
        return np.where(self.unsure(threshold)[:, None], self.both, self.light)

    def predicted(self, threshold: float) -> list[str]:
        """The cascade's labels at ``threshold``."""
        return [self.labels[i] for i in self.probabilities(threshold).argmax(axis=1)]

    def candidate(self, threshold: float) -> ThresholdScore:
        metrics = score(self.truth, self.predicted(threshold), self.labels, self.articles)
        return ThresholdScore(
            threshold=threshold, encoder_share=round(float(self.unsure(threshold).mean()), 4),
            macro_f1=metrics.macro_f1,
        )


def stage_probabilities(
    X: Sequence[Sample], y: Sequence[str], groups: Sequence[str], options: TrainingOptions,
    labels: Sequence[str], articles: int,
) -> StageProbabilities:
    """Both stages cross-validated, leaving groups (outlets, or articles) out."""
    probs = {}
    for stage in ("light", "both"):
        probs[stage] = cross_val_predict(
            build_pipeline(options.stage(stage)), X, y, groups=groups, cv=group_folds(groups),
            n_jobs=-1, method="predict_proba",
        )
    if sorted(labels) != list(labels):
        raise ValueError("labels must be sorted, the order of the probability columns")
    return StageProbabilities(
        list(labels), probs["light"], probs["both"], list(y), articles
    )


def choose_threshold(
    stages: StageProbabilities, thresholds: Sequence[float] = THRESHOLDS
) -> CascadeSummary:
    """The threshold sending the fewest paragraphs to the encoder among those whose CV
    macro-F1 is at least the ``both`` classifier's; if none is, the best-scoring one."""
    candidates = [stages.candidate(t) for t in thresholds]
    both = score(stages.truth, stages.predicted(np.inf), stages.labels, stages.articles).macro_f1
    light = score(stages.truth, stages.predicted(0.0), stages.labels, stages.articles).macro_f1
    good = [c for c in candidates if c.macro_f1 >= both]
    best = (
        min(good, key=lambda c: c.encoder_share) if good
        else max(candidates, key=lambda c: (c.macro_f1, -c.encoder_share))
    )
    return CascadeSummary(
        threshold=best.threshold, encoder_share=best.encoder_share, light_macro_f1=light,
        both_macro_f1=both, candidates=candidates,
    )
