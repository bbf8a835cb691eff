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
get a batch of one.  Kernels: csrc/pool.h.
"""
from __future__ import annotations

from ..ops import require_float
from ..tensor import Function, Tensor
from ..utils import ntuple

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool1d",
           "max_unpool2d"]


def _as4d(shape, spatial):
    """(N, C, *spatial) or unbatched (C, *spatial) -> the (N, C, H, W) the kernels take."""
    if len(shape) == spatial + 1:
        shape = (1,) + tuple(shape)
    return tuple(shape) if spatial == 2 else tuple(shape[:2]) + (1,) + tuple(shape[2:])


def _unbatch(shape4, spatial, input_ndim):
    """The inverse of _as4d for an output: drop H = 1 for 1-D ops and N = 1 for unbatched input."""
    shape = tuple(shape4[:2]) + tuple(shape4[4 - spatial:])
    return shape[1:] if input_ndim == spatial + 1 else shape


def _lift(t, spatial, fill):
    """A 1-D op's (k,) parameter as the 2-D kernels' (fill, k)."""
    return t if spatial == 2 else (fill,) + t


# ----------------------------------------------------------------------------- Functions
class MaxPoolNd(Function):
    """(y, indices) of max_pool1d/2d; backward scatters dy to the indices."""

    def forward(self, x, spatial, **window):
        self.x_shape, self.x4_shape = x.shape, _as4d(x.shape, spatial)
        y, idx = self.pool(x.reshape(self.x4_shape), spatial, **window)
        self.idx = idx
        out = _unbatch(y.shape, spatial, len(x.shape))
        return y.reshape(out), idx.reshape(out)

    def pool(self, x4, spatial, kernel, stride, padding, dilation, ceil_mode):
        return self.backend.native.max_pool2d_forward(
            x4, _lift(kernel, spatial, 1), _lift(stride, spatial, 1), _lift(padding, spatial, 0),
            _lift(dilation, spatial, 1), ceil_mode)

    def backward(self, g, g_idx):
        dx = self.backend.native.max_pool2d_backward(g.reshape(self.idx.shape), self.idx, self.x4_shape)
        return (dx.reshape(self.x_shape),)


class AdaptiveMaxPoolNd(MaxPoolNd):
    """(y, indices) of adaptive_max_pool1d/2d; the same backward."""

    def pool(self, x4, spatial, output_size):
        return self.backend.native.adaptive_max_pool2d_forward(x4, _lift(output_size, spatial, 1))


class AvgPoolNd(Function):
    """avg_pool1d/2d; backward spreads dy / divisor over each window."""

    def forward(self, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, spatial):
        self.x_shape, self.x4_shape = x.shape, _as4d(x.shape, spatial)
        self.args = (_lift(kernel, spatial, 1), _lift(stride, spatial, 1), _lift(padding, spatial, 0),
                     ceil_mode, count_include_pad, divisor_override)
        y = self.backend.native.avg_pool2d_forward(x.reshape(self.x4_shape), *self.args)
        self.y4_shape = y.shape
        return y.reshape(_unbatch(y.shape, spatial, len(x.shape)))

    def backward(self, g):
        dx = self.backend.native.avg_pool2d_backward(g.reshape(self.y4_shape), self.x4_shape, *self.args)
        return (dx.reshape(self.x_shape),)


class AdaptiveAvgPoolNd(Function):
    def forward(self, x, output_size, spatial):
        self.x_shape, self.x4_shape = x.shape, _as4d(x.shape, spatial)
        y = self.backend.native.adaptive_avg_pool2d_forward(x.reshape(self.x4_shape),
                                                            _lift(output_size, spatial, 1))
        self.y4_shape = y.shape
        return y.reshape(_unbatch(y.shape, spatial, len(x.shape)))

    def backward(self, g):
        dx = self.backend.native.adaptive_avg_pool2d_backward(g.reshape(self.y4_shape), self.x4_shape)
        return (dx.reshape(self.x_shape),)


class MaxUnpoolNd(Function):
    """y = 0 except y.flat[indices] = x per plane; backward gathers dy at the indices."""

    def forward(self, x, indices, output_size, spatial):
        self.x_shape, x4 = x.shape, _as4d(x.shape, spatial)
        self.idx = indices.reshape(x4)
        self.op = f"max_unpool{spatial}d"
        y = self.backend.native.max_unpool2d_forward(x.reshape(x4), self.idx, _lift(output_size, spatial, 1),
                                                     op=self.op)
        self.y4_shape = y.shape
        return y.reshape(_unbatch(y.shape, spatial, len(x.shape)))

    def backward(self, g):
        dx = self.backend.native.max_unpool2d_backward(g.reshape(self.y4_shape), self.idx,
                                                       op=f"{self.op}_backward")
        return dx.reshape(self.x_shape), None


# ----------------------------------------------------------------------------- validation
_SPATIAL_NAMES = {1: "L", 2: "H, W"}


def _check_input(op, input, spatial):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    require_float(op, input)
    sp = _SPATIAL_NAMES[spatial]
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: input must be {spatial + 2}-D (N, C, {sp}) or {spatial + 1}-D (C, {sp}), "
                         f"got shape {input.shape}")
    if any(s == 0 for s in input.shape[-spatial:]):
        raise ValueError(f"{op}: input {input.shape} has an empty spatial dimension")


def _tuple(op, name, value, spatial, input, lo):
    if isinstance(value, (tuple, list)) and len(value) == 1:  # torch accepts (k,) for every dim
        value = value[0]
    t = ntuple(value, spatial, op, name)
    if any(v < lo for v in t):
        what = "positive" if lo == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {what}, got {value!r} (input {input.shape})")
    return t


def _window_args(op, input, spatial, kernel_size, stride, padding, dilation):
    """Validated (kernel, stride, padding, dilation) tuples, as PyTorch checks them."""
    kernel = _tuple(op, "kernel_size", kernel_size, spatial, input, 1)
    empty = stride is None or isinstance(stride, (tuple, list)) and len(stride) == 0  # torch's default: []
    stride = kernel if empty else _tuple(op, "stride", stride, spatial, input, 1)
    padding = _tuple(op, "padding", padding, spatial, input, 0)
    dilation = _tuple(op, "dilation", dilation, spatial, input, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel_size {kernel} "
                         f"(input {input.shape})")
    return kernel, stride, padding, dilation


def _check_output_size(op, input, spatial, kernel, stride, padding, dilation, ceil_mode):
    for L, k, s, p, d in zip(input.shape[-spatial:], kernel, stride, padding, dilation):
        num = L + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
        out = num // s + 1
        if ceil_mode and (out - 1) * s >= L + p:
            out -= 1
        if out < 1:
            raise ValueError(f"{op}: output size is too small: kernel_size {kernel} (dilation {dilation}) is "
                             f"larger than the padded input {input.shape} (padding {padding}, stride {stride}, "
                             f"ceil_mode={ceil_mode})")


def _max_pool(op, spatial, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, spatial)
    kernel, stride, padding, dilation = _window_args(op, input, spatial, kernel_size, stride, padding, dilation)
    _check_output_size(op, input, spatial, kernel, stride, padding, dilation, ceil_mode)
    y, idx = MaxPoolNd.apply(input, spatial=spatial, kernel=kernel, stride=stride, padding=padding,
                             dilation=dilation, ceil_mode=bool(ceil_mode))
    return (y, idx) if return_indices else y


def _avg_pool(op, spatial, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_input(op, input, spatial)
    kernel, stride, padding, _ = _window_args(op, input, spatial, kernel_size, stride, padding, 1)
    _check_output_size(op, input, spatial, kernel, stride, padding, (1,) * spatial, ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int):
            raise TypeError(f"{op}: divisor_override must be an int or None, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be non-zero (input {input.shape})")
    return AvgPoolNd.apply(input, kernel=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad), divisor_override=divisor_override,
                           spatial=spatial)


def _adaptive_size(op, input, spatial, output_size):
    """output_size as a tuple; None entries take the input's size (as PyTorch)."""
    if output_size is None or isinstance(output_size, int) and not isinstance(output_size, bool):
        sizes = (output_size,) * spatial
    else:
        try:
            sizes = tuple(output_size)
        except TypeError:
            raise TypeError(f"{op}: output_size must be an int, None or a tuple of {spatial}, "
                            f"got {output_size!r}") from None
        if len(sizes) != spatial:
            raise ValueError(f"{op}: output_size must have {spatial} values, got {output_size!r}")
    out = []
    for s, L in zip(sizes, input.shape[-spatial:]):
        if s is None:
            out.append(L)
        elif isinstance(s, bool) or not isinstance(s, int) and not hasattr(s, "__index__"):
            raise TypeError(f"{op}: output_size must hold ints or None, got {output_size!r}")
        elif int(s) < 0:
            raise ValueError(f"{op}: output_size must be non-negative, got {output_size!r} (input {input.shape})")
        else:
            out.append(int(s))
    return tuple(out)


def _unpool_output_size(op, input, spatial, kernel, stride, padding, output_size):
    """PyTorch's _unpool_output_size: the default (L-1)s - 2p + k, or a requested size
    (its last `spatial` entries, optionally with (N, C) in front) strictly within stride of it."""
    default = tuple((L - 1) * s - 2 * p + k for L, s, p, k in
                    zip(input.shape[-spatial:], stride, padding, kernel))
    if output_size is None:
        size = default
    else:
        try:
            size = tuple(int(v) for v in output_size)
        except TypeError:
            raise TypeError(f"{op}: output_size must be a sequence of ints, got {output_size!r}") from None
        if len(size) == spatial + 2:
            size = size[2:]
        if len(size) != spatial:
            raise ValueError(f"{op}: output_size should be a sequence containing {spatial} or {spatial + 2} "
                             f"elements, but it has a length of {len(size)}")
        for i, (v, dflt, s) in enumerate(zip(size, default, stride)):
            if not dflt - s < v < dflt + s:
                raise ValueError(f'{op}: invalid output_size "{tuple(output_size)}" (dim {i} must be between '
                                 f"{dflt - s} and {dflt + s}, exclusive, for input {input.shape}, kernel_size "
                                 f"{kernel}, stride {stride}, padding {padding})")
    if any(v < 1 for v in size):
        raise ValueError(f"{op}: output size {size} must be positive (input {input.shape}, kernel_size {kernel}, "
                         f"stride {stride}, padding {padding})")
    return size


def _max_unpool(op, spatial, input, indices, kernel_size, stride, padding, output_size):
    _check_input(op, input, spatial)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}: indices must be a Tensor, got {type(indices).__name__}")
    if str(indices.dtype) != "int64":
        raise TypeError(f"{op}: indices must be int64, got dtype {indices.dtype} with shape {indices.shape}")
    if indices.shape != input.shape:
        raise ValueError(f"{op}: indices {indices.shape} must have the shape of input {input.shape}")
    kernel = _tuple(op, "kernel_size", kernel_size, spatial, input, 1)
    stride = kernel if stride is None else _tuple(op, "stride", stride, spatial, input, 1)
    padding = _tuple(op, "padding", padding, spatial, input, 0)
    size = _unpool_output_size(op, input, spatial, kernel, stride, padding, output_size)
    return MaxUnpoolNd.apply(input, indices, output_size=size, spatial=spatial)


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
    _check_input("adaptive_avg_pool1d", input, 1)
    size = _adaptive_size("adaptive_avg_pool1d", input, 1, output_size)
    return AdaptiveAvgPoolNd.apply(input, output_size=size, spatial=1)


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) or (C, H, W) -> (N, C, *output_size); a None entry keeps that input size."""
    _check_input("adaptive_avg_pool2d", input, 2)
    size = _adaptive_size("adaptive_avg_pool2d", input, 2, output_size)
    return AdaptiveAvgPoolNd.apply(input, output_size=size, spatial=2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """input (N, C, L) or (C, L) -> (N, C, output_size) [, int64 positions in L]."""
    _check_input("adaptive_max_pool1d", input, 1)
    size = _adaptive_size("adaptive_max_pool1d", input, 1, output_size)
    y, idx = AdaptiveMaxPoolNd.apply(input, output_size=size, spatial=1)
    return (y, idx) if return_indices else y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """input (N, C, H, W) or (C, H, W) -> (N, C, *output_size) [, int64 h*W + w per plane]."""
    _check_input("adaptive_max_pool2d", input, 2)
    size = _adaptive_size("adaptive_max_pool2d", input, 2, output_size)
    y, idx = AdaptiveMaxPoolNd.apply(input, output_size=size, spatial=2)
    return (y, idx) if return_indices else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool1d: (N, C, L) -> (N, C, (L-1)s - 2p + k or output_size), zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H-1)s - 2p + k or output_size."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)
