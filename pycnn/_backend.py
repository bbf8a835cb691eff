"""The one dispatch point from a device to its implementation.

Every op asks ``backend(device)`` for:

* ``xp``: the array module for glue work (elementwise, reductions, reshapes, indexing): numpy on
  the CPU; CuPy on a GPU; on the emulated CUDA device numpy arrays standing in for device memory
  (pycnn._emulated_xp, which refuses host/device mixing as CuPy does);
* ``native``: the kernels (GEMM, conv, pool, norm, ...) with one interface: ``pycnn._C`` on the
  CPU, the CUDA adapter (pycnn._cuda_native) over ``pycnn._cuda`` or ``pycnn._cuda_emu``;
* ``from_host`` / ``to_host``: copies between host numpy arrays and this device's arrays;
* ``generator()``: the device's random generator (seeded by ``pycnn.manual_seed``).

Ops never import numpy or a native module to do device work; they go through here, so a device
is added by registering a backend, without touching the ops.
"""
from __future__ import annotations

import numpy as np

from . import _C
from ._device import device as _device_type


class Backend:
    def __init__(self, device: str, xp, native, from_host=None, to_host=None, make_generator=None):
        self.device = device
        self.xp = xp
        self.native = native
        self.from_host = from_host or (lambda a: np.ascontiguousarray(a))
        self.to_host = to_host or (lambda a: a)
        self._make_generator = make_generator or np.random.default_rng
        self._generator = None

    def generator(self):
        """This device's random generator: a numpy Generator API (standard_normal, random, uniform,
        normal, integers, permutation) whose arrays live on the device."""
        if self._generator is None:
            from .creation import seed_for

            self._generator = self._make_generator(seed_for(self.device))
        return self._generator

    def reseed(self):
        self._generator = None

    def __repr__(self):
        return f"Backend({self.device!r})"


_BACKENDS = {"cpu": Backend("cpu", np, _C)}


def override(device: str, replacement: "Backend | None") -> "Backend | None":
    """Puts `replacement` behind `device` (None: back to the built-in one) and returns what was
    there.  For the tests, which run the same ops on the plain-loop reference kernels."""
    previous = _BACKENDS.get(device)
    if replacement is None:
        _BACKENDS.pop(device, None)
    else:
        _BACKENDS[device] = replacement
    return previous


def backend(device) -> Backend:
    """The backend of a device type ('cpu', 'cuda') or device object."""
    kind = device.type if isinstance(device, _device_type) else str(device).split(":")[0]
    try:
        return _BACKENDS[kind]
    except KeyError:
        pass
    if kind != "cuda":
        raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")
    from . import cuda

    _BACKENDS["cuda"] = cuda._make_backend()  # raises a clear RuntimeError when CUDA is unavailable
    return _BACKENDS["cuda"]


def all_backends():
    return list(_BACKENDS.values())
