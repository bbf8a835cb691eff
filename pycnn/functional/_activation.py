"""More of torch's activations and losses (issue 15): ELU, GELU (erf and tanh), SiLU, Hardswish,
Hardsigmoid, Softplus; L1, SmoothL1, Huber, BCE, BCE-with-logits, KL divergence; one_hot,
normalize, cosine_similarity.  Each follows torch's formula; the composites get their gradients
from the ops they are built of, ELU and GELU are Functions of their own."""
from __future__ import annotations

import math

import numpy as np

from .. import ops, ops_extra
from .._args import as_flag, as_float, as_int
from ..tensor import Function, Tensor, int64

__all__ = ["elu", "gelu", "silu", "hardsigmoid", "hardswish", "softplus", "l1_loss", "smooth_l1_loss",
           "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "one_hot",
           "normalize", "cosine_similarity", "dropout2d"]


def _float_input(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, got {type(x).__name__}")
    ops.require_float(op, x)
    return x


def _inplace_or(x, inplace, op, compute):
    if as_flag(inplace, op, "inplace"):
        return x._inplace(op + "_", compute)
    return compute(x)


# ----------------------------------------------------------------------------- activations
class Elu(Function):
    """x for x > 0, alpha * (exp(x) - 1) otherwise; d/dx = 1 or alpha * exp(x)."""

    def forward(self, x, alpha):
        xp = self.xp
        self.x, self.alpha = x, alpha
        return xp.where(x > 0, x, x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0)))

    def backward(self, g):
        xp = self.xp
        return xp.where(self.x > 0, g, g * self.x.dtype.type(self.alpha) * xp.exp(xp.minimum(self.x, 0)))


def elu(input, alpha=1.0, inplace=False):
    _float_input(input, "elu")
    return _inplace_or(input, inplace, "elu", lambda x: Elu.apply(x, alpha=float(alpha)))


_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; math.erf is correctly rounded enough


class Gelu(Function):
    """x * Phi(x) (approximate='none', Phi through erf) or torch's tanh form; d/dx =
    Phi(x) + x * phi(x) for the first."""

    def forward(self, x, approximate):
        xp = self.xp
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            self.t = xp.tanh(k * (x + x.dtype.type(0.044715) * x * x * x))
            return x.dtype.type(0.5) * x * (1 + self.t)
        host = x if xp is np else xp.asnumpy(x) if hasattr(xp, "asnumpy") else np.asarray(x)
        cdf = (0.5 * (1.0 + _erf(np.asarray(host, dtype=np.float64) / math.sqrt(2)).astype(np.float64)))
        self.cdf = xp.asarray(cdf.astype(x.dtype)) if xp is not np else cdf.astype(x.dtype)
        return x * self.cdf

    def backward(self, g):
        xp, x = self.xp, self.x
        if self.approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            inner = k * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return g * (x.dtype.type(0.5) * (1 + self.t) + x.dtype.type(0.5) * x * (1 - self.t * self.t) * inner)
        pdf = xp.exp(x * x * x.dtype.type(-0.5)) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return g * (self.cdf + x * pdf)


def gelu(input, approximate="none"):
    _float_input(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    _float_input(input, "silu")
    return _inplace_or(input, inplace, "silu", lambda x: x * x.sigmoid())


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    _float_input(input, "hardsigmoid")
    return _inplace_or(input, inplace, "hardsigmoid", lambda x: (x / 6 + 0.5).clamp(0.0, 1.0))


def hardswish(input, inplace=False):
    """x * hardsigmoid(x)."""
    _float_input(input, "hardswish")
    return _inplace_or(input, inplace, "hardswish", lambda x: x * (x / 6 + 0.5).clamp(0.0, 1.0))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch)."""
    _float_input(input, "softplus")
    bx = input * beta
    # log1p(exp(-|bx|)) + max(bx, 0) never overflows; equal to log1p(exp(bx))
    soft = ((-bx.abs()).exp().log1p() + bx.relu()) / beta
    return ops.where(bx > threshold, input, soft)


# ----------------------------------------------------------------------------- losses
def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _pair(input, target, op):
    _float_input(input, op)
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}(): argument 'target' must be a Tensor, got {type(target).__name__}")
    if input.shape != target.shape:
        raise ValueError(f"{op}: target shape {target.shape} does not match input shape {input.shape}")


def l1_loss(input, target, reduction="mean"):
    _pair(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (the L1 loss when beta = 0)."""
    _pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(ops.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere."""
    _pair(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = (input - target).abs()
    return _reduce(ops.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction, "huber_loss")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as torch does."""
    _pair(input, target, "binary_cross_entropy")
    lo, hi = float(input.min().item()) if input.numel() else 0.0, float(input.max().item()) if input.numel() else 0.0
    if lo < 0 or hi > 1:
        raise RuntimeError(f"binary_cross_entropy: all elements of input should be between 0 and 1 "
                           f"(got [{lo}, {hi}] in shape {input.shape})")
    with np.errstate(divide="ignore"):
        loss = -(target * input.log().clamp(min=-100.0) + (1 - target) * (1 - input).log().clamp(min=-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """(1 - y) x + (1 + (p - 1) y) softplus(-x), softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)."""
    _pair(input, target, "binary_cross_entropy_with_logits")
    sp = (-input.abs()).exp().log1p() + (-input).relu()
    if pos_weight is None:
        loss = (1 - target) * input + sp
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input, target, reduction="mean", log_target=False):
    """target * (log target - input) (0 where target is 0), input being log-probabilities;
    'batchmean' divides the sum by the batch size."""
    _pair(input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = target > 0
        safe = ops.where(pos, target, 1.0)
        loss = ops.where(pos, target * (safe.log() - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


# ----------------------------------------------------------------------------- helpers
def one_hot(tensor, num_classes=-1):
    if not isinstance(tensor, Tensor) or tensor.dtype != int64:
        raise TypeError("one_hot: expected an int64 Tensor of class indices")
    num_classes = as_int(num_classes, "one_hot", "num_classes")
    a = tensor._host()
    if a.size and a.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(a.min())}")
    n = int(a.max()) + 1 if num_classes == -1 else num_classes
    if a.size and a.max() >= n:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes={n}, got {int(a.max())}")
    out = (a[..., None] == np.arange(n)).astype(np.int64)
    return Tensor(out, dtype=int64, device=tensor.device)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p over dim, eps)."""
    _float_input(input, "normalize")
    n = ops_extra.norm(input, p, dim, keepdim=True)
    return input / n.clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 x2) / (max(||x1||, eps) * max(||x2||, eps)) over dim (broadcasting x1 and x2)."""
    _float_input(x1, "cosine_similarity")
    _float_input(x2, "cosine_similarity")
    n1 = ops_extra.norm(x1, 2, dim, keepdim=False).clamp(min=eps)
    n2 = ops_extra.norm(x2, 2, dim, keepdim=False).clamp(min=eps)
    return (x1 * x2).sum(dim) / (n1 * n2)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of an (N, C, H, W) (or unbatched (C, H, W)) input with probability p
    and scales the rest by 1 / (1 - p); the mask is drawn on the input's device."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout2d(): argument 'input' must be a Tensor, got {type(input).__name__}")
    p = as_float(p, "dropout2d", "p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    as_flag(inplace, "dropout2d", "inplace")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D or 4-D input, got shape {input.shape}")
    if not training or p == 0.0:
        return input
    from ..creation import rand
    mask_shape = input.shape[:-2] + (1, 1)
    keep = rand(*mask_shape, dtype=input.dtype, device=input.device) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * ops.where(keep, scale, 0.0)
