"""The cascade feature set: light everywhere, the encoder classifier only where light is unsure.

Needs the encoder extra, like tests/test_encoder.py; runs offline on the packaged model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from medbrief import encoder
from medbrief.cli import main
from medbrief.features import samples
from medbrief.model import MODEL_FILE, CascadeModel, LinearModel, TopicModel, load_model
from medbrief.training.cascade import THRESHOLDS, StageProbabilities, choose_threshold
from medbrief.training.options import TrainingOptions
from medbrief.training.train import train
from tests.test_training import TINY, tiny_corpus

PROBE = [
    "Accept all cookies here.",
    "The drug blocks a protein that immune cells need.",
    "Nine patients achieved remission in the trial.",
    "Doctors said more work is needed.",
    "Follow us on Twitter.",
    "Remission lasted a year in most patients.",
]


@pytest.fixture(scope="module")
def cascade(tmp_path_factory: pytest.TempPathFactory) -> TopicModel:
    """A cascade trained on the tiny corpus, its threshold left to cross-validation."""
    folder = tmp_path_factory.mktemp("cascade")
    return train(
        tiny_corpus(folder / "data"), folder / "models",
        options=TrainingOptions(features="cascade"), cross_validation=False,
    )


def stages(model: TopicModel) -> CascadeModel:
    assert isinstance(model.linear, CascadeModel)
    return model.linear


def test_cascade_stages_are_the_light_and_both_classifiers(
    cascade: TopicModel, tmp_path: Path
) -> None:
    data = tiny_corpus(tmp_path / "data")
    X = samples(PROBE)
    for stage, features in ((stages(cascade).first, "light"), (stages(cascade).second, "both")):
        alone = train(data, None, options=TrainingOptions(features=features),
                      cross_validation=False).linear
        assert isinstance(alone, LinearModel)
        np.testing.assert_allclose(stage.predict_proba(X), alone.predict_proba(X))


def test_sure_paragraphs_keep_light_probabilities_and_unsure_ones_get_both(
    cascade: TopicModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = stages(cascade).first, stages(cascade).second
    X = samples(PROBE)
    light, both = first.predict_proba(X), second.predict_proba(X)  # both: every row embedded
    threshold = float(np.median(light.max(axis=1)))
    split = dataclasses.replace(stages(cascade), threshold=threshold)
    unsure = light.max(axis=1) < threshold
    assert 0 < unsure.sum() < len(X)
    embedded: list[str] = []
    real_embed = encoder.embed

    def recording_embed(texts: Sequence[str], *args: object, **kwargs: object) -> np.ndarray:
        embedded.extend(texts)
        return real_embed(texts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(encoder, "embed", recording_embed)
    probs = split.predict_proba(X)
    np.testing.assert_array_equal(probs[~unsure], light[~unsure])
    np.testing.assert_allclose(probs[unsure], both[unsure], rtol=0, atol=1e-12)
    assert not np.allclose(probs[unsure], light[unsure])
    # The encoder saw the unsure paragraphs and their neighbours, nothing else, in one call.
    rows = np.flatnonzero(unsure)
    wanted = {PROBE[j] for i in rows for j in (i - 1, i, i + 1) if 0 <= j < len(PROBE)}
    assert set(embedded) == wanted and len(embedded) == len(wanted)


def test_no_embedding_when_every_paragraph_is_sure(
    cascade: TopicModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_embed(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("the encoder ran for sure paragraphs")

    monkeypatch.setattr(encoder, "embed", no_embed)
    sure = dataclasses.replace(stages(cascade), threshold=0.0)
    X = samples(PROBE)
    np.testing.assert_array_equal(sure.predict_proba(X), stages(cascade).first.predict_proba(X))


def test_card_records_cascade_and_threshold_and_model_round_trips(cascade: TopicModel) -> None:
    card = cascade.card
    assert card.features == "cascade"
    assert card.cascade is not None
    assert card.cascade.threshold == stages(cascade).threshold
    assert card.cascade.threshold in THRESHOLDS
    assert [c.threshold for c in card.cascade.candidates] == list(THRESHOLDS)
    assert card.cross_validation is None  # not asked for


def test_cascade_saves_small_and_loads_back(tmp_path: Path) -> None:
    trained = train(
        tiny_corpus(tmp_path / "data"), tmp_path / "models",
        options=TrainingOptions(features="cascade", threshold=0.9), cross_validation=False,
    )
    assert trained.card.cascade is not None and trained.card.cascade.threshold == 0.9
    assert trained.card.params["threshold"] == 0.9
    saved = tmp_path / "models" / trained.version / MODEL_FILE
    assert saved.stat().st_size < 1_000_000, "the model file must hold no encoder weights"
    loaded = load_model(tmp_path / "models")
    assert loaded.card == trained.card
    assert isinstance(loaded.linear, CascadeModel) and loaded.linear.threshold == 0.9
    articles = [PROBE, [t for t, _ in TINY[1]]]
    for got, want in zip(loaded.predict_proba(articles), trained.predict_proba(articles),
                         strict=True):
        np.testing.assert_allclose(got, want)


def test_threshold_is_the_cheapest_that_scores_as_well_as_both() -> None:
    # Paragraph 0: light right and sure. 1: light wrong at 0.55, both right.
    # 2: light right at 0.75, both wrong. 3: light wrong at 0.85, both right.
    light = np.array([[0.95, 0.05], [0.55, 0.45], [0.75, 0.25], [0.85, 0.15]])
    both = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    truth = ["a", "b", "a", "b"]
    chosen = choose_threshold(StageProbabilities(["a", "b"], light, both, truth, 2),
                              thresholds=(0.5, 0.6, 0.8, 0.9))
    assert chosen.both_macro_f1 == 0.7333 and chosen.light_macro_f1 == 0.3333
    assert [c.encoder_share for c in chosen.candidates] == [0.0, 0.25, 0.5, 0.75]
    assert [c.macro_f1 for c in chosen.candidates] == [0.3333, 0.7333, 0.5, 0.7333]
    assert chosen.threshold == 0.6 and chosen.encoder_share == 0.25


def test_threshold_is_for_the_cascade_only() -> None:
    with pytest.raises(ValueError, match="cascade"):
        TrainingOptions(features="both", threshold=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        TrainingOptions(features="cascade", threshold=1.5)


def test_train_command_reports_the_cascade_threshold(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    result = CliRunner().invoke(
        main, ["train", "--data", str(data), "--out", str(tmp_path / "models"),
               "--features", "cascade", "--no-cv"],
    )
    assert result.exit_code == 0, result.output
    assert "cascade threshold" in result.output and "to the encoder in CV" in result.output
    assert load_model(tmp_path / "models").card.features == "cascade"


def test_train_command_refuses_a_threshold_outside_the_cascade(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["train", "--data", str(tmp_path), "--features", "both", "--threshold", "0.5"],
    )
    assert result.exit_code == 2
    assert "threshold is for the cascade set only" in result.output
