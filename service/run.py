"""`medbrief serve`: make sure a model exists, then run uvicorn with the settings."""

from __future__ import annotations

import atexit
import logging
import os
import resource
import shutil
import tempfile
from pathlib import Path

import uvicorn

from medbrief.model import current_version
from medbrief.service.config import Settings
from medbrief.service.protocol import GuardedH11Protocol

log = logging.getLogger("medbrief.service")


def run(host: str | None, port: int | None, workers: int | None, model_dir: Path) -> None:
    """Serve; trains a first model from the data folder when the model folder is empty."""
    settings = Settings(model_dir=model_dir)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if current_version(model_dir) is None and settings.train_if_missing:
        from medbrief.training.data import heldout_dirs
        from medbrief.training.train import train

        log.warning("no model in %s: training one from %s first", model_dir, settings.data_dir)
        train(settings.data_dir, model_dir, heldout_dirs(settings.data_dir), cross_validation=False)
    os.environ["MEDBRIEF_MODEL_DIR"] = str(model_dir)
    os.environ["MEDBRIEF_HEADER_TIMEOUT"] = str(settings.header_timeout)
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Each worker writes its counts here and /metrics adds them all up.
        metrics = tempfile.mkdtemp(prefix="medbrief-metrics-")
        atexit.register(shutil.rmtree, metrics, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    logging.getLogger("medbrief").setLevel(logging.INFO)
    raise_file_limit()
    uvicorn.run(
        "medbrief.service.app:app", host=host, port=port, workers=workers, log_level="info",
        http=GuardedH11Protocol, timeout_keep_alive=5,
    )


def raise_file_limit() -> None:
    """Let the service hold as many connections as the system allows it (the soft limit on
    open files up to the hard one): idle connections wait for their header deadline
    without starving everyone else of file handles."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
