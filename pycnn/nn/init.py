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


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) samples redrawn until they lie in [a, b] (torch's truncated normal:
    the same distribution; torch draws it by inverse CDF, so the samples differ)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: a must be smaller than b, got a={a}, b={b}")
    with no_grad():
        g = np.random.default_rng(int(default_generator().integers(2 ** 63))) if generator is None else generator
        out = g.normal(mean, std, size=tensor.shape)
        bad = (out < a) | (out > b)
        for _ in range(1000):
            if not bad.any():
                break
            out[bad] = g.normal(mean, std, size=int(bad.sum()))
            bad = (out < a) | (out > b)
        out = out.clip(a, b)  # after 1000 redraws only for a window far out in a tail
        tensor._copy_from_host(out)
        tensor._vc[0] += 1
    return tensor


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix over the first dim and the flattened rest (Saxe et al. 2013), as
    torch: QR of a normal matrix with the signs of R's diagonal folded into Q."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows, cols = tensor.shape[0], tensor.numel() // tensor.shape[0]
    g = np.random.default_rng(int(default_generator().integers(2 ** 63)))
    flat = g.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with no_grad():
        tensor._copy_from_host((gain * q).reshape(tensor.shape))
        tensor._vc[0] += 1
    return tensor
