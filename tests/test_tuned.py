"""The tuned feature set: the encoder fine-tuned on the training paragraphs, saved inside
the model version, found again in the cache, and refused cleanly when it is missing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file

from medbrief.cli import main
from medbrief.encoder import SentenceEncoder, bundled_model_path
from medbrief.errors import ModelError
from medbrief.model import ENCODER_FOLDER, MODEL_FILE, TransformedPart, load_model
from medbrief.training.finetune import KEEP_CACHED
from medbrief.training.options import TrainingOptions
from medbrief.training.train import train
from tests.test_training import TINY, tiny_corpus

pytest.importorskip("torch")
PROBE = [["Accept all cookies here.", "Nine patients achieved remission in the trial."]]
TUNED = TrainingOptions(features="tuned", epochs=3.0)


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDBRIEF_CACHE_DIR", str(cache))
    return cache


def encoder_of(model: object) -> SentenceEncoder:
    parts = [p for p in model.linear.parts if isinstance(p, TransformedPart)]  # type: ignore[attr-defined]
    assert len(parts) == 1 and isinstance(parts[0].transformer, SentenceEncoder)
    return parts[0].transformer


def test_tuned_model_carries_its_encoder_and_loads_anywhere(tmp_path: Path) -> None:
    trained = train(tiny_corpus(tmp_path / "data"), tmp_path / "models", options=TUNED)
    assert trained.card.features == "tuned" and trained.card.params["epochs"] == 3.0
    assert trained.card.cross_validation is None  # each fold would need its own fine-tune
    version = tmp_path / "models" / trained.version
    assert (version / ENCODER_FOLDER / "config.json").is_file()
    assert (version / MODEL_FILE).stat().st_size < 1_000_000, "weights live beside, not in it"
    tuned = load_file(str(version / ENCODER_FOLDER / "model.safetensors"))
    bundled = load_file(str(bundled_model_path() / "model.safetensors"))
    layer = next(name for name in tuned if "layer.0.attention" in name and "weight" in name)
    assert not np.allclose(tuned[layer], bundled[layer]), "fine-tuning changed no weight"

    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "models", moved)
    shutil.rmtree(tmp_path / "models")
    loaded = load_model(moved)
    assert encoder_of(loaded).model_path == str(moved / trained.version / ENCODER_FOLDER)
    np.testing.assert_allclose(
        loaded.predict_proba(PROBE)[0], trained.predict_proba(PROBE)[0], atol=1e-5
    )
    labels = [loaded.labels[i] for i in loaded.predict_proba(PROBE)[0].argmax(axis=1)]
    assert labels == ["boilerplate", "results"]


def test_same_data_and_recipe_reuse_the_cached_fine_tune(
    tmp_path: Path, own_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tiny_corpus(tmp_path / "data")
    first = train(data, None, options=TUNED)
    tuned = list((own_cache / "tuned").iterdir())
    assert len(tuned) == 1 and encoder_of(first).model_path == str(tuned[0])
    with caplog.at_level(logging.INFO, logger="medbrief.training.finetune"):
        again = train(data, None, options=TUNED)
    assert "found in" in caplog.text and encoder_of(again).model_path == str(tuned[0])
    train(data, None, options=TrainingOptions(features="tuned", epochs=2.0))
    assert len(list((own_cache / "tuned").iterdir())) == 2, "another recipe, another fine-tune"
    assert not [p for p in (own_cache / "tuned").iterdir() if p.name.startswith(".")]


def test_the_cache_keeps_the_most_recently_used_fine_tunes(
    tmp_path: Path, own_cache: Path
) -> None:
    data = tiny_corpus(tmp_path / "data")
    used = {}
    for epochs in (1.0, 2.0, 3.0):
        used[epochs] = encoder_of(train(data, None, options=TrainingOptions(
            features="tuned", epochs=epochs))).model_path
    train(data, None, options=TrainingOptions(features="tuned", epochs=1.0))  # used again
    train(data, None, options=TrainingOptions(features="tuned", epochs=4.0))
    kept = {str(p) for p in (own_cache / "tuned").iterdir()}
    assert len(kept) == KEEP_CACHED == 3
    assert used[1.0] in kept and used[3.0] in kept and used[2.0] not in kept


def test_a_tuned_model_without_its_encoder_folder_is_refused(tmp_path: Path) -> None:
    trained = train(tiny_corpus(tmp_path / "data"), tmp_path / "models", options=TUNED)
    shutil.rmtree(tmp_path / "models" / trained.version / ENCODER_FOLDER)
    with pytest.raises(ModelError, match="encoder folder"):
        load_model(tmp_path / "models")


def test_cli_trains_tuned_shows_progress_and_refuses_bad_epochs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tiny_corpus(tmp_path / "data")
    bad = CliRunner().invoke(main, ["train", "--data", str(data), "--features", "tuned",
                                    "--epochs", "0", "--out", str(tmp_path / "m")])
    assert bad.exit_code == 2 and "--epochs" in bad.output and "positive" in bad.output
    assert not (tmp_path / "m").exists()
    done = CliRunner().invoke(main, ["train", "--data", str(data), "--features", "tuned",
                                     "--epochs", "3", "--out", str(tmp_path / "m")])
    assert done.exit_code == 0, done.output
    assert "fine-tuning the sentence encoder first" in done.stderr
    assert "fine-tuning the encoder: step" in caplog.text, "no progress without --verbose"
    assert f"labels {', '.join(sorted({lab for rows in TINY for _, lab in rows}))}" in done.output
    assert load_model(tmp_path / "m").card.features == "tuned"
