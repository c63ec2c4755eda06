"""The sentence-encoder features: embeddings, the encoder pipeline, and its saved form.

Needs the encoder extra (`make test` installs it); runs offline on the packaged model. The
int8 ONNX file is built on first use into the user's cache (about 15 s once per machine).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medbrief import encoder, encoder_onnx
from medbrief.encoder import SentenceEncoder, embed
from medbrief.features import LayoutPart, TfidfPart, samples
from medbrief.model import MODEL_FILE, TransformedPart, load_model
from medbrief.training.options import FEATURE_SETS, TrainingOptions
from medbrief.training.train import train
from tests.test_training import TINY, tiny_corpus

TEXTS = [
    "The drug lowered blood pressure in most of the patients in the trial.",
    "Most trial patients saw their blood pressure fall after taking the medicine.",
    "Subscribe to our newsletter and follow us on Facebook and Twitter.",
]
LONG = " ".join(["Researchers followed the patients for two years after the infusion."] * 20)


def test_embeddings_are_unit_length_and_deterministic() -> None:
    first = embed(TEXTS, cache=False)
    second = embed(TEXTS, cache=False)
    assert first.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_caching_and_neighbouring_texts_do_not_change_embeddings() -> None:
    one_by_one = np.vstack([embed([t], cache=False) for t in TEXTS])
    np.testing.assert_allclose(embed(TEXTS, cache=False), one_by_one, atol=1e-6)
    np.testing.assert_allclose(embed(TEXTS), one_by_one, atol=1e-6)
    np.testing.assert_allclose(embed(TEXTS[::-1])[::-1], one_by_one, atol=1e-6)


def test_the_embedding_cache_can_be_turned_off_for_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDBRIEF_EMBEDDING_CACHE", "0")
    fresh = "A paragraph that only the cache-off test embeds."
    embed([fresh])
    assert not any(key[-1] == fresh for key in encoder._embeddings)


def test_torch_batching_pads_without_changing_embeddings() -> None:
    one_by_one = np.vstack([embed([t], batch_size=1, cache=False, backend="torch") for t in TEXTS])
    for size in (2, 3):
        batched = embed(TEXTS, batch_size=size, cache=False, backend="torch")
        np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_int8_onnx_embeddings_match_the_torch_reference() -> None:
    texts = [*TEXTS, *(t for rows in TINY for t, _ in rows), LONG]
    reference = embed(texts, cache=False, backend="torch")
    int8 = embed(texts, cache=False, backend="onnx-int8")
    cosine = (reference * int8).sum(axis=1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.97, cosine


def test_long_paragraphs_are_cut_keeping_the_end_marker() -> None:
    int8 = encoder.load_encoder(backend="onnx-int8")
    reference = encoder.load_encoder(backend="torch")
    for limit in (encoder.MAX_LENGTH, 128):
        ids = int8.token_ids([LONG, TEXTS[0]], limit)
        assert [len(row) for row in ids] == [limit, len(int8.token_ids([TEXTS[0]], 512)[0])]
        assert ids[0][-1] == ids[1][-1]  # [SEP]
        assert ids == reference.token_ids([LONG, TEXTS[0]], limit)


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
    assert FEATURE_SETS == ("light", "encoder", "both", "cascade", "tuned")
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
    assert not any(hasattr(v, "encode_batches") for v in vars(step).values())
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
    # One copy of the bundled encoder (tests of the tuned set load fine-tuned ones too).
    bundled = encoder.bundled_model_path().resolve()
    copies = [f for f, backend in encoder._models
              if backend == "onnx-int8" and Path(f).resolve() == bundled]
    assert len(copies) == 1


def test_onnx_file_is_built_offline_from_the_installed_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the ONNX build tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("MEDBRIEF_CACHE_DIR", str(tmp_path))
    folder = encoder.bundled_model_path()
    target = encoder_onnx.onnx_path(folder)
    assert target.is_relative_to(tmp_path) and not target.exists()
    assert encoder_onnx.build(folder, target) == target
    assert 15e6 < target.stat().st_size < 30e6, "int8 weights: about a quarter of fp32"
    built = encoder_onnx.OnnxEncoder(folder)  # opens the file just built, builds nothing
    assert built.path == target
    cached = encoder.load_encoder(backend="onnx-int8")
    ids = [built.token_ids([t], 128)[0] for t in TEXTS]
    np.testing.assert_allclose(
        np.vstack(built.encode_batches([[row] for row in ids])),
        np.vstack(cached.encode_batches([[row] for row in ids])), atol=1e-6,
    )


def test_a_worker_process_encodes_on_one_thread() -> None:
    script = (
        "import multiprocessing as mp\n"
        "from medbrief.encoder_onnx import threads\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('spawn').Pool(1) as pool:\n"
        "        print(pool.apply(threads))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MEDBRIEF_ENCODER_THREADS"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, env=env)
    assert done.stdout.strip() == "1"


def test_models_saved_before_the_onnx_backend_keep_torch_embeddings() -> None:
    old = SentenceEncoder.__new__(SentenceEncoder)
    old.__setstate__({"model_path": None, "context_weight": 0.5, "max_length": 256,
                      "batch_size": 32, "cache": True, "dim_": 384})
    assert old.backend == "torch"
    np.testing.assert_allclose(
        old.transform(samples(TEXTS[:1]))[:, :384],
        embed(TEXTS[:1], max_length=256, backend="torch"), atol=1e-6,
    )


def test_a_folder_that_is_not_a_model_is_a_clean_error(tmp_path: Path) -> None:
    from medbrief.errors import ModelError

    with pytest.raises(ModelError, match="not a transformer model folder"):
        encoder.load_encoder(str(tmp_path))
