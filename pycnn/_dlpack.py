"""DLPack exchange (Tensor.__dlpack__ / __dlpack_device__, pycnn.from_dlpack), zero-copy.

A CPU tensor's memory is its numpy array's, so export is numpy's ``__dlpack__`` and import is
``numpy.from_dlpack`` wrapped without a copy; on a GPU the array is CuPy's, so both directions are
CuPy's.  The emulated CUDA device has no device memory to hand out (its arrays are host numpy
arrays standing in for it): exporting or importing 'cuda' memory there raises, rather than let a
consumer see a host pointer labelled as device memory.

Device codes are DLPack's DLDeviceType: kDLCPU = 1, kDLCUDA = 2.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

_KDL_CPU, _KDL_CUDA = 1, 2
_DTYPES = ("float32", "float64", "int64", "bool")


def dlpack_device(t: Tensor) -> tuple:
    """(1, 0) for a CPU tensor, (2, index) for a CUDA one (also on the emulated device)."""
    if t.device.type == "cpu":
        return (_KDL_CPU, 0)
    return (_KDL_CUDA, t.device.index or 0)


def _emulated() -> bool:
    from . import cuda
    return cuda.is_emulated()


def to_dlpack(t: Tensor, stream=None, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule viewing t's memory (the producer side of the protocol)."""
    if t.requires_grad:
        raise RuntimeError("__dlpack__: can't export a tensor that requires grad; use tensor.detach()")
    kwargs = {k: v for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy))
              if v is not None}
    if t.device.type == "cpu":
        if stream is not None:
            raise ValueError(f"__dlpack__: stream must be None for a CPU tensor, got {stream!r}")
        try:
            return t._array.__dlpack__(**kwargs)
        except TypeError:
            if max_version is None or dl_device is not None or copy is not None:
                raise
            return t._array.__dlpack__()  # numpy < 2.1 knows no max_version: a versionless capsule
    if _emulated():
        raise RuntimeError(f"__dlpack__: the tensor is on {t.device}, the emulated CUDA device, which has no "
                           "device memory to share through DLPack; use tensor.cpu() first")
    return t._array.__dlpack__(stream=stream, **kwargs)  # CuPy's


def from_dlpack(ext) -> Tensor:
    """A Tensor sharing the memory of any object exposing __dlpack__ (a numpy array, a torch
    tensor, a CuPy array), as torch.from_dlpack.  pycnn tensors are C-contiguous float32,
    float64, int64 or bool: anything else is refused rather than silently copied."""
    if isinstance(ext, Tensor):
        return ext.detach()
    if not hasattr(ext, "__dlpack__") or not hasattr(ext, "__dlpack_device__"):
        if type(ext).__name__ == "PyCapsule":
            raise TypeError("from_dlpack: a bare DLPack capsule is not supported; pass the array itself "
                            "(anything with __dlpack__ and __dlpack_device__)")
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__, got "
                        f"{type(ext).__name__}")
    kind, index = ext.__dlpack_device__()
    if int(kind) == _KDL_CPU:
        arr = np.from_dlpack(ext)
        device = "cpu"
    elif int(kind) == _KDL_CUDA:
        if _emulated():
            raise RuntimeError("from_dlpack: the array is in CUDA memory, but device='cuda' here is the emulated "
                               "CUDA device (PYCNN_CUDA_EMULATOR=1), which cannot hold real device memory")
        try:
            import cupy
        except ImportError:
            raise RuntimeError("from_dlpack: the array is in CUDA memory; importing it needs CuPy") from None
        arr = cupy.from_dlpack(ext)
        device = f"cuda:{int(index)}"
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {kind} (pycnn has CPU = 1 and CUDA = 2)")
    if arr.dtype.name not in _DTYPES:
        raise TypeError(f"from_dlpack: the array has dtype {arr.dtype}; pycnn tensors are float32, float64, int64 "
                        "or bool (convert it first, e.g. x.float())")
    if not arr.flags.c_contiguous:
        raise ValueError(f"from_dlpack: the array of shape {tuple(arr.shape)} has strides {arr.strides} (bytes), "
                         "not C-contiguous; pycnn tensors are C-contiguous (call .contiguous() on it first)")
    return Tensor._wrap(arr, device)


def host_array(v, what="value") -> np.ndarray:
    """A host numpy array with v's values (no copy where v is already host memory): for pycnn
    Tensors, numpy arrays, DLPack producers (torch / CuPy arrays; a CUDA one is copied to the
    host) and anything numpy.asarray takes (__array__, nested lists, numbers)."""
    if isinstance(v, Tensor):
        return v.detach()._host()
    if isinstance(v, np.ndarray):
        arr = v
    elif hasattr(v, "__dlpack__") and hasattr(v, "__dlpack_device__"):
        kind = int(v.__dlpack_device__()[0])
        if getattr(v, "requires_grad", False) and hasattr(v, "detach"):
            v = v.detach()  # torch refuses to export a tensor that requires grad; its data is what we copy
        if kind == _KDL_CUDA:
            try:
                import cupy
            except ImportError:
                raise RuntimeError(f"{what}: the value is in CUDA memory; copying it to the host needs CuPy "
                                   "(or pass value.cpu())") from None
            arr = cupy.asnumpy(cupy.from_dlpack(v))
        else:
            try:
                arr = np.from_dlpack(v)
            except (BufferError, TypeError, RuntimeError, ValueError) as e:
                try:
                    arr = np.asarray(v)  # e.g. through __array__
                except (TypeError, ValueError, RuntimeError) as e2:
                    raise TypeError(f"{what}: cannot read the {type(v).__name__} through DLPack ({e}) nor "
                                    f"__array__ ({e2}); convert it to float32/float64/int64/bool first") from None
    else:
        arr = np.asarray(v)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a numeric array, got dtype {arr.dtype} ({type(v).__name__})")
    return arr
