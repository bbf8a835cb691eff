"""pycnn.cuda: the CUDA device (PyTorch's ``torch.cuda`` names).

Two ways to run ``device='cuda'``:

* **a GPU**: the CUDA module ``pycnn._cuda`` (built when nvcc was found; it links cudart
  statically, so it imports on machines without a GPU or driver) plus CuPy for device arrays
  (``pip install "pycnn[cuda]"``).  ``is_available()`` is True when the module is built, a
  device is present and CuPy imports.
* **the emulated device** (``PYCNN_CUDA_EMULATOR=1`` in the environment): the same kernel sources
  built as host C++ (``pycnn._cuda_emu``, in every build unless ``PYCNN_CUDA=OFF``), with numpy
  arrays standing in for device memory.  The same Python code runs as on a GPU, slowly; it is how
  CI tests every CUDA kernel without a GPU.

The choice is made once, at the first CUDA tensor.  ``import pycnn`` never imports CuPy.
"""
from __future__ import annotations

import os

try:
    from . import _cuda
except ImportError:  # built without nvcc
    _cuda = None
try:
    from . import _cuda_emu
except ImportError:  # built with PYCNN_CUDA=OFF
    _cuda_emu = None

_cupy = None
_cupy_error = None


def _emulator_requested() -> bool:
    return os.environ.get("PYCNN_CUDA_EMULATOR", "") not in ("", "0")


def _import_cupy():
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy  # noqa: F401

            _cupy = cupy
        except Exception as e:  # ImportError, or a broken CUDA install
            _cupy_error = e
    return _cupy


def is_built() -> bool:
    """True when this build contains the GPU module (pycnn._cuda)."""
    return _cuda is not None


def is_emulated() -> bool:
    """True when device='cuda' runs on the emulated device (PYCNN_CUDA_EMULATOR=1)."""
    return _emulator_requested() and _cuda_emu is not None


def gpu_count() -> int:
    """GPUs the CUDA runtime sees (0 without a build, a driver or a GPU)."""
    return _cuda.device_count() if _cuda is not None else 0


def device_count() -> int:
    if is_emulated():
        return _cuda_emu.device_count()
    return gpu_count()


def unavailable_reason():
    """Why device='cuda' cannot run here, or None when it can."""
    if _emulator_requested():
        if _cuda_emu is None:
            return ("PYCNN_CUDA_EMULATOR=1 but this pycnn build has no emulated CUDA device "
                    "(it was built with PYCNN_CUDA=OFF; rebuild with PYCNN_CUDA=AUTO)")
        return None
    if _cuda is None:
        return ("this pycnn build has no CUDA module (no nvcc was found when it was built: install the CUDA "
                "toolkit and rebuild, e.g. PYCNN_CUDA=ON pip install .); set PYCNN_CUDA_EMULATOR=1 to run "
                "device='cuda' on the emulated device")
    if gpu_count() == 0:
        return ("CUDA is built but no CUDA device is available (no GPU, or no driver that supports CUDA 13); "
                "set PYCNN_CUDA_EMULATOR=1 to run device='cuda' on the emulated device")
    if _import_cupy() is None:
        return (f"CUDA needs CuPy for device arrays: install pycnn[cuda] (pip install \"pycnn[cuda]\", which brings "
                f"cupy-cuda13x); importing cupy failed: {_cupy_error}")
    return None


def is_available() -> bool:
    return unavailable_reason() is None


def backend_name() -> str:
    """'cuda' on a GPU, 'cuda-emulated' on the emulated device (the tests' backend ids)."""
    return "cuda-emulated" if is_emulated() else "cuda"


def _require(op):
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"pycnn.cuda.{op}: {reason}")


def current_device() -> int:
    """The index of the current CUDA device (pycnn uses one: 0, or CuPy's current device)."""
    if _cupy is not None and not is_emulated():
        return _cupy.cuda.runtime.getDevice()
    return 0


def synchronize(device=None):
    """Waits for every kernel queued on the device."""
    _require("synchronize")
    if is_emulated():
        return
    _cupy.cuda.runtime.deviceSynchronize()


def memory_allocated(device=None) -> int:
    """Bytes of device memory held by live arrays (CuPy's pool's used bytes; on the emulated
    device, the bytes of the live device arrays pycnn made)."""
    _require("memory_allocated")
    if is_emulated():
        from ._emulated_xp import live_bytes

        return live_bytes()
    return _cupy.get_default_memory_pool().used_bytes()


def get_device_name(device: int = 0) -> str:
    _require("get_device_name")
    return (_cuda_emu if is_emulated() else _cuda).get_device_name(int(device))


def get_device_properties(device: int = 0) -> dict:
    _require("get_device_properties")
    return (_cuda_emu if is_emulated() else _cuda).get_device_properties(int(device))


def manual_seed(seed: int):
    """Seeds the CUDA generator (pycnn.manual_seed seeds every device's)."""
    from .creation import manual_seed as seed_all

    seed_all(seed)


class _CupyGenerator:
    """numpy's Generator API (the part pycnn uses) on CuPy's RandomState: arrays on the GPU."""

    def __init__(self, seed):
        self._rs = _cupy.random.RandomState(seed)

    def standard_normal(self, size=None, dtype=float):
        return self._rs.standard_normal(size, dtype=dtype)

    def random(self, size=None, dtype=float):
        return self._rs.random_sample(size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._rs.uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._rs.normal(loc, scale, size)

    def integers(self, low, high=None, size=None):
        return self._rs.randint(low, high, size, dtype="int64")

    def permutation(self, n):
        return self._rs.permutation(n)


def _make_backend():
    """The 'cuda' Backend (pycnn._backend asks for it at the first CUDA tensor)."""
    from ._backend import Backend
    from ._cuda_native import CudaNative

    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"device 'cuda' requested, but {reason}")
    if is_emulated():
        from . import _emulated_xp as emu

        native = CudaNative(_cuda_emu, emu.xp, emu.pointer, lambda: 0)
        return Backend("cuda", emu.xp, native, from_host=emu.to_device, to_host=emu.to_host,
                       make_generator=emu.DeviceGenerator)
    cp = _cupy
    native = CudaNative(_cuda, cp, lambda a: a.data.ptr, lambda: cp.cuda.get_current_stream().ptr)
    return Backend("cuda", cp, native, from_host=cp.asarray, to_host=cp.asnumpy, make_generator=_CupyGenerator)
