"""`medbrief serve`: make sure a model exists, then run uvicorn with the settings."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn

from medbrief.model import current_version
from service.config import Settings

log = logging.getLogger("medbrief.service")


def run(host: str | None, port: int | None, workers: int | None, model_dir: Path) -> None:
    """Serve; trains a first model from the data folder when the model folder is empty."""
    settings = Settings(model_dir=model_dir)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if current_version(model_dir) is None and settings.train_if_missing:
        from training.data import heldout_dirs
        from training.train import train

        log.warning("no model in %s: training one from %s first", model_dir, settings.data_dir)
        train(settings.data_dir, model_dir, heldout_dirs(settings.data_dir), cross_validation=False)
    os.environ["MEDBRIEF_MODEL_DIR"] = str(model_dir)
    logging.getLogger("medbrief").setLevel(logging.INFO)
    uvicorn.run("service.app:app", host=host, port=port, workers=workers, log_level="info")
