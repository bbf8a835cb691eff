"""Tensor constructors and the global random generator (``pycnn.manual_seed``)."""
from __future__ import annotations

import numpy as np

from ._backend import all_backends, backend
from ._device import canonical_device
from .tensor import Tensor, _as_tensor_args, _default_dtype, canonical_dtype

_seed = None  # the last manual_seed, or None: fresh entropy


def manual_seed(seed: int):
    """Seed every random op in pycnn (randn, rand, init, dropout, shuffling), on every device:
    each device's generator restarts from this seed (the CUDA device's stream differs from the
    CPU's, as in PyTorch)."""
    global _seed
    _seed = int(seed)
    for be in all_backends():
        be.reseed()
    return backend("cpu").generator()


def seed_for(device):
    """The seed a device's generator starts from (pycnn._backend.Backend.generator)."""
    return _seed


def default_generator(device="cpu"):
    """The random generator of a device: numpy's Generator API, arrays on that device."""
    return backend(canonical_device(device)).generator()


def _make(array, dtype, device, requires_grad):
    device = canonical_device(device)
    dtype = canonical_dtype(dtype) or _default_dtype
    if device.type == "cpu":
        array = np.ascontiguousarray(array, dtype=dtype)
    else:
        be = backend(device)
        array = array.astype(dtype, copy=False) if isinstance(array, be.xp.ndarray) else be.from_host(
            np.asarray(array, dtype=dtype))
    t = Tensor._wrap(array, device)
    return t.requires_grad_(True) if requires_grad else t


def _random(device, draw):
    """draw(generator) on the device's generator (floats drawn in float64, then cast: the same
    stream for both dtypes)."""
    device = canonical_device(device)
    return draw(backend(device).generator()), device


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"expected a size of non-negative ints, got {tuple(size)}")
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A new tensor copying `data` (scalar, nested list, numpy array of any strides)."""
    return Tensor(_as_tensor_args(data), dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    return Tensor(array, dtype=array.dtype)


def zeros(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _make(np.zeros(_size(size)), dtype, device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _make(np.ones(_size(size)), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """dtype defaults from fill_value as in torch: bool, int64 for ints, else float32."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = "bool"
        elif isinstance(fill_value, (int, np.integer)):
            dtype = "int64"
    return _make(np.full(_size((size,)), fill_value), dtype, device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Standard normal samples, drawn on the device."""
    shape = _size(size)
    a, device = _random(device, lambda g: g.standard_normal(shape))
    return _make(a, dtype, device, requires_grad)


def rand(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1), drawn on the device."""
    shape = _size(size)
    a, device = _random(device, lambda g: g.random(shape))
    return _make(a, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype="int64", device="cpu") -> Tensor:
    """randint(high, size) or randint(low, high, size), as torch.randint."""
    if high is None:
        low, high = 0, low
    shape = _size((size,)) if not isinstance(size, (tuple, list)) else _size(tuple(size))
    a, device = _random(device, lambda g: g.integers(low, high, size=shape))
    return _make(a, dtype, device, False)


def randperm(n, device="cpu") -> Tensor:
    a, device = _random(device, lambda g: g.permutation(int(n)))
    return _make(a, "int64", device, False)


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = "int64" if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else _default_dtype
    return _make(values, dtype, device, requires_grad)
