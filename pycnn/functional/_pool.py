"""The pool family (torch.nn.functional names, argument orders, defaults and semantics).

Windows, for output (oh, ow) of an (n, c) plane of x (H, W), stride s, padding p, dilation d:

* max_pool: taps (oh*s - p + i*d, ow*s - p + j*d), i, j < k; the padding is -inf (never
  chosen).  y is the max; on ties the first tap in row-major window order wins; a NaN
  propagates (it counts as the max and its index is returned).
* avg_pool: rows [hs, he), hs = oh*s - p, he = min(hs + k, H + p) (columns alike), summed
  over the part inside the input.  Divisor: divisor_override if given; else, with
  count_include_pad, (he - hs)(we - ws) *before* clipping to the input (padding counts,
  an overhang of ceil_mode past the padding does not); else the number of input elements.
* adaptive pools: rows [floor(oh*H/H_out), ceil((oh+1)*H/H_out)) (columns alike).

Output size: floor((L + 2p - d(k-1) - 1 + (ceil_mode ? s-1 : 0)) / s) + 1, and with ceil_mode
a last window starting in the right padding is dropped ((out-1)*s >= L + p: out -= 1).
stride defaults to kernel_size; padding must be at most k/2.

Indices (int64, the shape of y) are flat positions h*W + w inside each (n, c) plane of x
(for 1-D ops, the position in L).  max_unpool scatters x to those positions of a zero
output of size (H-1)s - 2p + k (or output_size), and its input-gradient gathers there.

1-D ops run the 2-D kernels with H = 1 (a reshape, no copy), unbatched inputs (C, *spatial)
get a batch of one (pycnn._args).  Kernels and every validation rule: csrc/pool.h and
csrc/params/pool_params.cpp; this file parses PyTorch's arguments and runs the Functions.
"""
from __future__ import annotations

from .._args import allocation_errors, as_bool, as_flag, as_int, lift4, lift_pair, ntuple, unlift
from ..ops import require_float
from ..tensor import Function, Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool1d",
           "max_unpool2d"]


# ----------------------------------------------------------------------------- Functions
class PoolNd(Function):
    """The lift shared by the pool Functions: x (N, C, *spatial) or (C, *spatial) runs as the 4-D
    x4; outputs come back in the input's layout."""

    def lift(self, x, spatial):
        self.x_shape, self.spatial = x.shape, spatial
        return x.reshape(lift4(x.shape, spatial))

    def unlift(self, y4):
        return y4.reshape(unlift(y4.shape, self.spatial, len(self.x_shape)))


class MaxPoolNd(PoolNd):
    """(y, indices) of max_pool1d/2d; backward scatters dy to the indices."""

    def forward(self, x, op, spatial, kernel, stride, padding, dilation, ceil_mode):
        nat = self.backend.native
        x4 = self.lift(x, spatial)
        self.p = nat.pool2d_params(op, spatial, x4.shape, lift_pair(kernel, spatial, 1), lift_pair(stride, spatial, 1),
                                   lift_pair(padding, spatial, 0), lift_pair(dilation, spatial, 1), ceil_mode, True)
        y, self.idx = nat.max_pool2d_forward(x4, self.p)
        return self.unlift(y), self.unlift(self.idx)

    def backward(self, g, g_idx):
        dx = self.backend.native.max_pool2d_backward(g.reshape(self.idx.shape), self.idx, self.p)
        return dx.reshape(self.x_shape)


class AdaptiveMaxPoolNd(MaxPoolNd):
    """(y, indices) of adaptive_max_pool1d/2d; the same backward."""

    def forward(self, x, op, spatial, output_size):
        nat = self.backend.native
        x4 = self.lift(x, spatial)
        self.p = nat.adaptive_pool2d_params(op, spatial, x4.shape, lift_pair(output_size, spatial, 1))
        y, self.idx = nat.adaptive_max_pool2d_forward(x4, self.p)
        return self.unlift(y), self.unlift(self.idx)


class AvgPoolNd(PoolNd):
    """avg_pool1d/2d; backward spreads dy / divisor over each window."""

    def forward(self, x, op, spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        nat = self.backend.native
        x4 = self.lift(x, spatial)
        self.p = nat.pool2d_params(op, spatial, x4.shape, lift_pair(kernel, spatial, 1), lift_pair(stride, spatial, 1),
                                   lift_pair(padding, spatial, 0), (1, 1), ceil_mode, False, count_include_pad,
                                   divisor_override)
        return self.unlift(nat.avg_pool2d_forward(x4, self.p))

    def backward(self, g):
        dx = self.backend.native.avg_pool2d_backward(g.reshape(self.p.out_shape), self.p)
        return dx.reshape(self.x_shape)


class AdaptiveAvgPoolNd(PoolNd):
    def forward(self, x, op, spatial, output_size):
        nat = self.backend.native
        x4 = self.lift(x, spatial)
        self.p = nat.adaptive_pool2d_params(op, spatial, x4.shape, lift_pair(output_size, spatial, 1))
        return self.unlift(nat.adaptive_avg_pool2d_forward(x4, self.p))

    def backward(self, g):
        dx = self.backend.native.adaptive_avg_pool2d_backward(g.reshape(self.p.out_shape), self.p)
        return dx.reshape(self.x_shape)


class MaxUnpoolNd(PoolNd):
    """y = 0 except y.flat[indices] = x per plane; backward gathers dy at the indices."""

    def forward(self, x, indices, op, spatial, kernel, stride, padding, output_size):
        nat = self.backend.native
        x4 = self.lift(x, spatial)
        self.idx, self.op = indices.reshape(x4.shape), op
        if output_size is not None:
            output_size = lift_pair(output_size, spatial, 1)
        self.p = nat.max_unpool2d_params(op, spatial, x4.shape, lift_pair(kernel, spatial, 1),
                                         lift_pair(stride, spatial, 1), lift_pair(padding, spatial, 0), output_size)
        return self.unlift(nat.max_unpool2d_forward(x4, self.idx, self.p, op))

    def backward(self, g):
        dx = self.backend.native.max_unpool2d_backward(g.reshape(self.p.out_shape), self.idx, self.p,
                                                       f"{self.op}_backward")
        return dx.reshape(self.x_shape), None


# ----------------------------------------------------------------------------- argument parsing
_SPATIAL_NAMES = {1: "L", 2: "H, W"}


def _check_input(op, input, spatial):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    require_float(op, input)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: input must be {spatial + 2}-D (N, C, {_SPATIAL_NAMES[spatial]}) or {spatial + 1}-D "
                         f"(C, {_SPATIAL_NAMES[spatial]}), got shape {input.shape}")


def _window_args(op, spatial, kernel_size, stride, padding, dilation):
    """(kernel, stride, padding, dilation) tuples; stride None (or torch's default []) is the kernel."""
    kernel = ntuple(kernel_size, spatial, op, "kernel_size", single_ok=True)
    empty = stride is None or isinstance(stride, (tuple, list)) and len(stride) == 0
    stride = kernel if empty else ntuple(stride, spatial, op, "stride", single_ok=True)
    return (kernel, stride, ntuple(padding, spatial, op, "padding", single_ok=True),
            ntuple(dilation, spatial, op, "dilation", single_ok=True))


def _max_pool(op, spatial, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, spatial)
    kernel, stride, padding, dilation = _window_args(op, spatial, kernel_size, stride, padding, dilation)
    y, idx = MaxPoolNd.apply(input, op=op, spatial=spatial, kernel=kernel, stride=stride, padding=padding,
                             dilation=dilation, ceil_mode=as_bool(ceil_mode, op, "ceil_mode"))
    return (y, idx) if as_flag(return_indices, op, "return_indices") else y


def _avg_pool(op, spatial, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, input, spatial)
    kernel, stride, padding, _ = _window_args(op, spatial, kernel_size, stride, padding, 1)
    if divisor_override is not None:
        divisor_override = as_int(divisor_override, op, "divisor_override")
    return AvgPoolNd.apply(input, op=op, spatial=spatial, kernel=kernel, stride=stride, padding=padding,
                           ceil_mode=as_bool(ceil_mode, op, "ceil_mode"),
                           count_include_pad=as_bool(count_include_pad, op, "count_include_pad"),
                           divisor_override=divisor_override)


def _adaptive_size(op, input, spatial, output_size):
    """output_size as a tuple; None entries take the input's size (as PyTorch, whose 1-D ops take no None)."""
    if spatial == 1 and output_size is None:
        raise TypeError(f"{op}: output_size must be an int, got None")
    if output_size is None or not isinstance(output_size, (tuple, list)):
        sizes = (output_size,) * spatial
    else:
        sizes = tuple(output_size)
        if len(sizes) != spatial:
            raise ValueError(f"{op}: output_size must have {spatial} values, got {output_size!r}")
    return tuple(L if s is None else as_int(s, op, "output_size") for s, L in zip(sizes, input.shape[-spatial:]))


def _adaptive(fn, op, spatial, input, output_size):
    _check_input(op, input, spatial)
    size = _adaptive_size(op, input, spatial, output_size)
    with allocation_errors(op, input.shape):
        return fn.apply(input, op=op, spatial=spatial, output_size=size)


def _max_unpool(op, spatial, input, indices, kernel_size, stride, padding, output_size):
    _check_input(op, input, spatial)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}: indices must be a Tensor, got {type(indices).__name__}")
    if str(indices.dtype) != "int64":
        raise TypeError(f"{op}: indices must be int64, got dtype {indices.dtype} with shape {indices.shape}")
    if indices.shape != input.shape:
        raise ValueError(f"{op}: indices {indices.shape} must have the shape of input {input.shape}")
    kernel, stride, padding, _ = _window_args(op, spatial, kernel_size, stride, padding, 1)
    if output_size is not None:  # its last `spatial` entries (PyTorch also takes (N, C, *spatial))
        size = ntuple(output_size, len(output_size) if isinstance(output_size, (tuple, list)) else spatial,
                      op, "output_size")
        if len(size) not in (spatial, spatial + 2):
            raise ValueError(f"{op}: output_size should be a sequence containing {spatial} or {spatial + 2} "
                             f"elements, but it has a length of {len(size)}")
        output_size = size[-spatial:]
    with allocation_errors(op, input.shape):
        return MaxUnpoolNd.apply(input, indices, op=op, spatial=spatial, kernel=kernel, stride=stride,
                                 padding=padding, output_size=output_size)


# ----------------------------------------------------------------------------- public ops
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, L) or (C, L) -> (N, C, L_out); with return_indices also the int64 positions in L."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out); indices are h*W + w per plane."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """input (N, C, L) or (C, L) -> (N, C, L_out)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out); divisor rule in the module docstring."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def adaptive_avg_pool1d(input, output_size):
    """input (N, C, L) or (C, L) -> (N, C, output_size)."""
    return _adaptive(AdaptiveAvgPoolNd, "adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) or (C, H, W) -> (N, C, *output_size); a None entry keeps that input size."""
    return _adaptive(AdaptiveAvgPoolNd, "adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """input (N, C, L) or (C, L) -> (N, C, output_size) [, int64 positions in L]."""
    y, idx = _adaptive(AdaptiveMaxPoolNd, "adaptive_max_pool1d", 1, input, output_size)
    return (y, idx) if as_flag(return_indices, "adaptive_max_pool1d", "return_indices") else y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """input (N, C, H, W) or (C, H, W) -> (N, C, *output_size) [, int64 h*W + w per plane]."""
    y, idx = _adaptive(AdaptiveMaxPoolNd, "adaptive_max_pool2d", 2, input, output_size)
    return (y, idx) if as_flag(return_indices, "adaptive_max_pool2d", "return_indices") else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool1d: (N, C, L) -> (N, C, (L-1)s - 2p + k or output_size), zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H-1)s - 2p + k or output_size."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)
