"""The sentence-encoder features: embeddings, the encoder pipeline, and its saved form.

Needs the encoder extra (`make test` installs it); runs offline on the packaged model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medbrief import encoder
from medbrief.encoder import SentenceEncoder, embed
from medbrief.features import LayoutPart, TfidfPart, samples
from medbrief.model import MODEL_FILE, TransformedPart, load_model
from tests.test_training import TINY, tiny_corpus
from training.options import FEATURE_SETS, TrainingOptions
from training.train import train

TEXTS = [
    "The drug lowered blood pressure in most of the patients in the trial.",
    "Most trial patients saw their blood pressure fall after taking the medicine.",
    "Subscribe to our newsletter and follow us on Facebook and Twitter.",
]


def test_embeddings_are_unit_length_and_deterministic() -> None:
    first = embed(TEXTS, cache=False)
    second = embed(TEXTS, cache=False)
    assert first.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_batching_and_caching_do_not_change_embeddings() -> None:
    one_by_one = np.vstack([embed([t], batch_size=1, cache=False) for t in TEXTS])
    np.testing.assert_allclose(embed(TEXTS, batch_size=2), one_by_one, atol=1e-5)
    np.testing.assert_allclose(embed(TEXTS), one_by_one, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_paragraphs() -> None:
    vectors = embed(TEXTS)
    same, other = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > other + 0.3


def test_neighbours_are_added_within_an_article_only() -> None:
    X = samples(TEXTS[:2]) + samples(TEXTS[2:])
    features = SentenceEncoder(context_weight=0.5).fit(X).transform(X)
    own = embed([s.text for s in X])
    assert features.shape == (3, 3 * 384)
    np.testing.assert_allclose(features[0, 768:], own[1] * 0.5, atol=1e-6)  # next paragraph
    assert not features[1, 768:].any() and not features[2, 384:].any()  # article ends


def test_encoder_pipeline_trains_saves_small_and_round_trips(tmp_path: Path) -> None:
    assert FEATURE_SETS == ("light", "encoder", "both")
    data = tiny_corpus(tmp_path / "data")
    trained = train(
        data, tmp_path / "models", options=TrainingOptions(features="encoder"),
        cross_validation=False,
    )
    assert trained.card.features == "encoder"
    saved = tmp_path / "models" / trained.version / MODEL_FILE
    assert saved.stat().st_size < 1_000_000, "the model file must hold no encoder weights"
    loaded = load_model(tmp_path / "models")
    part = loaded.linear.parts[0]
    assert isinstance(part, TransformedPart)
    step = part.transformer
    assert isinstance(step, SentenceEncoder)
    assert not any(isinstance(v, encoder._Loaded) for v in vars(step).values())
    probe = [["Accept all cookies here.", "Nine patients achieved remission in the trial."]]
    np.testing.assert_allclose(loaded.predict_proba(probe)[0], trained.predict_proba(probe)[0])
    labels = [trained.labels[i] for i in loaded.predict_proba(probe)[0].argmax(axis=1)]
    assert labels == ["boilerplate", "results"]


def test_both_feature_sets_combine_words_and_embeddings(tmp_path: Path) -> None:
    model = train(
        tiny_corpus(tmp_path / "data"), None, options=TrainingOptions(features="both"),
        cross_validation=False,
    )
    kinds = [type(part) for part in model.linear.parts]
    assert kinds == [TfidfPart, TransformedPart, LayoutPart]
    assert model.card.params["encoder_weight"] == 1.0
    probs = model.predict_proba([[t for t, _ in TINY[1]]])[0]
    assert [model.labels[i] for i in probs.argmax(axis=1)] == [lab for _, lab in TINY[1]]


def test_weights_load_once_per_process(tmp_path: Path) -> None:
    embed(TEXTS[:1])
    before = encoder.loads
    assert before >= 1
    for _ in range(3):
        SentenceEncoder().fit(samples(TEXTS)).transform(samples(TEXTS))
    embed(["A paragraph this process has not seen before."])
    assert encoder.loads == before
    assert len(encoder._models) == 1


def test_a_folder_that_is_not_a_model_is_a_clean_error(tmp_path: Path) -> None:
    from medbrief.errors import ModelError

    with pytest.raises(ModelError, match="not a transformer model folder"):
        encoder.load_encoder(str(tmp_path))
