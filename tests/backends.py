"""The backends every op test runs on: the ``backend`` fixture (conftest.py) runs a test once per
registered backend, through ``pycnn.functional`` on tensors of that backend's device.

* ``cpu``: the fast kernels of pycnn._C (OpenMP, SIMD).
* ``reference``: the same ops with every kernel call routed to the plain-loop spec (csrc/ref) --
  the native module's ``reference=True`` -- so the spec itself is checked against the numpy
  float64 reference on the same tables.
* ``cuda``: a real GPU, or the emulated CUDA device (PYCNN_CUDA_EMULATOR=1) when the CUDA
  issues' backend is present (registered below only when ``pycnn.cuda.is_available()``).
"""
import contextlib
import functools

import numpy as np

import pycnn
from pycnn import _backend


class ReferenceNative:
    """pycnn._C with reference=True on every kernel (the *_params constructors pass through)."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        fn = getattr(self._module, name)
        if name.endswith(("_forward", "_backward")) or name in ("gemm", "binary"):
            return functools.partial(fn, reference=True)
        return fn


class TestBackend:
    def __init__(self, name, device, native=None):
        self.name, self.device, self._native = name, device, native

    def __repr__(self):
        return self.name

    def tensor(self, a, requires_grad=False, dtype=None):
        """A tensor of this backend's device holding a copy of the array `a` (its dtype kept)."""
        a = np.asarray(a)
        return pycnn.tensor(a, dtype=dtype or a.dtype, device=self.device, requires_grad=requires_grad)

    @staticmethod
    def numpy(t):
        """A host copy of a tensor (of any device)."""
        return t.detach().cpu().numpy()

    @contextlib.contextmanager
    def active(self):
        """Runs the block with this backend's kernels behind its device."""
        if self._native is None:
            yield self
            return
        saved = _backend.override(self.device, _backend.Backend(self.device, np, self._native))
        try:
            yield self
        finally:
            _backend.override(self.device, saved)


def registered():
    """The backends of this build, in the order the tests run them."""
    out = [TestBackend("cpu", "cpu"), TestBackend("reference", "cpu", ReferenceNative(pycnn._C))]
    cuda = getattr(pycnn, "cuda", None)
    if cuda is not None and hasattr(cuda, "backend_name") and cuda.is_available():
        out.append(TestBackend(cuda.backend_name(), "cuda"))
    return out


BACKENDS = registered()
