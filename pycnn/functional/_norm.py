"""Normalization ops (torch.nn.functional names, argument orders and defaults) on the fused
native kernels of csrc/norm.h: one forward computes the statistics and normalizes, one
backward gives dx, dweight and dbias in closed form.

    batch_norm     statistics per channel over (N, *)        batch_norm_forward/_backward
    instance_norm  per (sample, channel) over (*)            the same kernels on (1, N*C, *)
    group_norm     per (sample, group of channels) over (*)  group_norm_forward/_backward
    layer_norm     per sample over normalized_shape          group_norm kernels on (M, D), 1 group
    pixel_norm     per pixel over channels, no mean (ProGAN) pixel_norm_forward/_backward
"""
from __future__ import annotations

import math
import numbers

from ..ops import require_float
from ..tensor import Function, Tensor

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "pixel_norm"]


# ----------------------------------------------------------------------------- Functions
class BatchNorm(Function):
    """y = (x - mean_c) rstd_c w_c + b_c; running stats (in place) with the unbiased variance."""

    def forward(self, x, weight, bias, running_mean, running_var, training, momentum, eps):
        y, self.mean, self.rstd = self.backend.native.batch_norm_forward(
            x, weight, bias, running_mean, running_var, training, momentum, eps)
        self.x, self.weight, self.training = x, weight, training
        return y

    def backward(self, g):
        dx, dw, db = self.backend.native.batch_norm_backward(
            g, self.x, self.mean, self.rstd, self.weight, self.training)
        need = self.needs_input_grad
        return (dx if need[0] else None, dw if need[1] else None, db if need[2] else None,
                None, None)


class InstanceNorm(Function):
    """Batch norm of the (1, N*C, *) view, as ATen's instance_norm: weight, bias and running
    stats are repeated per sample, and the updated running stats averaged back over samples."""

    def forward(self, x, weight, bias, running_mean, running_var, use_input_stats, momentum, eps):
        xp = self.xp
        N, C = x.shape[:2]
        xv = xp.ascontiguousarray(x).reshape(1, N * C, -1)

        def rep(a):
            return None if a is None else xp.tile(a, N)

        rm, rv, self.w = rep(running_mean), rep(running_var), rep(weight)
        y, self.mean, self.rstd = self.backend.native.batch_norm_forward(
            xv, self.w, rep(bias), rm, rv, use_input_stats, momentum, eps)
        for buf, rep_buf in ((running_mean, rm), (running_var, rv)):
            if buf is not None:
                buf[...] = rep_buf.reshape(N, C).mean(axis=0)
        self.x, self.training, self.shape = xv, use_input_stats, x.shape
        return y.reshape(x.shape)

    def backward(self, g):
        dx, dw, db = self.backend.native.batch_norm_backward(
            g.reshape(self.x.shape), self.x, self.mean, self.rstd, self.w, self.training)
        N, C = self.shape[:2]
        need = self.needs_input_grad
        return (dx.reshape(self.shape) if need[0] else None,
                dw.reshape(N, C).sum(axis=0) if need[1] else None,
                db.reshape(N, C).sum(axis=0) if need[2] else None, None, None)


class GroupNorm(Function):
    """Statistics per (sample, group); LayerNorm reuses it on (M, D) with one group."""

    def forward(self, x, weight, bias, num_groups, eps):
        y, self.mean, self.rstd = self.backend.native.group_norm_forward(x, num_groups, weight, bias, eps)
        self.x, self.weight, self.num_groups = x, weight, num_groups
        return y

    def backward(self, g):
        dx, dw, db = self.backend.native.group_norm_backward(
            g, self.x, self.mean, self.rstd, self.weight, self.num_groups)
        need = self.needs_input_grad
        return dx if need[0] else None, dw if need[1] else None, db if need[2] else None


class LayerNorm(Function):
    """The trailing dims flattened to D: x as (M, D), elementwise affine of D values."""

    def forward(self, x, weight, bias, D, eps):
        self.shape = x.shape
        flat = lambda a: None if a is None else a.reshape(D)  # noqa: E731
        self.x, self.w = x.reshape(-1, D), flat(weight)
        self.wshape = None if weight is None else weight.shape
        self.bshape = None if bias is None else bias.shape
        y, self.mean, self.rstd = self.backend.native.group_norm_forward(self.x, 1, self.w, flat(bias), eps)
        return y.reshape(x.shape)

    def backward(self, g):
        dx, dw, db = self.backend.native.group_norm_backward(
            g.reshape(self.x.shape), self.x, self.mean, self.rstd, self.w, 1)
        need = self.needs_input_grad
        return (dx.reshape(self.shape) if need[0] else None,
                dw.reshape(self.wshape) if need[1] else None,
                db.reshape(self.bshape) if need[2] else None)


class PixelNorm(Function):
    """y = x r, r = 1/sqrt(mean_c x^2 + eps); dx = r dy - x r^3 mean_c(dy x)."""

    def forward(self, x, eps):
        y, self.rstd = self.backend.native.pixel_norm_forward(x, eps)
        self.x = x
        return y

    def backward(self, g):
        return self.backend.native.pixel_norm_backward(g, self.x, self.rstd)


# ----------------------------------------------------------------------------- checks
def _check_input(op, input, min_ndim=2):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    require_float(op, input)
    if input.ndim < min_ndim:
        raise ValueError(f"{op}: input must be (N, C, *) with at least {min_ndim} dims, got shape {input.shape}")


def _check_params(op, input, shape, what, **named):
    """Each named tensor (or None) must have `shape` (`what` says why) and input's dtype."""
    for name, t in named.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.shape != tuple(shape):
            raise ValueError(f"{op}: {name} has shape {t.shape} but input {input.shape} needs "
                             f"{tuple(shape)} ({what})")
        if t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} dtype {t.dtype} differs from input dtype {input.dtype} "
                            f"(input shape {input.shape})")


def _check_eps(op, eps):
    if not (isinstance(eps, numbers.Real) and eps >= 0):
        raise ValueError(f"{op}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


def _check_momentum(op, momentum):
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"{op}: momentum must be a float, got {momentum!r} (momentum=None, the "
                        "cumulative average, is handled by the BatchNorm modules)")
    return float(momentum)


def _check_running(op, input, running_mean, running_var, weight, bias, momentum, eps, batch_stats, mode):
    """Checks shared by batch_norm and instance_norm; returns (momentum, eps) as floats."""
    _check_input(op, input)
    _check_params(op, input, (input.shape[1],), "one value per channel", running_mean=running_mean,
                  running_var=running_var, weight=weight, bias=bias)
    if not batch_stats and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must be given when {mode} "
                         f"(input shape {input.shape})")
    return _check_momentum(op, momentum), _check_eps(op, eps)


# ----------------------------------------------------------------------------- public ops
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalizes each channel of input (N, C, *) over (N, *).  training: batch statistics
    (biased variance) and, when given, running = (1 - momentum) running + momentum batch with the
    unbiased variance, in place; otherwise the running statistics."""
    op = "batch_norm"
    momentum, eps = _check_running(op, input, running_mean, running_var, weight, bias, momentum, eps,
                                   training, "training=False")
    if training and input.numel() // input.shape[1] == 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input "
                         f"shape {input.shape}")
    return BatchNorm.apply(input, weight, bias, running_mean, running_var, training=bool(training),
                           momentum=momentum, eps=eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalizes each (sample, channel) of input (N, C, *) over (*).  With running stats and
    use_input_stats they are updated by the average over samples of each instance's update."""
    op = "instance_norm"
    momentum, eps = _check_running(op, input, running_mean, running_var, weight, bias, momentum, eps,
                                   use_input_stats, "use_input_stats=False")
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError(f"{op}: expected more than 1 spatial element when training, got input "
                         f"shape {input.shape}")
    return InstanceNorm.apply(input, weight, bias, running_mean, running_var,
                              use_input_stats=bool(use_input_stats), momentum=momentum, eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes each group of C/num_groups channels of each sample of input (N, C, *);
    weight and bias scale each channel."""
    op = "group_norm"
    _check_input(op, input)
    N, C = input.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or C % num_groups:
        raise ValueError(f"{op}: num_groups={num_groups!r} must be a positive int that divides the "
                         f"{C} channels of input {input.shape}")
    _check_params(op, input, (C,), "one value per channel", weight=weight, bias=bias)
    eps = _check_eps(op, eps)
    if N * C // num_groups * math.prod(input.shape[2:]) == 1:  # as torch's _verify_batch_size
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input "
                         f"shape {input.shape} with num_groups={num_groups}")
    return GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes each sample over the trailing dims given by normalized_shape; weight and
    bias (shape normalized_shape) act elementwise."""
    op = "layer_norm"
    _check_input(op, input, min_ndim=1)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not ns or not all(isinstance(s, int) for s in ns):
        raise ValueError(f"{op}: normalized_shape must be an int or a non-empty tuple of ints, "
                         f"got {normalized_shape!r}")
    if input.ndim < len(ns) or input.shape[input.ndim - len(ns):] != ns:
        raise ValueError(f"{op}: normalized_shape={list(ns)} expects input of shape [*, "
                         f"{', '.join(map(str, ns))}], got {input.shape}")
    _check_params(op, input, ns, "normalized_shape", weight=weight, bias=bias)
    eps = _check_eps(op, eps)
    return LayerNorm.apply(input, weight, bias, D=math.prod(ns), eps=eps)


def pixel_norm(input, eps=1e-8):
    """ProGAN's pixelwise feature vector normalization: x / sqrt(mean over dim 1 of x^2 + eps)."""
    op = "pixel_norm"
    _check_input(op, input)
    return PixelNorm.apply(input, eps=_check_eps(op, eps))
