"""Calibrated confidence: temperature scaling fitted on cross-validated probabilities.

A paragraph's probabilities ``p`` become ``softmax(log(p) / T)``: one number ``T``, fitted
by maximum likelihood on the probabilities cross-validation gave for every training
paragraph (never on a held-out set), which keeps the ranking of labels and makes the top
probability mean what it says. Expected calibration error (ECE): the mean gap, weighted
by how many paragraphs each holds, between the confidence and the accuracy of 10 equal
bins of confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from medbrief.model import temperature_scaled

BINS = 10
UNSURE_BELOW = 0.5  # a calibrated confidence under this marks a paragraph unsure


def fit_temperature(probs: np.ndarray, truth: Sequence[int]) -> float:
    """The temperature that makes the probabilities most likely for the true labels."""
    rows = np.arange(len(truth))
    index = np.asarray(truth)

    def loss(temperature: float) -> float:
        return float(-np.log(temperature_scaled(probs, temperature)[rows, index] + 1e-12).mean())

    return float(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x)


def expected_calibration_error(probs: np.ndarray, truth: Sequence[int], bins: int = BINS) -> float:
    """The weighted mean gap between confidence and accuracy over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(truth)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)
