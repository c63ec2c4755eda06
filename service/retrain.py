"""Retraining while serving: train in a separate process, validate, then swap in."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from medbrief.engine import Analyzer
from medbrief.errors import MedbriefError
from medbrief.model import current_version, load_model, save_model
from service.schemas import LabelledArticleIn, RetrainResponse

MIN_HELDOUT_MACRO_F1 = 0.5
PROBE = (
    "We use cookies to improve your experience.\n\n"
    "In the trial, 12 of 15 patients went into remission after one infusion of the cells.\n\n"
    "Side effects included fever and a drop in blood pressure in three patients."
)


class RetrainError(Exception):
    """A retrain that failed or produced a model not fit to serve; the old one stays."""


def _write_articles(folder: Path, articles: list[dict[str, object]]) -> None:
    for article in articles:
        rows = article["paragraphs"]
        assert isinstance(rows, list)
        with (folder / f"{article['name']}.labels.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def train_and_validate(
    data_dir: str, model_dir: str, articles: list[dict[str, object]] | None
) -> dict[str, object]:
    """Runs in a child process: train, check the model, then save it (CURRENT swaps last)."""
    try:
        return _train_and_validate(data_dir, model_dir, articles)
    except (MedbriefError, ValueError) as exc:
        # Only the message goes back: not every error class can be rebuilt from a pickle
        # (LabelFileError needs three arguments), and a failed unpickle breaks the pool.
        raise RetrainError(str(exc)) from None


def _train_and_validate(
    data_dir: str, model_dir: str, articles: list[dict[str, object]] | None
) -> dict[str, object]:
    from training.data import heldout_dirs  # scikit-learn: only this child process needs it
    from training.train import train

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="medbrief-retrain-") as tmp:
        data = Path(data_dir)
        if articles is not None:
            data = Path(tmp) / "data"
            data.mkdir()
            _write_articles(data, articles)
        model = train(data, None, heldout_dirs(Path(data_dir)), cross_validation=False)
        staging = Path(tmp) / "staging"
        save_model(model, staging)
        record = Analyzer(load_model(staging)).analyze(PROBE)
        if len(record.paragraphs) != 3:
            raise RetrainError("the new model failed the probe article")
        scores = {name: m.macro_f1 for name, m in model.card.heldout_sets.items()}
        for name, metrics in model.card.heldout_sets.items():
            comparable = set(metrics.labels) <= set(model.labels)
            if comparable and metrics.macro_f1 < MIN_HELDOUT_MACRO_F1:
                raise RetrainError(
                    f"{name} macro-F1 {metrics.macro_f1:.3f} is below {MIN_HELDOUT_MACRO_F1}; "
                    "not swapped in"
                )
        previous = current_version(Path(model_dir))
        save_model(model, Path(model_dir))
    return RetrainResponse(
        version=model.version,
        previous=previous,
        articles=model.card.data.articles,
        cross_validation_macro_f1=None,
        heldout_macro_f1=scores.get("heldout"),
        heldout=scores,
        seconds=round(time.perf_counter() - started, 2),
    ).model_dump()


class Retrainer:
    """Runs one retrain at a time in a child process so serving never waits on it."""

    def __init__(self, data_dir: Path, model_dir: Path) -> None:
        self.data_dir = data_dir
        self.model_dir = model_dir
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, articles: list[LabelledArticleIn] | None) -> RetrainResponse:
        payload = [a.model_dump() for a in articles] if articles is not None else None
        async with self._lock:
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                try:
                    result = await loop.run_in_executor(
                        pool, train_and_validate, str(self.data_dir), str(self.model_dir),
                        payload,
                    )
                except (MedbriefError, ValueError, RetrainError) as exc:
                    raise RetrainError(str(exc)) from exc
                except BrokenProcessPool as exc:
                    raise RetrainError(f"the training process stopped: {exc}") from exc
        return RetrainResponse.model_validate(result)
