"""Shared fixtures: the project's paths and one model trained from seeds/ per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from medbrief.engine import Analyzer
from medbrief.model import TopicModel, load_model
from medbrief.training.train import train

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
HELDOUT = SEEDS / "heldout"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder trained from seeds/ (no cross-validation, to stay quick)."""
    out = tmp_path_factory.mktemp("models")
    train(SEEDS, out, cross_validation=False)
    return out


@pytest.fixture(scope="session")
def model(model_dir: Path) -> TopicModel:
    return load_model(model_dir)


@pytest.fixture(scope="session")
def analyzer(model: TopicModel) -> Analyzer:
    return Analyzer(model)


def write_labelled(folder: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    """Write a labels file of (text, label) rows; returns its path."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.labels.jsonl"
    path.write_text(
        "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows), encoding="utf-8"
    )
    return path
