"""The int8 ONNX copy of the sentence encoder: built here from the installed weights, then run.

The first use on a machine exports the packaged transformer (with its mean pooling and
normalisation) to ONNX with ``torch.onnx``, quantises its matrix products to int8 per
channel with ONNX Runtime, and keeps the result in a cache folder; nothing is downloaded.
Later processes only open that file: they need ONNX Runtime and ``tokenizers``, not torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from medbrief.errors import ModelError

log = logging.getLogger(__name__)

# Bump when the exported graph or the quantisation changes, so old cache files are rebuilt.
RECIPE = "minilm-mean-l2/int8-per-channel/1"
ONNX_NAME = "encoder-int8.onnx"
OPSET = 17


def cache_root() -> Path:
    """Where built files go: ``$MEDBRIEF_CACHE_DIR``, else the user's cache folder."""
    explicit = os.environ.get("MEDBRIEF_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medbrief"


def onnx_path(folder: Path) -> Path:
    """The cache file built from one model folder (its key: the weights and the recipe)."""
    import onnxruntime

    weights = folder / "model.safetensors"
    stat = weights.stat() if weights.is_file() else None
    key = json.dumps(
        [str(folder), (folder / "config.json").read_text(encoding="utf-8"),
         stat and [stat.st_size, stat.st_mtime_ns], RECIPE, onnxruntime.__version__]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_root() / "encoder" / digest / ONNX_NAME


def threads() -> int:
    """Paragraphs encoded at once: ``$MEDBRIEF_ENCODER_THREADS``, else one in a worker
    process (its siblings use the other cores), else each core this process may use, up to 4."""
    explicit = os.environ.get("MEDBRIEF_ENCODER_THREADS")
    if explicit:
        return max(1, int(explicit))
    if multiprocessing.parent_process() is not None:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 4))


def build(folder: Path, target: Path) -> Path:
    """Export and quantise the model of ``folder`` into ``target`` (once, across processes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_suffix(".lock")):
        if target.is_file():  # another process built it while this one waited
            return target
        log.info("building the int8 ONNX encoder from %s into %s", folder, target)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            plain = Path(tmp) / "encoder.onnx"
            _export(folder, plain)
            quantised = Path(tmp) / ONNX_NAME
            _quantise(plain, quantised)
            os.replace(quantised, target)
    return target


def pretrained(folder: Path, purpose: str, **options: Any) -> Any:
    """The transformers model of a local folder, loaded quietly and offline; a clear error
    naming ``purpose`` when the encoder extra is not installed."""
    try:
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ModelError(
            f"{purpose} needs the optional extra: pip install 'medbrief[encoder]'"
        ) from exc
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # quiet library
    return AutoModel.from_pretrained(folder, local_files_only=True, **options)


def _export(folder: Path, out: Path) -> None:
    """The transformer plus mean pooling and L2 normalisation, as one fp32 ONNX graph."""
    model = pretrained(folder, "building the ONNX encoder", attn_implementation="eager")
    model.eval()
    import torch  # installed with transformers by the encoder extra

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    example = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter needs nothing beyond torch, which the extra pins; it warns
        # about its own deprecation and about tracing, and the tests check what it builds.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(), (example, example), str(out), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
        )


def _quantise(plain: Path, out: Path) -> None:
    """int8 weights per output channel (per tensor loses too much: cosine ~0.95)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    advice = _DropRecords("Please consider to run pre-processing")  # its shape inference fails
    root.addFilter(advice)
    try:
        quantize_dynamic(
            plain, out, weight_type=QuantType.QInt8, per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(advice)


class _DropRecords(logging.Filter):
    """Drops log records whose message starts with a given text."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock: concurrent builds still end in one atomic replace
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class OnnxEncoder:
    """A tokenizer and an ONNX Runtime session over the built file of one model folder.

    Each run is single-threaded; with several threads, batches run side by side (a session
    may be run from many threads). Paragraphs are short, so splitting one matrix product
    across threads would cost more in synchronisation than it saves.
    """

    def __init__(self, folder: Path) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                "the encoder features need the optional extra: pip install 'medbrief[encoder]'"
            ) from exc
        path = onnx_path(folder)
        if not path.is_file():
            build(folder, path)
        self.path = path
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        workers = threads()
        self._pool = ThreadPoolExecutor(workers, "medbrief-encoder") if workers > 1 else None
        self.dim = int(self.encode_ids([self.token_ids(["probe"], 8)[0]]).shape[1])

    def token_ids(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        """Each text's ids, cut to ``max_length`` keeping the final [SEP]."""
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        return [row if len(row) <= max_length else [*row[: max_length - 1], row[-1]]
                for row in ids]

    def encode_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit-length embeddings of one batch of token id rows (padded here)."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        out = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def encode_batches(self, batches: Sequence[Sequence[Sequence[int]]]) -> list[np.ndarray]:
        """``encode_ids`` of each batch, on the pool's threads when there are several."""
        if self._pool is None or len(batches) < 2:
            return [self.encode_ids(batch) for batch in batches]
        return list(self._pool.map(self.encode_ids, batches))
