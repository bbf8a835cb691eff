"""CUDA runtime queries (PyTorch's ``torch.cuda`` names).

The CUDA module ``pycnn._cuda`` exists only in builds made with a CUDA compiler
(``PYCNN_CUDA=AUTO|ON``).  It links cudart statically, so it imports on machines
without a GPU or driver; there ``is_available()`` is simply False.
"""
from __future__ import annotations

try:
    from . import _cuda
except ImportError:  # CPU-only build
    _cuda = None


def is_built() -> bool:
    """True when this build contains the CUDA module."""
    return _cuda is not None


def device_count() -> int:
    return _cuda.device_count() if _cuda is not None else 0


def is_available() -> bool:
    return device_count() > 0


def _require(op):
    if _cuda is None:
        raise RuntimeError(f"pycnn.cuda.{op}: this pycnn build has no CUDA support "
                           "(rebuild with PYCNN_CUDA=ON and a CUDA toolkit)")
    if not is_available():
        raise RuntimeError(f"pycnn.cuda.{op}: CUDA is built but no CUDA device is available (no GPU or driver)")


def get_device_name(device: int = 0) -> str:
    _require("get_device_name")
    return _cuda.get_device_name(int(device))


def get_device_properties(device: int = 0) -> dict:
    _require("get_device_properties")
    return _cuda.get_device_properties(int(device))
