"""csrc/elementwise.h's activations and binary ops written on an array module ``xp`` (numpy, CuPy,
the emulated device's): the CUDA backend's elementwise kernels, and the CPU path for dtypes the
native kernels do not take (integers, float16).  The same formulas, special values and error
messages as the native kernels; tests/test_elementwise.py runs both against one reference."""
from __future__ import annotations

import functools

import numpy as np

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
BINARY_OPS = ("add", "sub", "mul")
NATIVE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# elements from which a same-shape binary op goes to the native threaded kernel: below, numpy's
# single-threaded loop is as fast, since waking the passive OpenMP team costs about 15 us (the
# CPU kernel's own parallel threshold, csrc/cpu/elementwise.cpp)
NATIVE_BINARY_FROM = 131072


def check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: unknown activation {activation!r} (expected relu, leaky_relu, sigmoid or tanh)")


def check_same(op, ref, ref_name, other, other_name):
    if tuple(other.shape) != tuple(ref.shape):
        raise ValueError(f"{op}: {other_name} {tuple(other.shape)} does not match the {ref_name} {tuple(ref.shape)}")
    if other.dtype != ref.dtype:
        raise TypeError(f"{op}: {other_name} dtype {other.dtype} differs from the {ref_name}'s {ref.dtype}")


def _quiet(fn):
    """numpy warns on inf*0 and exp overflow; the kernels (and torch, and CuPy) do not."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapped


@_quiet
def activation_forward(xp, x, activation, negative_slope=0.0):
    check_activation(activation)
    zero = x.dtype.type(0)
    if activation == "relu":
        return xp.where(x <= 0, zero, x)  # a select: relu(-0.0) = +0, NaN stays
    if activation == "leaky_relu":
        return xp.where(x > 0, x, x * x.dtype.type(negative_slope) if x.dtype.kind == "f" else x * negative_slope)
    if activation == "sigmoid":
        e = xp.exp(-xp.abs(x))  # e^-|x| <= 1: never overflows
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(e.dtype)
    return xp.tanh(x)


@_quiet
def activation_backward(xp, dy, saved, activation, negative_slope=0.0):
    """dx from dy and what the forward saved: the output for relu/sigmoid/tanh, the input for leaky_relu."""
    check_activation(activation)
    check_same(activation, saved, "input" if activation == "leaky_relu" else "output", dy, "grad_output")
    zero = dy.dtype.type(0)
    if activation == "relu":
        return xp.where(saved <= 0, zero, dy)
    if activation == "leaky_relu":
        return xp.where(saved > 0, dy, dy * dy.dtype.type(negative_slope))
    if activation == "sigmoid":
        return dy * saved * (1 - saved)
    return dy * (1 - saved * saved)


@_quiet
def binary(xp, op, a, b, inplace=False):
    if op not in BINARY_OPS:
        raise ValueError(f"binary: unknown op {op!r} (expected add, sub or mul)")
    check_same(op, a, "a", b, "b")
    ufunc = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply}[op]
    return ufunc(a, b, out=a) if inplace else ufunc(a, b)
