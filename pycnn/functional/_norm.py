"""Normalization ops (torch.nn.functional names, argument orders and defaults) on the fused
native kernels of csrc/norm.h: one forward computes the statistics and normalizes, one
backward gives dx, dweight and dbias in closed form.

    batch_norm     statistics per channel over (N, *)        batch_norm_forward/_backward
    instance_norm  per (sample, channel) over (*)            the same kernels on (1, N*C, *)
    group_norm     per (sample, group of channels) over (*)  group_norm_forward/_backward
    layer_norm     per sample over normalized_shape          group_norm kernels on (M, D), 1 group
    pixel_norm     per pixel over channels, no mean (ProGAN) pixel_norm_forward/_backward

Each op's shapes and rules (the (N, C, S) view, the affine and running-stat shapes, eps, "more
than 1 value per channel") live in csrc/params/norm_params.cpp, reached through the
<op>_params constructors; this file checks the tensors' types and parses PyTorch's arguments.
"""
from __future__ import annotations

import numbers

from .._args import as_bool, as_float, as_int
from ..ops import require_float
from ..tensor import Function, Tensor

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "pixel_norm"]


def _shape(a):
    return None if a is None else a.shape


# ----------------------------------------------------------------------------- Functions
class BatchNorm(Function):
    """y = (x - mean_c) rstd_c w_c + b_c; running stats (in place) with the unbiased variance."""

    relu = False  # BatchNormRelu: relu(y) from the same kernels

    def forward(self, x, running_mean, running_var, weight, bias, op, training, momentum, eps):
        nat = self.backend.native
        self.p = nat.batch_norm_params(op, x.shape, _shape(weight), _shape(bias), _shape(running_mean),
                                       _shape(running_var), training, eps)
        self.empty = training and x.size == 0
        if self.empty:  # torch: an empty output, the running statistics left alone, zero parameter grads
            self.C, self.dtype = x.shape[1], x.dtype
            return self.xp.empty(x.shape, x.dtype)
        y, self.mean, self.rstd = nat.batch_norm_forward(x, running_mean, running_var, weight, bias, self.p,
                                                         training, momentum, relu=self.relu)
        self.x, self.weight, self.training = x, weight, training
        self.y = y if self.relu else None
        return y

    def backward(self, g):
        if self.empty:
            dx, dw, db = g, self.xp.zeros(self.C, self.dtype), self.xp.zeros(self.C, self.dtype)
        else:
            dx, dw, db = self.backend.native.batch_norm_backward(g, self.x, self.mean, self.rstd, self.weight,
                                                                 self.p, self.training, relu_output=self.y)
        need = self.needs_input_grad
        return dx if need[0] else None, None, None, dw if need[3] else None, db if need[4] else None


class BatchNormRelu(BatchNorm):
    """relu(batch_norm(x)) as one forward and one backward kernel (csrc/norm.h: the ReLU is applied
    in the normalizing sweep, its select to dy in the backward's sweeps): what nn.Sequential runs for
    a BatchNorm module followed by a ReLU.  The same numbers as the two ops; the backward reads the
    output (ReLU's mask), so an in-place change of it before backward raises."""

    relu = True
    saves_output = True


class InstanceNorm(Function):
    """Batch norm of the (1, N*C, *) view, as ATen's instance_norm: weight, bias and running
    stats are repeated per sample, and the updated running stats averaged back over samples."""

    def forward(self, x, running_mean, running_var, weight, bias, op, use_input_stats, momentum, eps):
        xp, nat = self.xp, self.backend.native
        self.p = nat.instance_norm_params(op, x.shape, _shape(weight), _shape(bias), _shape(running_mean),
                                          _shape(running_var), use_input_stats, eps)
        N, C = x.shape[:2]

        def rep(a):
            return None if a is None else xp.tile(a, N)

        rm, rv, self.w = rep(running_mean), rep(running_var), rep(weight)
        self.x = xp.ascontiguousarray(x).reshape(self.p.view)
        y, self.mean, self.rstd = nat.batch_norm_forward(self.x, rm, rv, self.w, rep(bias), self.p,
                                                         use_input_stats, momentum)
        if use_input_stats:  # eval mode reads the running stats and leaves them alone, as torch
            for buf, rep_buf in ((running_mean, rm), (running_var, rv)):
                if buf is not None:
                    buf[...] = rep_buf.reshape(N, C).mean(axis=0)
        self.training, self.shape = use_input_stats, x.shape
        return y.reshape(x.shape)

    def backward(self, g):
        dx, dw, db = self.backend.native.batch_norm_backward(g.reshape(self.x.shape), self.x, self.mean, self.rstd,
                                                             self.w, self.p, self.training)
        N, C = self.shape[:2]
        need = self.needs_input_grad
        return (dx.reshape(self.shape) if need[0] else None, None, None,
                dw.reshape(N, C).sum(axis=0) if need[3] else None,
                db.reshape(N, C).sum(axis=0) if need[4] else None)


class GroupNorm(Function):
    """Statistics per (sample, group); LayerNorm reuses its kernels on (M, D) with one group."""

    def forward(self, x, weight, bias, op, num_groups, eps):
        nat = self.backend.native
        self.p = nat.group_norm_params(op, x.shape, num_groups, _shape(weight), _shape(bias), eps)
        y, self.mean, self.rstd = nat.group_norm_forward(x, weight, bias, self.p)
        self.x, self.weight = x, weight
        return y

    def backward(self, g):
        dx, dw, db = self.backend.native.group_norm_backward(g, self.x, self.mean, self.rstd, self.weight, self.p)
        need = self.needs_input_grad
        return dx if need[0] else None, dw if need[1] else None, db if need[2] else None


class LayerNorm(Function):
    """The trailing dims flattened to D: x as (M, D), elementwise affine of D values."""

    def forward(self, x, weight, bias, op, normalized_shape, eps):
        nat = self.backend.native
        self.p = nat.layer_norm_params(op, x.shape, normalized_shape, _shape(weight), _shape(bias), eps)
        M, D = self.p.N, self.p.C
        flat = lambda a: None if a is None else a.reshape(D)  # noqa: E731
        self.shape, self.x, self.w = x.shape, x.reshape(M, D), flat(weight)
        self.wshape, self.bshape = _shape(weight), _shape(bias)
        y, self.mean, self.rstd = nat.group_norm_forward(self.x, self.w, flat(bias), self.p)
        return y.reshape(x.shape)

    def backward(self, g):
        dx, dw, db = self.backend.native.group_norm_backward(g.reshape(self.x.shape), self.x, self.mean, self.rstd,
                                                             self.w, self.p)
        need = self.needs_input_grad
        return (dx.reshape(self.shape) if need[0] else None,
                dw.reshape(self.wshape) if need[1] else None,
                db.reshape(self.bshape) if need[2] else None)


class PixelNorm(Function):
    """y = x r, r = 1/sqrt(mean_c x^2 + eps); dx = r dy - x r^3 mean_c(dy x)."""

    def forward(self, x, op, eps):
        nat = self.backend.native
        self.p = nat.pixel_norm_params(op, x.shape, eps)
        y, self.rstd = nat.pixel_norm_forward(x, self.p)
        self.x = x
        return y

    def backward(self, g):
        return self.backend.native.pixel_norm_backward(g, self.x, self.rstd, self.p)


# ----------------------------------------------------------------------------- argument parsing
def _check_tensors(op, input, **named):
    """input a float Tensor; each named one a Tensor of input's dtype, or None."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    require_float(op, input)
    for name, t in named.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} dtype {t.dtype} differs from input dtype {input.dtype} "
                            f"(input shape {input.shape})")


def _eps(op, eps):
    return as_float(eps, op, "eps")


def _momentum(op, momentum):
    if not isinstance(momentum, numbers.Real) or isinstance(momentum, bool):
        raise TypeError(f"{op}: momentum must be a float, got {momentum!r} (momentum=None, the "
                        "cumulative average, is handled by the BatchNorm modules)")
    return float(momentum)


# ----------------------------------------------------------------------------- public ops
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalizes each channel of input (N, C, *) over (N, *).  training: batch statistics
    (biased variance) and, when given, running = (1 - momentum) running + momentum batch with the
    unbiased variance, in place; otherwise the running statistics."""
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, relu=False):
    """batch_norm, or with relu relu(batch_norm(...)) fused (BatchNormRelu; nn.Sequential's pair)."""
    op = "batch_norm"
    _check_tensors(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    return (BatchNormRelu if relu else BatchNorm).apply(
        input, running_mean, running_var, weight, bias, op=op, training=as_bool(training, op, "training"),
        momentum=_momentum(op, momentum), eps=_eps(op, eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalizes each (sample, channel) of input (N, C, *) over (*).  With running stats and
    use_input_stats they are updated by the average over samples of each instance's update."""
    op = "instance_norm"
    _check_tensors(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    return InstanceNorm.apply(input, running_mean, running_var, weight, bias, op=op,
                              use_input_stats=as_bool(use_input_stats, op, "use_input_stats"),
                              momentum=_momentum(op, momentum), eps=_eps(op, eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes each group of C/num_groups channels of each sample of input (N, C, *);
    weight and bias scale each channel."""
    op = "group_norm"
    _check_tensors(op, input, weight=weight, bias=bias)
    return GroupNorm.apply(input, weight, bias, op=op, num_groups=as_int(num_groups, op, "num_groups"),
                           eps=_eps(op, eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes each sample over the trailing dims given by normalized_shape; weight and
    bias (shape normalized_shape) act elementwise."""
    op = "layer_norm"
    _check_tensors(op, input, weight=weight, bias=bias)
    ns = normalized_shape if isinstance(normalized_shape, (tuple, list)) else (normalized_shape,)
    ns = tuple(as_int(s, op, "normalized_shape") for s in ns)
    return LayerNorm.apply(input, weight, bias, op=op, normalized_shape=ns, eps=_eps(op, eps))


def pixel_norm(input, eps=1e-8):
    """ProGAN's pixelwise feature vector normalization: x / sqrt(mean over dim 1 of x^2 + eps)."""
    op = "pixel_norm"
    _check_tensors(op, input)
    return PixelNorm.apply(input, op=op, eps=_eps(op, eps))
