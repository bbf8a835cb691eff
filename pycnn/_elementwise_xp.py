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


def broadcast_form(big_shape, small_shape):
    """(outer, channels, inner) when an operand of `small_shape` broadcasts to `big_shape` as
    csrc/elementwise.h's broadcast binary ops take it: its non-1 dims one contiguous span of
    big's, so that big reads as (outer, channels, inner) and small as (channels,).  A scalar
    (every dim 1) is (1, 1, size).  None for any other pair (the array module's broadcast)."""
    nb, ns = len(big_shape), len(small_shape)
    if ns > nb:
        return None
    small = (1,) * (nb - ns) + tuple(small_shape)
    if any(s != 1 and s != b for s, b in zip(small, big_shape)):
        return None
    kept = [i for i in range(nb) if small[i] != 1]
    d0, d1 = (kept[0], kept[-1] + 1) if kept else (0, 0)
    if any(small[i] != big_shape[i] for i in range(d0, d1)):
        return None
    outer = channels = inner = 1
    for i, n in enumerate(big_shape):
        if i < d0:
            outer *= n
        elif i < d1:
            channels *= n
        else:
            inner *= n
    return outer, channels, inner


# the shortest run (a channel's plane, or a row when inner is 1) the native broadcast kernels
# take: their loops start once per run, and on 4-wide rows numpy's strided loop is as fast
NATIVE_RUN_FROM = 16


def native_broadcast_form(big_shape, small_shape):
    """broadcast_form, when its runs are long enough for the native kernels (else None)."""
    form = broadcast_form(big_shape, small_shape)
    if form is None or (form[2] if form[2] > 1 else form[1]) < NATIVE_RUN_FROM:
        return None
    return form


def binary_broadcast(xp, op, big, small, outer, channels, inner, small_first=False):
    """csrc/elementwise.h's broadcast binary op on the array module (the CUDA backend's)."""
    if op not in BINARY_OPS:
        raise ValueError(f"binary: unknown op {op!r} (expected add, sub or mul)")
    if big.size != outer * channels * inner or small.size != channels:
        raise ValueError(f"{op}: big {tuple(big.shape)} and broadcast operand {tuple(small.shape)} do not "
                         f"match (outer, channels, inner) = ({outer}, {channels}, {inner})")
    ufunc = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply}[op]
    x, v = big.reshape(outer, channels, inner), small.reshape(1, channels, 1)
    return (ufunc(v, x) if small_first else ufunc(x, v)).reshape(big.shape)


def broadcast_sum(xp, grad, outer, channels, inner, other=None):
    """The adjoint of binary_broadcast's small operand on the array module (see csrc/elementwise.h)."""
    if grad.size != outer * channels * inner:
        raise ValueError(f"broadcast_sum: grad {tuple(grad.shape)} does not match (outer, channels, inner) = "
                         f"({outer}, {channels}, {inner})")
    g = grad.reshape(outer, channels, inner)
    if other is not None:
        check_same("broadcast_sum", grad, "grad", other, "other")
        g = g * other.reshape(outer, channels, inner)
    return g.sum(axis=(0, 2))


@_quiet
def binary(xp, op, a, b, inplace=False):
    if op not in BINARY_OPS:
        raise ValueError(f"binary: unknown op {op!r} (expected add, sub or mul)")
    check_same(op, a, "a", b, "b")
    ufunc = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply}[op]
    return ufunc(a, b, out=a) if inplace else ufunc(a, b)
