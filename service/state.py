"""The model a worker serves, swapped atomically when a new version appears on disk."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from medbrief.engine import Analyzer
from medbrief.errors import ModelError
from medbrief.ingest import MAX_BYTES, MAX_PARAGRAPHS
from medbrief.model import current_version, load_model

log = logging.getLogger("medbrief.service")


class ModelHolder:
    """Holds one Analyzer; requests take a reference, a reload replaces it whole. It serves
    the model folder's current version, or while that folder holds none, ``fallback`` (the
    packaged default model) if given."""

    def __init__(
        self, model_dir: Path, max_bytes: int = MAX_BYTES, max_paragraphs: int = MAX_PARAGRAPHS,
        fallback: Path | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.fallback = fallback
        self.limits = (max_bytes, max_paragraphs)
        self.analyzer: Analyzer | None = None
        self.source: Path | None = None  # the folder the held model came from
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self.analyzer.model.version if self.analyzer else None

    def refresh(self) -> bool:
        """Load the model CURRENT names if it is not the one held; True when it changed."""
        with self._lock:
            try:
                source = self.model_dir
                wanted = current_version(source)
                if wanted is None and self.fallback is not None and self.analyzer is None:
                    source, wanted = self.fallback, current_version(self.fallback)
                if wanted is None or (wanted == self.version and source == self.source):
                    return False
                analyzer = Analyzer(load_model(source), *self.limits)
            except ModelError as exc:
                if str(exc) != self.last_error:
                    log.warning("keeping model %s: %s", self.version, exc)
                self.last_error = str(exc)
                return False
            self.analyzer, self.source, self.last_error = analyzer, source, None
            log.info("serving model %s from %s", analyzer.model.version, source)
            return True

    async def watch(self, every: float) -> None:
        """Look for a new model version every ``every`` seconds, forever: a failure to
        load one is logged and the next look still happens."""
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # the watch must outlive any one bad version; logged whole
                log.exception("checking %s for a new model failed", self.model_dir)
