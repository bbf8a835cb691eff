"""Weight initialisers (torch.nn.init names and formulas), drawing from pycnn's generator."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..creation import default_generator
from ..tensor import no_grad


def _fan_in_out(t, op="init"):
    if t.ndim < 2:
        raise ValueError(f"{op}: fan in/out needs a tensor with >= 2 dims, got shape {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "sigmoid", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


@no_grad()
def uniform_(t, a=0.0, b=1.0):
    t._array[...] = default_generator(t.device).uniform(a, b, t.shape)
    return t


@no_grad()
def normal_(t, mean=0.0, std=1.0):
    t._array[...] = default_generator(t.device).normal(mean, std, t.shape)
    return t


@no_grad()
def constant_(t, val):
    t._array[...] = val
    return t


def zeros_(t):
    return constant_(t, 0.0)


def ones_(t):
    return constant_(t, 1.0)


def _kaiming_fan(op, t, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fan_in_out(t, op)
    return fan_in if mode == "fan_in" else fan_out


def _empty(t):
    """torch: initialising a zero-element tensor is a no-op (its fan can be 0: no 1/sqrt(0))."""
    if t.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    fan = _kaiming_fan("kaiming_uniform_", t, mode)
    if _empty(t):
        return t
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    fan = _kaiming_fan("kaiming_normal_", t, mode)
    if _empty(t):
        return t
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def xavier_uniform_(t, gain=1.0):
    fan_in, fan_out = _fan_in_out(t, "xavier_uniform_")
    if _empty(t):
        return t
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def default_layer_init_(weight, bias, fan_in=None):
    """PyTorch's Linear/ConvNd reset_parameters: kaiming_uniform_(a=sqrt(5)) on the weight,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = fan_in if fan_in is not None else _fan_in_out(weight)[0]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
