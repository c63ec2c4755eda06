"""Saving a fitted model as data only: a JSON tree plus a NumPy archive, never pickle.

A saved object is JSON (numbers, strings, lists, dicts) whose leaves may name arrays in an
``.npz`` archive, read with ``allow_pickle=False``. Objects are rebuilt only for the
classes in ``ALLOWED`` (from their ``__getstate__``, through their ``__setstate__``): a
file naming any other class, or holding pickled data, is refused. Nothing in a model file
can run code, and loading imports nothing but the allowed classes' modules.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from medbrief import bounded
from medbrief.errors import ModelError

FORMAT = "medbrief-model/1"
# A model file may unpack to at most this many bytes (file, tree and arrays together).
MAX_BYTES = int(os.environ.get("MEDBRIEF_MAX_MODEL_BYTES", 100_000_000))
MAX_DEPTH = 32  # nesting of a saved object tree
# Every class a saved model may contain (module path, class name).
ALLOWED = frozenset(
    {
        "medbrief.model.LinearModel",
        "medbrief.model.CascadeModel",
        "medbrief.model.SentenceWeights",
        "medbrief.model.TransformedPart",
        "medbrief.features.TfidfPart",
        "medbrief.features.LayoutPart",
        "medbrief.encoder.SentenceEncoder",
    }
)


def dump(objects: dict[str, Any], path: Path) -> None:
    """Write named objects to ``path`` (a zip holding ``tree.json`` and ``arrays.npz``)."""
    arrays: dict[str, np.ndarray] = {}
    tree = {"format": FORMAT, "objects": {k: _encode(v, arrays) for k, v in objects.items()}}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tree.json", json.dumps(tree))
        archive.writestr("arrays.npz", buffer.getvalue())


def load(path: Path, limit: int = MAX_BYTES) -> dict[str, Any]:
    """Read what ``dump`` wrote; raises ModelError for anything else, checking every size
    before reading it: the file, each zip member (never more than ``limit`` bytes
    unpacked in all) and each array (its declared shape must fit its stored bytes)."""
    try:
        data = bounded.read_file(path, limit, "model file")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            budget = _Budget(limit)
            tree = json.loads(budget.read(archive, "tree.json"))
            arrays = _read_arrays(budget.read(archive, "arrays.npz"), budget)
    except ModelError:
        raise
    except RecursionError as exc:
        raise ModelError(f"{path}: malformed model file (nested too deeply)") from exc
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
            NotImplementedError, bounded.TooLarge) as exc:
        raise ModelError(f"{path}: not a medbrief model file ({exc})") from exc
    if not isinstance(tree, dict) or tree.get("format") != FORMAT:
        raise ModelError(f"{path}: unknown model file format (expected {FORMAT})")
    try:
        return {k: _decode(v, arrays, 0) for k, v in tree["objects"].items()}
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    except RecursionError as exc:
        raise ModelError(f"{path}: malformed model file (nested too deeply)") from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ModelError(f"{path}: malformed model file ({exc!r})") from exc


class _Budget:
    """Bytes a model file may still unpack to."""

    def __init__(self, left: int) -> None:
        self.left = left

    def read(self, archive: zipfile.ZipFile, name: str) -> bytes:
        """One member, refused before reading if it declares more than is left, and read no
        further than that if it lies."""
        info = archive.getinfo(name)
        if info.file_size > self.left:
            raise ModelError(f"{name} unpacks to {info.file_size} bytes, over the limit")
        with archive.open(info) as member:
            data = member.read(self.left + 1)
        if len(data) > self.left:
            raise ModelError(f"{name} unpacks to more bytes than it declares")
        self.left -= len(data)
        return data


def _read_arrays(data: bytes, budget: _Budget) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, each checked before it is built: a numeric or
    string dtype, and a declared shape whose size matches the bytes stored."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            raw = io.BytesIO(budget.read(archive, info.filename))
            version = np.lib.format.read_magic(raw)
            headers = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}
            if version not in headers:
                raise ValueError(f"unknown array format {version}")
            shape, fortran, dtype = headers[version](raw, max_header_size=10_000)
            if dtype.kind not in "biufU" or dtype.hasobject:
                raise ValueError(f"{info.filename}: arrays of {dtype} are not allowed")
            count = math.prod(shape)
            body = raw.read()
            if count * dtype.itemsize != len(body):
                raise ValueError(f"{info.filename}: shape {shape} does not match its data")
            array = np.frombuffer(body, dtype=dtype, count=count)
            array = array.reshape(shape, order="F" if fortran else "C")
            arrays[info.filename.removesuffix(".npy")] = array
    return arrays


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return {"scalar": value.item(), "dtype": value.dtype.name}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            if not all(isinstance(v, str) for v in value.flat):
                raise TypeError("cannot save an object array that is not all strings")
            return {"strings": value.tolist()}
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if isinstance(value, list | tuple):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cannot save a dict with non-string keys")
        return {"dict": {k: _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"type": np.dtype(value).name}
    if isinstance(value, np.dtype):
        return {"numpy_dtype": value.name}
    name = _name(type(value))
    if name not in ALLOWED:
        raise TypeError(f"cannot save a {name}: not an allowed model class")
    return {"object": name, "state": _encode(value.__getstate__(), arrays)}


def _decode(node: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if depth > MAX_DEPTH:
        raise ValueError(f"model file nested deeper than {MAX_DEPTH} levels")
    depth += 1
    if not isinstance(node, dict) or not node:
        raise ValueError(f"unexpected node {node!r}")
    kind = next(iter(node))
    if kind == "scalar":
        return _numeric(node["dtype"]).type(node["scalar"])
    if kind == "strings":
        return np.array(node["strings"], dtype=object)
    if kind == "array":
        return arrays[node["array"]]
    if kind == "list":
        return [_decode(v, arrays, depth) for v in node["list"]]
    if kind == "tuple":
        return tuple(_decode(v, arrays, depth) for v in node["tuple"])
    if kind == "dict":
        return {k: _decode(v, arrays, depth) for k, v in node["dict"].items()}
    if kind == "type":
        return _numeric(node["type"]).type
    if kind == "numpy_dtype":
        return _numeric(node["numpy_dtype"])
    if kind == "object":
        return _rebuild(node["object"], _decode(node["state"], arrays, depth))
    raise ValueError(f"unknown node kind {kind!r}")


def _numeric(name: str) -> np.dtype[Any]:
    dtype = np.dtype(name)
    if dtype.kind not in "biuf":
        raise ValueError(f"{name} is not a numeric type")
    return dtype


def _rebuild(name: str, state: Any) -> Any:
    if name not in ALLOWED:
        raise ModelError(f"refusing to load {name}: not an allowed model class")
    module, _, qualname = name.rpartition(".")
    cls = getattr(importlib.import_module(module), qualname)
    obj = cls.__new__(cls)
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
    else:
        obj.__dict__.update(state)
    return obj
