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

from medbrief import locations
from medbrief.model import current_version
from medbrief.service.config import Settings
from medbrief.service.protocol import GuardedH11Protocol

log = logging.getLogger("medbrief.service")


def run(host: str | None, port: int | None, workers: int | None, model_dir: Path | None) -> None:
    """Serve; without a model (in the model folder, or built into the package), trains a
    first one from the labelled articles."""
    settings = Settings(model_dir=model_dir) if model_dir is not None else Settings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    folder = settings.model_dir or locations.model_dir()
    packaged = locations.packaged_model() if settings.model_dir is None else None
    if current_version(folder) is None and packaged is None and settings.train_if_missing:
        from medbrief.training.data import heldout_dirs
        from medbrief.training.train import train

        data = settings.data_dir or locations.data_dir()
        log.warning("no model in %s: training one from %s first", folder, data)
        train(data, folder, heldout_dirs(data))  # with cross-validation: the card shows it
    if settings.model_dir is not None:
        os.environ["MEDBRIEF_MODEL_DIR"] = str(settings.model_dir)
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
        access_log=False,  # each request's JSON line (service/app.py) is the access log
    )


def raise_file_limit() -> None:
    """Let the service hold as many connections as the system allows it (the soft limit on
    open files up to the hard one): idle connections wait for their header deadline
    without starving everyone else of file handles."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
