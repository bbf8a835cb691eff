"""Activations, linear, losses and dropout (torch.nn.functional names and defaults)."""
from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from .._args import allocation_errors, as_bool, as_flag, as_float, as_int, check_tensor
from ..ops import gemm, require_float, unbroadcast  # noqa: F401
from ..tensor import Function, Tensor, is_floating

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear",
           "nll_loss", "cross_entropy", "mse_loss", "dropout", "pad"]


def relu(input, inplace=False):
    check_tensor(input, "relu", "input")
    if as_flag(inplace, "relu", "inplace"):
        return input.relu_()
    return ops.Relu.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    check_tensor(input, "leaky_relu", "input")
    as_flag(inplace, "leaky_relu", "inplace")
    require_float("leaky_relu", input)  # torch has no int kernel; a slope cast to int would be 0
    return ops.LeakyRelu.apply(input, negative_slope=as_float(negative_slope, "leaky_relu", "negative_slope"))


def sigmoid(input):
    return ops.float_unary(ops.Sigmoid, check_tensor(input, "sigmoid", "input"))


def tanh(input):
    return ops.float_unary(ops.Tanh, check_tensor(input, "tanh", "input"))


def _softmax_dim(op, input, dim):
    """dim as an int; None is torch's legacy implicit dim (0 for 0-, 1- and 3-D input, else 1)."""
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
                      "dim=X as an argument.", stacklevel=3)
        return 0 if input.ndim in (0, 1, 3) else 1
    return as_int(dim, op, "dim")


def softmax(input, dim=None):
    """exp(x - max) / sum exp(x - max) along dim."""
    check_tensor(input, "softmax", "input")
    return ops.softmax(input, _softmax_dim("softmax", input, dim))


def log_softmax(input, dim=None):
    """(x - max) - log sum exp(x - max) along dim."""
    check_tensor(input, "log_softmax", "input")
    return ops.log_softmax(input, _softmax_dim("log_softmax", input, dim))


class Linear(Function):
    """y = x W^T + b, x is (*, in), W is (out, in); one native GEMM each way."""

    def forward(self, x, weight, bias):
        self.x, self.weight = x, weight
        x2 = x.reshape(-1, x.shape[-1])
        y = gemm(self.backend, x2, weight, trans_b=True)
        if bias is not None:
            y += bias
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1])
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = gemm(self.backend, g2, self.weight).reshape(self.x.shape)
        if self.needs_input_grad[1]:
            dw = gemm(self.backend, g2, self.x.reshape(-1, self.x.shape[-1]), trans_a=True)
        if self.needs_input_grad[2]:
            db = g2.sum(axis=0)
        return dx, dw, db


def linear(input, weight, bias=None):
    check_tensor(input, "linear", "input"), check_tensor(weight, "linear", "weight")
    check_tensor(bias, "linear", "bias", optional=True)
    require_float("linear", input, weight, bias)
    if weight.ndim != 2 or input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input {input.shape} and weight {weight.shape} do not match: "
                         f"expected weight (out_features, {input.shape[-1] if input.ndim else '?'})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias shape {bias.shape} does not match weight {weight.shape}")
    if len({t.dtype for t in (input, weight, bias) if t is not None}) != 1:
        raise TypeError(f"linear: dtypes differ: input {input.dtype}, weight {weight.dtype}"
                        + (f", bias {bias.dtype}" if bias is not None else ""))
    return Linear.apply(input, weight, bias)


class NLLLoss(Function):
    """loss_i = -w[t_i] * logp[i, t_i]; 'mean' divides by sum of w[t_i] over non-ignored i."""

    saves_inputs = False

    def forward(self, logp, target, weight, ignore_index, reduction):
        xp = self.xp
        # move the class dim last and flatten: (M, C)
        C = logp.shape[1]
        lp = xp.moveaxis(logp, 1, -1).reshape(-1, C)
        t = target.reshape(-1)
        valid = t != ignore_index
        safe_t = xp.where(valid, t, 0)
        w = (weight[safe_t] if weight is not None else xp.ones(t.shape, dtype=logp.dtype)) * valid
        picked = lp[xp.arange(lp.shape[0]), safe_t]
        losses = -w * picked
        self.shape, self.safe_t, self.w, self.reduction = logp.shape, safe_t, w, reduction
        self.denominator = w.sum()
        if reduction == "none":
            return losses.reshape(target.shape).astype(logp.dtype)
        if reduction == "sum":
            return xp.asarray(losses.sum(), dtype=logp.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.asarray(losses.sum() / self.denominator, dtype=logp.dtype)

    def backward(self, g):
        xp = self.xp
        C = self.shape[1]
        M = self.safe_t.shape[0]
        if self.reduction == "none":
            coef = -self.w * g.reshape(-1)
        elif self.reduction == "sum":
            coef = -self.w * g
        else:  # every target ignored: the loss is NaN (0/0) but its gradient 0 (no host sync to test it)
            empty = self.denominator == 0
            coef = xp.where(empty, 0, -self.w * g / xp.where(empty, 1, self.denominator))
        d = xp.zeros((M, C), dtype=g.dtype)
        d[xp.arange(M), self.safe_t] = coef
        moved = (self.shape[0],) + self.shape[2:] + (C,)
        return xp.ascontiguousarray(xp.moveaxis(d.reshape(moved), -1, 1)), None, None


def _check_targets(op, input, target, ignore_index):
    check_tensor(input, op, "input")
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor of int64 class indices, got {type(target).__name__}")
    if target.dtype != np.int64:
        raise TypeError(f"{op}: target must be int64 class indices, got dtype {target.dtype} with shape {target.shape}")
    if input.ndim < 2 and not (input.ndim == 1 and target.ndim == 0):
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), got shape {input.shape}")
    expected = (input.shape[0],) + input.shape[2:] if input.ndim >= 2 else ()
    if target.shape != expected:
        raise ValueError(f"{op}: target shape {target.shape} does not match input shape {input.shape} "
                         f"(expected {expected})")
    C = input.shape[1] if input.ndim >= 2 else input.shape[0]
    t = target._array
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise ValueError(f"{op}: target values must be in [0, {C - 1}] (or ignore_index={ignore_index}), "
                         f"got {int(t[bad].flat[0])} with input shape {input.shape}")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    ignore_index = as_int(ignore_index, "nll_loss", "ignore_index")
    _check_targets("nll_loss", input, target, ignore_index)
    check_tensor(weight, "nll_loss", "weight", optional=True)
    require_float("nll_loss", input)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"nll_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if input.ndim == 1:  # a single sample (C,) with a 0-d target
        return nll_loss(input.unsqueeze(0), target.reshape(1), weight, ignore_index, reduction).reshape(
            () if reduction != "none" else ())
    w = None
    if weight is not None:
        if weight.shape != (input.shape[1],):
            raise ValueError(f"nll_loss: weight shape {weight.shape} must be ({input.shape[1]},)")
        if weight.device != input.device:
            raise RuntimeError(f"nll_loss: weight is on {weight.device} but input is on {input.device}")
        w = weight._array
    return NLLLoss.apply(input, target, weight=w, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax over the class dim, then nll_loss.  With label_smoothing eps, PyTorch's
    (1 - eps) * nll + eps / C * smooth, smooth_i = -sum_c w_c logp_ic (0 where ignored), whose
    'mean' divides by the same weight total as nll's."""
    ignore_index = as_int(ignore_index, "cross_entropy", "ignore_index")
    # float targets of the input's shape are class probabilities (torch); any other shape means
    # class indices, whose dtype check below names the float dtype
    if isinstance(target, Tensor) and target.dtype.kind == "f" and isinstance(input, Tensor) \
            and target.shape == input.shape:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    _check_targets("cross_entropy", input, target, ignore_index)
    check_tensor(weight, "cross_entropy", "weight", optional=True)
    require_float("cross_entropy", input)
    label_smoothing = as_float(label_smoothing, "cross_entropy", "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, dim=class_dim)
    loss = nll_loss(logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    C = input.shape[class_dim]
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = C
        smooth = -(logp * weight.to(input.dtype).reshape(shape)).sum(dim=class_dim)
    else:
        smooth = -logp.sum(dim=class_dim)
    ignored = target._array == ignore_index
    if ignored.any():
        smooth = ops.where(Tensor._wrap(~ignored, input.device), smooth, 0.0)
    if reduction == "mean":
        kept = target._array[~ignored]
        total = float(weight._array[kept].sum() if weight is not None else kept.size)
        if total == 0:  # every target ignored: NaN, as nll's mean, with a zero gradient
            return loss * (1 - label_smoothing) + float("nan")
        smooth = smooth.sum() / total
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / C)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    """Class-probability targets (torch): loss_i = -sum_c w_c t_ic logp_ic with t smoothed to
    (1 - eps) t + eps / C; 'mean' divides by the number of samples (N times the spatial size),
    not by a weight total."""
    op = "cross_entropy"
    check_tensor(input, op, "input")
    check_tensor(weight, op, "weight", optional=True)
    require_float(op, input)
    if target.shape != input.shape:
        raise ValueError(f"{op}: probability targets must have the input's shape {input.shape}, got {target.shape}")
    if target.dtype != input.dtype:
        raise TypeError(f"{op}: probability targets must have the input's dtype {input.dtype}, got {target.dtype}")
    label_smoothing = as_float(label_smoothing, op, "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    class_dim = 1 if input.ndim > 1 else 0
    C = input.shape[class_dim]
    logp = log_softmax(input, dim=class_dim)
    t = target * (1 - label_smoothing) + label_smoothing / C if label_smoothing else target
    terms = logp * t
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = C
        terms = terms * weight.to(input.dtype).reshape(shape)
    loss = -terms.sum(dim=class_dim)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def mse_loss(input, target, reduction="mean"):
    check_tensor(input, "mse_loss", "input"), check_tensor(target, "mse_loss", "target")
    require_float("mse_loss", input, target)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} differ")
    sq = (input - target) ** 2
    if reduction == "none":
        return sq
    if reduction == "sum":
        return sq.sum()
    if reduction == "mean":
        return sq.mean()
    raise ValueError(f"mse_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class Dropout(Function):
    saves_inputs = False

    def forward(self, x, p):
        keep = self.backend.generator().random(x.shape) >= p
        self.scale = (keep / (1.0 - p)).astype(x.dtype)
        return x * self.scale

    def backward(self, g):
        return g * self.scale


def dropout(input, p=0.5, training=True, inplace=False):
    check_tensor(input, "dropout", "input")
    p = as_float(p, "dropout", "p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    training, _ = as_bool(training, "dropout", "training"), as_flag(inplace, "dropout", "inplace")
    require_float("dropout", input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, p=float(p))


class ConstantPad(Function):
    """Constant padding of the trailing dims; pad = (last_lo, last_hi, prev_lo, prev_hi, ...).
    A negative pad crops (torch): out = full(value) with the input's kept part at its offset."""

    saves_inputs = False

    def forward(self, x, pad, value):
        width = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        # the part of x that is kept, and where it lands in the output
        kept = [max(n - max(-lo, 0) - max(-hi, 0), 0) for (lo, hi), n in zip(width, x.shape)]
        self.src = tuple(slice(max(-lo, 0), max(-lo, 0) + k) for (lo, _), k in zip(width, kept))
        self.dst = tuple(slice(max(lo, 0), max(lo, 0) + k) for (lo, _), k in zip(width, kept))
        self.cropped, self.x_shape = any(min(w) < 0 for w in width), x.shape
        out = self.xp.full([n + lo + hi for n, (lo, hi) in zip(x.shape, width)], value, dtype=x.dtype)
        out[self.dst] = x[self.src]
        return out

    def backward(self, g):
        if not self.cropped:
            return self.xp.ascontiguousarray(g[self.dst])
        dx = self.xp.zeros(self.x_shape, dtype=g.dtype)
        dx[self.src] = g[self.dst]
        return dx


def pad(input, pad, mode="constant", value=0.0):
    """Pads trailing dims as torch.nn.functional.pad; 'constant' here (other modes: _conv)."""
    check_tensor(input, "pad", "input")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    pad = tuple(as_int(p, "pad", "pad") for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad {pad} must have an even length of at most 2*ndim for shape {input.shape}")
    if mode != "constant":
        from ._conv_extra import pad_mode  # reflect / replicate / circular
        return pad_mode(input, pad, mode)
    for i in range(len(pad) // 2):  # a negative pad crops, never past the whole dim
        n = input.shape[input.ndim - 1 - i]
        if n + pad[2 * i] + pad[2 * i + 1] < 0:
            raise ValueError(f"pad: padding ({pad[2 * i]}, {pad[2 * i + 1]}) crops more than the size {n} of dim "
                             f"{-1 - i} (pad {pad}, input shape {input.shape})")
    value = 0.0 if value is None else as_float(value, "pad", "value")  # torch reads None as 0
    with allocation_errors("pad", input.shape):
        return ConstantPad.apply(input, pad=pad, value=value)
