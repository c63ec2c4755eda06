"""The model a worker serves, swapped atomically when a new version appears on disk."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from medbrief.engine import Analyzer
from medbrief.errors import ModelError
from medbrief.model import current_version, load_model

log = logging.getLogger("medbrief.service")


class ModelHolder:
    """Holds one Analyzer; requests take a reference, a reload replaces it whole."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.analyzer: Analyzer | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self.analyzer.model.version if self.analyzer else None

    def refresh(self) -> bool:
        """Load the model CURRENT names if it is not the one held; True when it changed."""
        with self._lock:
            wanted = current_version(self.model_dir)
            if wanted is None or wanted == self.version:
                return False
            try:
                analyzer = Analyzer(load_model(self.model_dir))
            except ModelError as exc:
                self.last_error = str(exc)
                log.warning("keeping model %s: %s", self.version, exc)
                return False
            self.analyzer, self.last_error = analyzer, None
            log.info("serving model %s", analyzer.model.version)
            return True

    async def watch(self, every: float) -> None:
        """Look for a new model version every ``every`` seconds, forever."""
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self.refresh)
