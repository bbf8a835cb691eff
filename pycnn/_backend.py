"""The one dispatch point from a device to its implementation.

Every op asks ``backend(device)`` for two things:

* ``xp``: the array namespace for glue work (elementwise, reductions, reshapes).
  On the CPU this is numpy; a CUDA backend supplies its own device-array module.
* ``native``: the compiled kernels (GEMM, conv, pool, norm).  On the CPU this is
  ``pycnn._C``; its functions take and return arrays of ``xp`` and release the GIL.

Ops never import ``numpy`` or ``_C`` to do device work; they go through here, so a
CUDA implementation slots in by registering a backend, without touching the ops.
"""
from __future__ import annotations

import numpy as np

from . import _C

_DEVICES = ("cpu", "cuda")


class Backend:
    def __init__(self, device: str, xp, native):
        self.device = device
        self.xp = xp
        self.native = native

    def __repr__(self):
        return f"Backend({self.device!r})"


_BACKENDS = {"cpu": Backend("cpu", np, _C)}


def canonical_device(device) -> str:
    """'cpu', 'cuda' or 'cuda:0' (and objects with a .type, like torch.device) -> 'cpu' / 'cuda'."""
    if device is None:
        return "cpu"
    name = str(getattr(device, "type", device))
    base = name.split(":")[0]
    if base not in _DEVICES:
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    return base


def override(device: str, replacement: "Backend | None") -> "Backend | None":
    """Puts `replacement` behind `device` (None: back to the built-in one) and returns what was
    there.  For the tests, which run the same ops on the plain-loop reference kernels."""
    previous = _BACKENDS.get(device)
    if replacement is None:
        _BACKENDS.pop(device, None)
    else:
        _BACKENDS[device] = replacement
    return previous


def backend(device: str) -> Backend:
    try:
        return _BACKENDS[device]
    except KeyError:
        from . import cuda

        if not cuda.is_available():
            raise RuntimeError(
                f"device {device!r} requested but CUDA is not available "
                f"(pycnn.build_info()['cuda_built'] = {cuda.is_built()}, "
                f"device_count() = {cuda.device_count()})"
            ) from None
        raise RuntimeError(
            "pycnn tensors on 'cuda' are not implemented yet: this build has the CUDA runtime "
            "(pycnn.cuda) but no CUDA tensor kernels; use device='cpu'"
        ) from None
