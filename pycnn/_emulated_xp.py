"""The array module of the emulated CUDA device: numpy, with device memory kept apart from host
memory as CuPy keeps it.

Arrays on the emulated device are ``DeviceArray`` (a numpy subclass).  Mixing one with a host
numpy array in an operation raises TypeError, as CuPy does ("Unsupported type numpy.ndarray"), so
glue code that would build host arrays for device data fails on the emulator too, instead of
working here and breaking on a GPU.  Moving data goes through ``asarray`` (host -> device, a
copy) and ``.get()`` / ``asnumpy`` (device -> host, a copy), as with CuPy.  Python and numpy
scalars mix freely, as they do with CuPy.  Not caught: ``numpy.asarray(device_array)`` returns a
host view without a copy (a numpy subclass cannot refuse it); pycnn's Tensor refuses it itself.
"""
from __future__ import annotations

import weakref

import numpy as np

# Bytes of host memory owned by live device arrays (pycnn.cuda.memory_allocated on the emulator):
# each owning buffer is counted once, and forgotten when it is freed.
_live = {}


def _track(a):
    owner = a
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    if isinstance(owner, np.ndarray) and id(owner) not in _live:
        _live[id(owner)] = owner.nbytes
        weakref.finalize(owner, _live.pop, id(owner), None)


def live_bytes() -> int:
    return int(sum(_live.values()))


def _host_array_in(values):
    for v in values:
        if isinstance(v, DeviceArray):
            continue
        if isinstance(v, np.ndarray):
            return v
        if isinstance(v, (list, tuple)):
            found = _host_array_in(v)
            if found is not None:
                return found
    return None


def _strip(values):
    """DeviceArrays as plain ndarray views (lists and tuples followed)."""
    out = []
    for v in values:
        if isinstance(v, DeviceArray):
            out.append(v.view(np.ndarray))
        elif isinstance(v, (list, tuple)):
            out.append(type(v)(_strip(v)))
        else:
            out.append(v)
    return out


def _wrap(result):
    """Arrays (and the scalars of full reductions, which CuPy returns as 0-d arrays) as DeviceArrays."""
    if isinstance(result, np.ndarray):
        _track(result)
        return result.view(DeviceArray)
    if isinstance(result, np.generic):
        return _wrap(np.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def _mixing_error(what, host):
    return TypeError(f"emulated CUDA device: {what} got a host numpy array (shape {host.shape}, dtype {host.dtype}) "
                     "mixed with device arrays; move it with .to('cuda') / xp.asarray first (CuPy raises here too)")


class DeviceArray(np.ndarray):
    """Memory of the emulated CUDA device (see the module docstring)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        host = _host_array_in(inputs)
        if host is None and out:
            host = _host_array_in(out)
        if host is not None:
            raise _mixing_error(f"numpy.{ufunc.__name__}", host)
        if out is not None:
            kwargs["out"] = tuple(_strip(out))
        result = getattr(ufunc, method)(*_strip(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        host = _host_array_in(args)
        if host is None:
            host = _host_array_in(list(kwargs.values()))
        if host is not None:
            raise _mixing_error(f"numpy.{func.__name__}", host)
        kwargs = dict(zip(kwargs, _strip(kwargs.values())))
        return _wrap(func(*_strip(args), **kwargs))

    def get(self):
        """A host copy (cupy.ndarray.get)."""
        return np.array(self.view(np.ndarray), copy=True)

    # device <-> Python scalar conversions are allowed (they synchronize on a GPU)
    def item(self, *args):
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        return self.view(np.ndarray).tolist()


def to_device(host) -> DeviceArray:
    """Host data -> a new device array (cupy.asarray of a numpy array copies it)."""
    if isinstance(host, DeviceArray):
        return host
    return _wrap(np.array(host, copy=True, order="C"))


def to_host(dev) -> np.ndarray:
    return dev.get() if isinstance(dev, DeviceArray) else np.array(dev, copy=True)


def pointer(a) -> int:
    """The address of a device array's first element (what the kernels take)."""
    return a.__array_interface__["data"][0]


class _Namespace:
    """numpy's functions with DeviceArray results (xp.empty, xp.zeros, xp.where, ...); asarray and
    array copy host data onto the device."""

    def __init__(self):
        self.ndarray = DeviceArray
        self.random = None  # device generators come from pycnn's per-device generator

    def asarray(self, a, dtype=None, order=None):
        if isinstance(a, DeviceArray):
            return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
        return _wrap(np.array(a, dtype=dtype, copy=True, order=order or "K"))

    def array(self, a, dtype=None, copy=True, order="K"):
        if isinstance(a, DeviceArray):
            return _wrap(np.array(a.view(np.ndarray), dtype=dtype, copy=copy, order=order))
        return _wrap(np.array(a, dtype=dtype, copy=True, order=order))

    def ascontiguousarray(self, a, dtype=None):
        if not isinstance(a, DeviceArray):
            return to_device(np.ascontiguousarray(a, dtype=dtype))
        if a.flags.c_contiguous and (dtype is None or a.dtype == np.dtype(dtype)):
            return a
        return _wrap(np.ascontiguousarray(a.view(np.ndarray), dtype=dtype))

    def asnumpy(self, a):
        return to_host(a)

    def __getattr__(self, name):
        attr = getattr(np, name)
        if callable(attr) and not isinstance(attr, type) and not isinstance(attr, np.ufunc):
            def call(*args, **kwargs):
                return _wrap(attr(*args, **kwargs))

            call.__name__ = name
            setattr(self, name, call)
            return call
        return attr  # dtypes, ufuncs (which dispatch through DeviceArray.__array_ufunc__), constants


class DeviceGenerator:
    """The emulated device's random generator: numpy's Generator (its own stream, seeded by
    pycnn.manual_seed) with device-array results."""

    def __init__(self, seed):
        self._g = np.random.default_rng(seed)

    def __getattr__(self, name):
        fn = getattr(self._g, name)

        def call(*args, **kwargs):
            return _wrap(fn(*args, **kwargs))

        return call


xp = _Namespace()
