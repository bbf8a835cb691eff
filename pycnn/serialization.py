"""pycnn.save / pycnn.load: .npz files written atomically (temp file + rename)."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .tensor import Tensor

_NESTED = "::"  # key separator for nested dicts, e.g. {"model": sd} -> "model::conv1.weight"


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}{k}{_NESTED}")
    else:
        if isinstance(obj, Tensor):
            obj = obj.detach()._array
        yield prefix[: -len(_NESTED)], np.asarray(obj)


def save(obj, path):
    """Saves a dict of arrays/Tensors (possibly nested, e.g. a state_dict) to `path`."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. a state_dict), got {type(obj).__name__}")
    path = os.fspath(path)
    arrays = dict(_flatten(obj))
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pycnn-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path) -> dict:
    """Loads what save() wrote: a (nested) dict of numpy arrays."""
    out: dict = {}
    with np.load(os.fspath(path), allow_pickle=False) as data:
        for key in data.files:
            parts = key.split(_NESTED)
            d = out
            for p in parts[:-1]:
                d = d.setdefault(p, {})
            value = data[key]
            d[parts[-1]] = value
    return out
