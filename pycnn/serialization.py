"""pycnn.save / pycnn.load: .npz files written atomically (temp file + rename).

Each array (or Tensor) is one ``.npy`` member, named by its path in the saved object
(``{"model": sd}`` -> ``model::conv1.weight``), so a state_dict saved alone reads back with
plain ``numpy.load`` under exactly its keys.  The structure around the arrays (nested
dicts with their key types, lists, tuples, and Python scalars such as an optimizer's
hyper-parameters) is kept as JSON in the member ``__pycnn_tree__``; nothing is pickled.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .tensor import Tensor

_NESTED = "::"  # separator of nested keys in member names, e.g. "model::conv1.weight"
_TREE = "__pycnn_tree__"
_SCALARS = (bool, int, float, str, type(None))


def _encode(obj, path, arrays):
    """A JSON-able description of obj; arrays are stored in `arrays` and referenced by name."""
    if isinstance(obj, Tensor):
        obj = obj.detach()._host()  # a CUDA tensor is saved from a host copy
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"save: the value at {path or '<root>'!r} is an array of dtype {arr.dtype}; "
                            "only bool/int/float arrays can be saved (nothing is pickled)")
        name, n = path or "value", 1
        while name in arrays or name == _TREE:
            name, n = f"{path or 'value'}#{n}", n + 1
        arrays[name] = arr
        return {"array": name}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} at {path or '<root>'!r}")
            items.append([k, _encode(v, f"{path}{_NESTED}{k}" if path else str(k), arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, f"{path}{_NESTED}{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, _SCALARS):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"float": repr(obj)}
        return {"value": obj}
    raise TypeError(f"save: cannot save the value at {path or '<root>'!r} of type {type(obj).__name__}: "
                    "expected Tensors, numpy arrays, dicts, lists, tuples or Python scalars")


def _decode(node, data):
    (kind, v), = node.items()
    if kind == "array":
        return data[v]
    if kind == "dict":
        return {k: _decode(x, data) for k, x in v}
    if kind == "list":
        return [_decode(x, data) for x in v]
    if kind == "tuple":
        return tuple(_decode(x, data) for x in v)
    if kind == "float":
        return float(v)
    return v


def save(obj, path):
    """Saves a (nested) dict of arrays/Tensors/scalars, e.g. a state_dict, to `path` atomically:
    the file is written under a temporary name in the same directory and renamed into place,
    so a failure never leaves a partial file (and never clobbers an existing one)."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict (e.g. a state_dict), got {type(obj).__name__}")
    path = os.fspath(path)
    arrays: dict = {}
    tree = json.dumps(_encode(obj, "", arrays))  # raises before any file is created
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pycnn-", suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # np.savez(**arrays) would choke on keys such as "file"; write the members directly
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, arr in list(arrays.items()) + [(_TREE, np.array(tree))]:
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path) -> dict:
    """Loads what save() wrote.  Plain .npz files (no tree) come back as a dict of arrays,
    with ``::``-separated member names turned into nested dicts."""
    with np.load(os.fspath(path), allow_pickle=False) as data:
        if _TREE in data.files:
            return _decode(json.loads(str(data[_TREE])), data)
        out: dict = {}
        for key in data.files:
            parts = key.split(_NESTED)
            d = out
            for p in parts[:-1]:
                d = d.setdefault(p, {})
            d[parts[-1]] = data[key]
        return out
