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
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from medbrief.errors import ModelError

FORMAT = "medbrief-model/1"
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


def load(path: Path) -> dict[str, Any]:
    """Read what ``dump`` wrote; raises ModelError for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            tree = json.loads(archive.read("tree.json"))
            with np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: not a medbrief model file ({exc})") from exc
    if not isinstance(tree, dict) or tree.get("format") != FORMAT:
        raise ModelError(f"{path}: unknown model file format (expected {FORMAT})")
    try:
        return {k: _decode(v, arrays) for k, v in tree["objects"].items()}
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{path}: malformed model file ({exc!r})") from exc


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


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
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
        return [_decode(v, arrays) for v in node["list"]]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in node["tuple"])
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in node["dict"].items()}
    if kind == "type":
        return _numeric(node["type"]).type
    if kind == "numpy_dtype":
        return _numeric(node["numpy_dtype"])
    if kind == "object":
        return _rebuild(node["object"], _decode(node["state"], arrays))
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
