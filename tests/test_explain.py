"""Why a label: each paragraph's logit split into its features' shares (exact), calibrated
confidence and unsure paragraphs, and what chose each summary sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from medbrief.cli import main
from medbrief.engine import Analyzer, Options
from medbrief.explain import explain, logits
from medbrief.features import samples
from medbrief.model import TopicModel
from medbrief.training.calibration import expected_calibration_error, fit_temperature
from medbrief.training.train import train
from tests.conftest import SEEDS
from tests.test_training import tiny_corpus


def test_shares_add_up_to_each_labels_logit_for_a_hundred_paragraphs(model: TopicModel) -> None:
    checked = 0
    for path in sorted(SEEDS.glob("0*.txt")) + sorted((SEEDS / "real").glob("*.txt"))[:4]:
        texts = [p.text for p in Analyzer(model).read_path(path).document.paragraphs]
        X = samples(texts)
        expected = logits(model.linear, X)
        for i, by_label in enumerate(explain(model.linear, X)):
            for k, label in enumerate(model.labels):
                why = by_label[label]
                total = why.base + sum(c.value for c in why.features) + why.rest
                assert total == pytest.approx(expected[i, k], abs=1e-6)
                assert why.logit == pytest.approx(expected[i, k], abs=1e-6)
            checked += 1
    assert checked >= 100


def test_the_largest_shares_name_the_words_that_decide(analyzer: Analyzer) -> None:
    record = analyzer.analyze(
        "We use cookies to improve your experience. Accept all cookies.\n\n"
        "In the trial, nine of twelve patients went into remission.",
        format="text", options=Options(explain=True),
    )
    cookies = record.paragraphs[0].explanation
    assert cookies is not None
    words = [c.feature for c in cookies["boilerplate"].features]
    assert any(w.startswith("word:") and "cookies" in w for w in words)
    assert all(len(why.features) <= 8 for why in cookies.values())
    assert record.summary and record.summary[0].cues


def test_explanations_cost_nothing_unless_asked(analyzer: Analyzer) -> None:
    record = analyzer.analyze((SEEDS / "003_d68301345416b06b.txt").read_text())
    assert all(p.explanation is None for p in record.paragraphs)
    assert all(s.cues is None for s in record.summary)


def test_calibration_fitted_on_cross_validation_lowers_the_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 2000)
    logits_ = rng.normal(0, 1, (2000, 3))
    logits_[np.arange(2000), truth] += 1.5
    overconfident = np.exp(4 * logits_) / np.exp(4 * logits_).sum(axis=1, keepdims=True)
    temperature = fit_temperature(overconfident, list(truth))
    assert temperature > 2
    from medbrief.model import temperature_scaled

    calibrated = temperature_scaled(overconfident, temperature)
    assert (calibrated.argmax(axis=1) == overconfident.argmax(axis=1)).all()
    assert expected_calibration_error(calibrated, list(truth)) < expected_calibration_error(
        overconfident, list(truth)) / 2
    card = train(tiny_corpus(tmp_path / "data"), None).card
    assert card.calibration is not None and card.calibration.unsure_below == 0.5
    assert card.calibration.ece_after <= card.calibration.ece_before + 1e-9


def test_paragraphs_under_the_unsure_threshold_are_marked(model: TopicModel) -> None:
    from medbrief.card import CalibrationSummary

    strict = CalibrationSummary(temperature=1.0, ece_before=0.0, ece_after=0.0,
                                unsure_below=0.75)
    card = model.card.model_copy(update={"calibration": strict})
    analyzer = Analyzer(TopicModel(card, model.linear, model.scorer))
    record = analyzer.analyze((SEEDS / "003_d68301345416b06b.txt").read_text())
    marked = [p.unsure for p in record.paragraphs]
    assert marked == [p.forced is None and p.confidence < 0.75 for p in record.paragraphs]
    assert any(marked) and not all(marked)
    uncalibrated = Analyzer(model).analyze((SEEDS / "003_d68301345416b06b.txt").read_text())
    assert model.card.calibration is None and not any(p.unsure for p in uncalibrated.paragraphs)


def test_explain_from_the_command_line_and_over_http(model_dir: Path) -> None:
    article = SEEDS / "003_d68301345416b06b.txt"
    shown = CliRunner().invoke(main, ["summarize", str(article), "--explain",
                                      "--model", str(model_dir)])
    assert shown.exit_code == 0 and "Why each paragraph got its label" in shown.output
    assert "chosen for:" in shown.output
    tagged = CliRunner().invoke(main, ["tag", str(article), "--explain", "--model",
                                       str(model_dir)])
    record = json.loads(tagged.stdout)
    assert all(p["explanation"] for p in record["paragraphs"])
    from fastapi.testclient import TestClient

    from medbrief.service.app import create_app
    from medbrief.service.config import Settings

    with TestClient(create_app(Settings(model_dir=model_dir, train_if_missing=False))) as c:
        body = c.post("/v1/analyze", json={"text": article.read_text(), "explain": True}).json()
        plain = c.post("/v1/analyze", json={"text": article.read_text()}).json()
    assert body["paragraphs"][0]["explanation"] and plain["paragraphs"][0]["explanation"] is None
