"""Tensor constructors and the global random generator (``pycnn.manual_seed``)."""
from __future__ import annotations

import math

import numpy as np

from ._args import as_int
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


def _make_random(device, draw, dtype, requires_grad):
    a, device = _random(device, draw)
    return _make(a, dtype, device, requires_grad)


_MAX_BYTES = 2 ** 63 - 1  # numpy's limit ("array is too big"), and int64's


def _size(size, op="tensor"):
    """A shape of non-negative ints (TypeError for 2.5 or True, as torch); ValueError when it is
    negative or its float64 bytes exceed int64, before numpy or the kernels see it."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    dims = tuple(as_int(s, op, "size") for s in size)
    if any(d < 0 for d in dims):
        raise ValueError(f"{op}: expected a size of non-negative ints, got {dims}")
    if math.prod(dims) * 8 > _MAX_BYTES:
        raise ValueError(f"{op}: size {dims} has {math.prod(dims)} elements, more than int64 can address")
    return dims


def _alloc(op, shape, make):
    """make(), with numpy's MemoryError reworded to name the op and the size."""
    try:
        return make()
    except MemoryError:
        raise MemoryError(f"{op}: cannot allocate a tensor of size {shape} "
                          f"({math.prod(shape) * 8} bytes as float64)") from None


def tensor(data, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A new tensor copying `data` (scalar, nested list, numpy array of any strides)."""
    return Tensor(_as_tensor_args(data), dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing the array's memory (writes to either are seen by both), as
    torch.from_numpy, for C-contiguous float32/float64/int64/bool arrays; other dtypes and
    layouts are copied (pycnn tensors are C-contiguous and of those four dtypes)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.name in ("float32", "float64", "int64", "bool") and array.flags.c_contiguous \
            and array.dtype.isnative:
        return Tensor._wrap(array)
    return Tensor(array, dtype=array.dtype if array.dtype.name in ("float32", "float64", "int64", "bool")
                  else None)


def zeros(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    shape = _size(size, "zeros")
    return _alloc("zeros", shape, lambda: _make(np.zeros(shape), dtype, device, requires_grad))


def ones(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    shape = _size(size, "ones")
    return _alloc("ones", shape, lambda: _make(np.ones(shape), dtype, device, requires_grad))


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """dtype defaults from fill_value as in torch: bool, int64 for ints, else float32."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = "bool"
        elif isinstance(fill_value, (int, np.integer)):
            dtype = "int64"
    shape = _size((size,), "full")
    return _alloc("full", shape, lambda: _make(np.full(shape, fill_value), dtype, device, requires_grad))


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Standard normal samples, drawn on the device."""
    shape = _size(size, "randn")
    return _alloc("randn", shape, lambda: _make_random(device, lambda g: g.standard_normal(shape), dtype,
                                                       requires_grad))


def rand(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1), drawn on the device."""
    shape = _size(size, "rand")
    return _alloc("rand", shape, lambda: _make_random(device, lambda g: g.random(shape), dtype, requires_grad))


def randint(low, high=None, size=(), dtype="int64", device="cpu") -> Tensor:
    """randint(high, size) or randint(low, high, size), as torch.randint."""
    if isinstance(high, (tuple, list)) and size == ():  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = as_int(low, "randint", "low"), as_int(high, "randint", "high")
    shape = _size((size,) if not isinstance(size, (tuple, list)) else tuple(size), "randint")
    a, device = _random(device, lambda g: g.integers(low, high, size=shape))
    return _make(a, dtype, device, False)


def randperm(n, device="cpu") -> Tensor:
    n = as_int(n, "randperm", "n")
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    a, device = _random(device, lambda g: g.permutation(n))
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


# ----------------------------------------------------------------------------- more of torch's creation functions
def empty(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """torch.empty; pycnn fills it with zeros (uninitialized memory is never handed out)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros_like(t, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    n = as_int(n, "eye", "n")
    m = n if m is None else as_int(m, "eye", "m")
    if n < 0 or m < 0:
        raise ValueError(f"eye: n and m must be non-negative, got {n} and {m}")
    return _alloc("eye", (n, m), lambda: _make(np.eye(n, m), dtype, device, requires_grad))


def linspace(start, end, steps, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    steps = as_int(steps, "linspace", "steps")
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return _alloc("linspace", (steps,), lambda: _make(np.linspace(float(start), float(end), steps), dtype,
                                                      device, requires_grad))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """No copy when it can be avoided (torch.as_tensor): a Tensor of the asked dtype and device is
    returned itself, a matching numpy array is shared (from_numpy); anything else is copied."""
    dt = canonical_dtype(dtype)
    if isinstance(data, Tensor):
        out = data
        if dt is not None and dt != data.dtype:
            out = out.to(dt)
        if device is not None and canonical_device(device) != data.device:
            out = out.to(device)
        return out
    if isinstance(data, np.ndarray) and (dt is None or dt == data.dtype) and \
            (device is None or canonical_device(device).type == "cpu"):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device or "cpu")
