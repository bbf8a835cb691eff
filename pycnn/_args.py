"""PyTorch's argument normalization, once for every op family, and the lift of 1-D and unbatched
inputs to the 4-D (N, C, H, W) the native kernels take.

Only parsing lives here (an int or a tuple, 'same' / 'valid', a real bool): the rules on the
values (positive strides, padding at most half a pool window, output sizes, overflow) live once,
in C++ (csrc/params), and come back as ValueErrors from the ``<family>_params`` constructors.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np


_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def as_int(value, op: str, arg: str) -> int:
    """An int (or numpy integer, or anything with __index__); TypeError for floats, bools and
    the rest, as PyTorch's argument parser (stride=1.5 is never truncated to 1)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {arg} must be an int, got the bool {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {arg} must be an int, got {value!r} of type {type(value).__name__}") from None
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise ValueError(f"{op}: {arg} = {v} is outside the int64 range the kernels count in")
    return v


def as_bool(value, op: str, arg: str) -> bool:
    """A bool (or numpy bool); TypeError otherwise: PyTorch does not coerce ceil_mode=1 or 'yes'."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{op}: {arg} must be a bool, got {value!r} of type {type(value).__name__}")


def as_float(value, op: str, arg: str) -> float:
    """A real number (not a bool) as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {arg} must be a number, got {value!r} of type {type(value).__name__}")
    return float(value)


def ntuple(value, n: int, op: str, arg: str, single_ok: bool = False) -> tuple:
    """An int or an n-sequence of ints -> an n-tuple of ints (with single_ok, a 1-sequence is
    repeated, as torch's pools accept (k,) for every dim).  TypeError for non-integers,
    ValueError for a wrong length."""
    if not isinstance(value, (tuple, list)):
        if isinstance(value, (str, bytes)) or hasattr(value, "__len__"):
            raise TypeError(f"{op}: {arg} must be an int or a tuple of {n} ints, got {value!r}")
        return (as_int(value, op, arg),) * n
    if single_ok and len(value) == 1:
        value = tuple(value) * n
    out = tuple(as_int(v, op, arg) for v in value)
    if len(out) != n:
        raise ValueError(f"{op}: {arg} must have {n} values, got {value!r}")
    return out


def same_padding(kernel, dilation) -> list:
    """Per-dim (begin, end) of padding='same' at stride 1: d(k-1) in total, the odd one out at the
    end (bottom / right), as PyTorch."""
    return [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2) for k, d in zip(kernel, dilation)]


def conv_padding(op: str, padding, kernel, stride, dilation) -> list:
    """Per-dim (begin, end) padding of a conv from an int, a tuple, 'valid' or 'same'."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
        return same_padding(kernel, dilation)
    return [(p, p) for p in ntuple(padding, n, op, "padding")]


# ----------------------------------------------------------------------------- the lift
def lift4(shape, spatial: int) -> tuple:
    """(N, C, *spatial) or unbatched (C, *spatial) -> the (N, C, H, W) the kernels take (H = 1
    for 1-D ops: a reshape, no copy)."""
    shape = tuple(shape)
    if len(shape) == spatial + 1:
        shape = (1,) + shape
    return shape if spatial == 2 else shape[:2] + (1,) + shape[2:]


def unlift(shape4, spatial: int, input_ndim: int) -> tuple:
    """The inverse of lift4 for an output: drop H = 1 for 1-D ops and N = 1 for unbatched input."""
    shape = tuple(shape4[:2]) + tuple(shape4[4 - spatial:])
    return shape[1:] if input_ndim == spatial + 1 else shape


def lift_pair(values: tuple, spatial: int, fill: int) -> tuple:
    """A 1-D op's (v,) argument as the 2-D kernels' (fill, v)."""
    return tuple(values) if spatial == 2 else (fill,) + tuple(values)
