"""Retraining while serving: train in a separate process, validate, then swap in.

One retrain runs at a time across every worker of the service (a lock file in the model
folder). A new model goes live only when it passes the gate: it labels a probe article
as expected, it is scored on at least one held-out folder that shares its labels, and on
each such folder it scores at least MIN_HELDOUT_MACRO_F1 and no less than the serving
model (less HELDOUT_TOLERANCE).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

from medbrief.card import Metrics
from medbrief.engine import Analyzer
from medbrief.errors import LabelFileError, MedbriefError, ModelError
from medbrief.locations import packaged_model
from medbrief.model import STAGING_PREFIX, TopicModel, current_version, load_model, save_model
from medbrief.service.schemas import LabelledArticleIn, RetrainResponse

MIN_HELDOUT_MACRO_F1 = 0.5
HELDOUT_TOLERANCE = 0.0  # a retrain may score this much below the serving model
LOCK = ".retrain.lock"
WORK_PREFIX = ".retrain-"
# A probe article and the label each paragraph should get (None: not checked). A new model
# must label at least PROBE_RIGHT of the checked paragraphs whose labels it has as expected.
PROBE = (
    ("Cell therapy sends lupus into remission in a small trial", None),
    ("In the trial, 12 of 15 patients went into remission after one infusion of the cells, "
     "and none has relapsed in the year since.", "trial_results"),
    ("Side effects included fever and a drop in blood pressure in three patients, and two "
     "needed treatment in hospital.", "risks"),
    ("Larger trials are planned for next year, and the researchers hope the therapy could "
     "be approved within five years.", "outlook"),
    ("We use cookies to improve your experience. Accept all cookies to continue.",
     "boilerplate"),
)
PROBE_RIGHT = 3


class RetrainError(Exception):
    """A retrain that failed or produced a model not fit to serve; the old one stays."""


class RetrainBusy(RetrainError):
    """Another retrain (in this worker or another) is running."""


@contextmanager
def retrain_lock(model_dir: Path) -> Iterator[None]:
    """Hold the model folder's retrain lock, or raise RetrainBusy at once."""
    model_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(model_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RetrainBusy("a retrain is already running") from exc
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_articles(folder: Path, articles: list[dict[str, object]]) -> None:
    for article in articles:
        rows = article["paragraphs"]
        assert isinstance(rows, list)
        with (folder / f"{article['name']}.labels.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def train_and_validate(
    data_dir: str, model_dir: str, articles: list[dict[str, object]] | None,
    corrections_dir: str | None = None,
) -> dict[str, object]:
    """Runs in a child process: train, check the model, then save it (CURRENT swaps last).
    The caller holds the retrain lock."""
    try:
        return _train_and_validate(
            Path(data_dir), Path(model_dir), articles,
            Path(corrections_dir) if corrections_dir else None,
        )
    except LabelFileError as exc:
        # Name the uploaded file as the client named it, never by a server path.
        where = Path(exc.path).name + (f":{exc.line}" if exc.line is not None else "")
        raise RetrainError(f"{where}: {exc.message}") from None
    except (MedbriefError, ValueError) as exc:
        # Only the message goes back: not every error class can be rebuilt from a pickle
        # (LabelFileError needs three arguments), and a failed unpickle breaks the pool.
        raise RetrainError(str(exc)) from None


def _train_and_validate(
    data_dir: Path, model_dir: Path, articles: list[dict[str, object]] | None,
    corrections_dir: Path | None,
) -> dict[str, object]:
    # scikit-learn: only this child process needs it
    from medbrief.training.data import heldout_dirs
    from medbrief.training.train import train

    started = time.perf_counter()
    # Left by a retrain killed mid-way (this one holds the lock, so no other is running).
    for stale in [*model_dir.glob(WORK_PREFIX + "*"), *model_dir.glob(STAGING_PREFIX + "*")]:
        shutil.rmtree(stale, ignore_errors=True)
    work = model_dir / f"{WORK_PREFIX}{os.getpid()}"
    work.mkdir()
    try:
        data = data_dir
        if articles is not None:
            data = work / "data"
            data.mkdir()
            _write_articles(data, articles)
        extra, corrections = _corrections(data_dir, corrections_dir, articles is None)
        serving = _serving(model_dir)
        model = train(data, None, heldout_dirs(data_dir), cross_validation=False,
                      extra_dirs=extra)
        if serving is not None and serving.card.calibration is not None:
            # No cross-validation here to fit a calibration: keep the serving model's.
            card = model.card.model_copy(update={"calibration": serving.card.calibration})
            model = TopicModel(card, model.linear, model.scorer)
        staging = work / "staging"
        save_model(model, staging)
        _probe(load_model(staging))
        scores = _gate(model, serving)
        previous = current_version(model_dir)
        save_model(model, model_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RetrainResponse(
        version=model.version,
        previous=previous,
        articles=model.card.data.articles,
        cross_validation_macro_f1=None,
        heldout_macro_f1=scores.get("heldout"),
        heldout=scores,
        serving_heldout={
            name: m.macro_f1 for name, m in (serving.card.heldout_sets if serving else {}).items()
            if name in scores
        },
        corrections=corrections,
        seconds=round(time.perf_counter() - started, 2),
    ).model_dump()


def _corrections(
    data_dir: Path, folder: Path | None, wanted: bool
) -> tuple[list[Path], int]:
    """The corrections folder to train on beside the data (none when it lies inside the
    data, which brings its corrections anyway), and how many corrections take part."""
    if not wanted or folder is None or not folder.is_dir():
        return [], 0
    count = len(list(folder.glob("*.labels.jsonl")))
    inside = folder.resolve().is_relative_to(data_dir.resolve())
    return ([] if inside or not count else [folder]), count


def _serving(model_dir: Path) -> TopicModel | None:
    """The model a retrain must not fall below: the folder's, or the packaged default."""
    folder = model_dir if current_version(model_dir) else packaged_model()
    try:
        return load_model(folder) if folder is not None else None
    except ModelError:
        return None  # a broken serving model sets no bar


def _probe(model: TopicModel) -> None:
    """The saved model, loaded back, must label the probe article as expected (all but
    one of the checked paragraphs whose labels it has)."""
    record = Analyzer(model).analyze("\n\n".join(text for text, _ in PROBE), format="text")
    if len(record.paragraphs) != len(PROBE):
        raise RetrainError("the new model does not read the probe article")
    checked = [(p, expected) for p, (_, expected) in zip(record.paragraphs, PROBE, strict=True)
               if expected is not None and expected in model.labels]
    wrong = [f"{expected!r} read as {p.label!r}" for p, expected in checked if p.label != expected]
    if len(checked) - len(wrong) < min(PROBE_RIGHT, len(checked)):
        raise RetrainError(f"the new model fails the probe article: {'; '.join(wrong)}")


def _comparable(metrics: Metrics, model: TopicModel) -> bool:
    truth = {label for label, scores in metrics.per_label.items() if scores.support}
    return truth <= set(model.labels)


def _gate(model: TopicModel, serving: TopicModel | None) -> dict[str, float]:
    """The new model's held-out macro-F1 by folder, if it may go live; else RetrainError."""
    sets = {name: m for name, m in model.card.heldout_sets.items() if _comparable(m, model)}
    if not sets:
        raise RetrainError(
            "no held-out folder shares this model's labels, so it cannot be checked; add one "
            "(DATA/heldout-NAME) before retraining with this label set"
        )
    bar = serving.card.heldout_sets if serving is not None else {}
    for name, metrics in sets.items():
        old = bar.get(name)
        floor = max(MIN_HELDOUT_MACRO_F1, old.macro_f1 - HELDOUT_TOLERANCE if old else 0.0)
        if metrics.macro_f1 < floor:
            against = f"the serving model's {old.macro_f1:.3f}" if old else "the minimum"
            raise RetrainError(
                f"{name} macro-F1 {metrics.macro_f1:.3f} is below {floor:.3f} ({against}); "
                "not swapped in"
            )
    return {name: m.macro_f1 for name, m in sets.items()}


class Retrainer:
    """Runs one retrain at a time in a child process so serving never waits on it."""

    def __init__(
        self, data_dir: Path, model_dir: Path, corrections_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.model_dir = model_dir
        self.corrections_dir = corrections_dir
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, articles: list[LabelledArticleIn] | None) -> RetrainResponse:
        payload = [a.model_dump() for a in articles] if articles is not None else None
        if self._lock.locked():
            raise RetrainBusy("a retrain is already running")
        async with self._lock:
            with retrain_lock(self.model_dir):
                loop = asyncio.get_running_loop()
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    try:
                        result = await loop.run_in_executor(
                            pool, train_and_validate, str(self.data_dir), str(self.model_dir),
                            payload, str(self.corrections_dir) if self.corrections_dir else None,
                        )
                    except (MedbriefError, ValueError, RetrainError) as exc:
                        raise RetrainError(str(exc)) from exc
                    except BrokenProcessPool as exc:
                        raise RetrainError(f"the training process stopped: {exc}") from exc
        return RetrainResponse.model_validate(result)
