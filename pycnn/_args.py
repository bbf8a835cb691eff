"""PyTorch's argument normalization, once for every op family, and the lift of 1-D and unbatched
inputs to the 4-D (N, C, H, W) the native kernels take.

Only parsing lives here (an int or a tuple, 'same' / 'valid', a real bool): the rules on the
values (positive strides, padding at most half a pool window, output sizes, overflow) live once,
in C++ (csrc/params), and come back as ValueErrors from the ``<family>_params`` constructors.

One helper per kind of argument, each raising with "<op>: <arg> must be ..." (PyTorch's classes):

    check_tensor   a Tensor (or None where optional), else TypeError: before anything reads .shape
    as_int         an int or numpy integer; TypeError for 1.5, 2.0, True, '2', None; ValueError
                   beyond int64 (torch's "Overflow when unpacking long long")
    ntuple         an int or an n-sequence of them (stride, padding, kernel_size, ...)
    as_positive_int  as_int, then ValueError below 1 (channels, features, groups)
    as_bool        a strict bool (or numpy bool): where torch's C++ parser takes nothing else
                   (ceil_mode, count_include_pad, align_corners, training, use_input_stats)
    as_flag        a bool or the int 0 / 1: where torch reads the flag by truthiness (bias, affine,
                   inplace, return_indices, ...); 1.0, 'yes', 2 and None are TypeErrors here
    as_float       a real number, not a bool
"""
from __future__ import annotations

import contextlib
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


def as_flag(value, op: str, arg: str) -> bool:
    """A flag PyTorch reads by truthiness (bias, affine, inplace, return_indices, ...): a bool, a
    numpy bool or the int 0 / 1.  TypeError for the rest (1.0, 'yes', None, 2): torch would take
    'no' as True, which is never what was meant."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{op}: {arg} must be a bool, got {value!r} of type {type(value).__name__}")


def as_positive_int(value, op: str, arg: str) -> int:
    """as_int, then ValueError below 1 (channels, features, groups: a layer with none of them has
    no weights to initialise)."""
    v = as_int(value, op, arg)
    if v < 1:
        raise ValueError(f"{op}: {arg} must be a positive int, got {v}")
    return v


def as_float(value, op: str, arg: str) -> float:
    """A real number (not a bool) as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {arg} must be a number, got {value!r} of type {type(value).__name__}")
    return float(value)


def check_tensor(value, op: str, arg: str, optional: bool = False):
    """TypeError unless value is a Tensor (or None, when optional): checked before anything reads
    .shape, so a list, an ndarray or None never reaches an AttributeError."""
    from .tensor import Tensor  # lazy: tensor.py sits above this module

    if isinstance(value, Tensor) or (optional and value is None):
        return value
    kind = "a Tensor or None" if optional else "a Tensor"
    raise TypeError(f"{op}: {arg} must be {kind}, got {type(value).__name__}")


@contextlib.contextmanager
def allocation_errors(op: str, input_shape):
    """Names the op in what an output allocation raises: numpy's MemoryError ("Unable to allocate
    16 TiB ...") and its ValueError "array is too big" (more bytes than int64 counts).  The sizes
    themselves are checked before (csrc/params, or the op); this is for what no check can see, the
    memory left."""
    try:
        yield
    except MemoryError as e:
        raise MemoryError(f"{op}: cannot allocate the output for input {tuple(input_shape)}: {e}") from None
    except ValueError as e:
        if "array is too big" not in str(e):
            raise
        raise ValueError(f"{op}: the output for input {tuple(input_shape)} has more bytes than int64 can "
                         "count") from None


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
