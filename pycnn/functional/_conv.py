"""The conv family (torch.nn.functional names, argument orders and defaults).

``conv2d`` is a cross-correlation, as in PyTorch and every CNN library:
    y[n, co, i, j] = b[co] + sum_{ci, m, k} w[co, ci, m, k] * x[n, ci, i*s + m*d - p, j*s + k*d - p]
(no kernel flip; the true convolution is convolve2d, which flips the kernel).
``conv_transpose2d`` is its adjoint in x: the input-gradient of conv2d, with the weight
laid out (C_in, C_out/groups, kH, kW).  1-D ops run the 2-D kernels with H = 1 (a reshape,
no copy), and unbatched inputs (C, *spatial) get a batch of one.  Kernels: csrc/conv.h.
"""
from __future__ import annotations

from ..ops import require_float
from ..tensor import Function, Tensor
from ..utils import ntuple

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def _as4d(shape, spatial):
    """(N, C, *spatial) or unbatched (C, *spatial) -> the 4-D (N, C, H, W) the kernels take."""
    if len(shape) == spatial + 1:
        shape = (1,) + tuple(shape)
    return shape if spatial == 2 else shape[:2] + (1,) + shape[2:]


def _unbatch(shape4, spatial, input_ndim):
    """The inverse of _as4d for an output: drop H = 1 for 1-D ops and N = 1 for unbatched input."""
    shape = shape4[:2] + shape4[4 - spatial:]
    return shape[1:] if input_ndim == spatial + 1 else shape


class ConvNd(Function):
    """conv1d/conv2d on the native kernels; padding is (top, bottom, left, right)."""

    def forward(self, x, weight, bias, stride, padding, dilation, groups):
        spatial = weight.ndim - 2
        self.x_shape, self.w_shape = x.shape, weight.shape
        self.x = x.reshape(_as4d(x.shape, spatial))
        self.w = weight.reshape(_as4d(weight.shape, spatial))
        self.has_bias = bias is not None
        self.args = (stride, padding, dilation, groups)
        y = self.backend.native.conv2d_forward(self.x, self.w, bias, *self.args)
        self.y4_shape = y.shape
        return y.reshape(_unbatch(y.shape, spatial, len(self.x_shape)))

    def backward(self, g):
        need = self.needs_input_grad
        dx, dw, db = self.backend.native.conv2d_backward(
            g.reshape(self.y4_shape), self.x, self.w, *self.args, input_grad=need[0], weight_grad=need[1],
            bias_grad=self.has_bias and need[2])
        return (None if dx is None else dx.reshape(self.x_shape),
                None if dw is None else dw.reshape(self.w_shape), db)


class ConvTransposeNd(Function):
    """conv_transpose1d/conv_transpose2d on the native kernels."""

    def forward(self, x, weight, bias, stride, padding, output_padding, groups, dilation):
        spatial = weight.ndim - 2
        self.x_shape, self.w_shape = x.shape, weight.shape
        self.x = x.reshape(_as4d(x.shape, spatial))
        self.w = weight.reshape(_as4d(weight.shape, spatial))
        self.has_bias = bias is not None
        self.args = (stride, padding, output_padding, groups, dilation)
        y = self.backend.native.conv_transpose2d_forward(self.x, self.w, bias, *self.args)
        self.y4_shape = y.shape
        return y.reshape(_unbatch(y.shape, spatial, len(self.x_shape)))

    def backward(self, g):
        need = self.needs_input_grad
        dx, dw, db = self.backend.native.conv_transpose2d_backward(
            g.reshape(self.y4_shape), self.x, self.w, *self.args, input_grad=need[0],
            weight_grad=need[1], bias_grad=self.has_bias and need[2])
        return (None if dx is None else dx.reshape(self.x_shape),
                None if dw is None else dw.reshape(self.w_shape), db)


# ----------------------------------------------------------------------------- validation
_SPATIAL_NAMES = {1: "L", 2: "H, W"}
_KERNEL_NAMES = {1: "k", 2: "kH, kW"}


def _check_tensors(op, spatial, input, weight, bias, weight_layout):
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    require_float(op, input, weight, bias)
    dtypes = {t.dtype for t in (input, weight, bias) if t is not None}
    if len(dtypes) != 1:
        raise TypeError(f"{op}: dtypes differ: input {input.dtype} {input.shape}, weight {weight.dtype} "
                        f"{weight.shape}" + (f", bias {bias.dtype} {bias.shape}" if bias is not None else ""))
    sp = _SPATIAL_NAMES[spatial]
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: input must be {spatial + 2}-D (N, C_in, {sp}) or {spatial + 1}-D "
                         f"(C_in, {sp}), got shape {input.shape}")
    if weight.ndim != spatial + 2:
        raise ValueError(f"{op}: weight must be {spatial + 2}-D {weight_layout}, got shape {weight.shape}")
    if any(k <= 0 for k in weight.shape[2:]):
        raise ValueError(f"{op}: weight {weight.shape} has an empty kernel")


def _positive(op, name, value, spatial, input, weight):
    t = ntuple(value, spatial, op, name)
    if any(v <= 0 for v in t):
        raise ValueError(f"{op}: {name} must be positive, got {value!r} (input {input.shape}, weight {weight.shape})")
    return t


def _check_groups(op, groups, input, weight):
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups <= 0:
        raise ValueError(f"{op}: groups must be positive, got {groups}")


def _check_bias(op, bias, channels, weight):
    if bias is not None and bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},) to match weight {weight.shape}, "
                         f"got {bias.shape}")


def _conv_padding(op, padding, kernel, stride, dilation, input, weight):
    """Per-dim (begin, end) padding from an int, a tuple, 'valid' or 'same'."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride={stride}, input {input.shape}, weight {weight.shape})")
        # total d(k-1); an odd total puts the extra element at the end (bottom/right), as PyTorch.
        return [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2) for k, d in zip(kernel, dilation)]
    p = ntuple(padding, n, op, "padding")
    if any(v < 0 for v in p):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r} (input {input.shape})")
    return [(v, v) for v in p]


def _conv(op, spatial, input, weight, bias, stride, padding, dilation, groups):
    _check_tensors(op, spatial, input, weight, bias,
                   f"(C_out, C_in/groups, {_KERNEL_NAMES[spatial]})")
    _check_groups(op, groups, input, weight)
    stride = _positive(op, "stride", stride, spatial, input, weight)
    dilation = _positive(op, "dilation", dilation, spatial, input, weight)
    pads = _conv_padding(op, padding, weight.shape[2:], stride, dilation, input, weight)
    c_in, c_out = input.shape[-spatial - 1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels ({c_in}, input "
                         f"{input.shape}) and the output channels ({c_out}, weight {weight.shape})")
    if weight.shape[1] * groups != c_in:
        raise ValueError(f"{op}: weight {weight.shape} with groups={groups} expects "
                         f"{weight.shape[1] * groups} input channels, but input {input.shape} has {c_in}")
    _check_bias(op, bias, c_out, weight)
    for L, k, s, (pb, pe), d in zip(input.shape[-spatial:], weight.shape[2:], stride, pads, dilation):
        if L + pb + pe - d * (k - 1) - 1 < 0:
            raise ValueError(f"{op}: the (dilated) kernel {weight.shape[2:]} (dilation {dilation}) is larger "
                             f"than the padded input {input.shape} (padding {padding}): output size <= 0")
    if spatial == 1:
        pads = [(0, 0)] + pads
        stride, dilation = (1,) + stride, (1,) + dilation
    padding4 = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    return ConvNd.apply(input, weight, bias, stride=stride, padding=padding4, dilation=dilation,
                        groups=groups)


def _conv_transpose(op, spatial, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(op, spatial, input, weight, bias,
                   f"(C_in, C_out/groups, {_KERNEL_NAMES[spatial]})")
    _check_groups(op, groups, input, weight)
    stride = _positive(op, "stride", stride, spatial, input, weight)
    dilation = _positive(op, "dilation", dilation, spatial, input, weight)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple (no 'same'/'valid'), got {padding!r}")
    padding = ntuple(padding, spatial, op, "padding")
    if any(v < 0 for v in padding):
        raise ValueError(f"{op}: padding must be non-negative, got {padding} (input {input.shape})")
    output_padding = ntuple(output_padding, spatial, op, "output_padding")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ < 0 or not (op_ < s or op_ < d):
            raise ValueError(f"{op}: output_padding {output_padding} must be non-negative and smaller than "
                             f"either the stride {stride} or the dilation {dilation}")
    c_in = input.shape[-spatial - 1]
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}, input {input.shape})")
    if weight.shape[0] != c_in:
        raise ValueError(f"{op}: weight {weight.shape} must be laid out (C_in, C_out/groups, "
                         f"{_KERNEL_NAMES[spatial]}) with C_in = {c_in} as in input {input.shape}; "
                         f"got weight.shape[0] = {weight.shape[0]}")
    _check_bias(op, bias, weight.shape[1] * groups, weight)
    for L, k, s, p, o, d in zip(input.shape[-spatial:], weight.shape[2:], stride, padding, output_padding,
                                dilation):
        if (L - 1) * s - 2 * p + d * (k - 1) + o + 1 <= 0:
            raise ValueError(f"{op}: output size <= 0 for input {input.shape}, weight {weight.shape}, stride "
                             f"{stride}, padding {padding}, output_padding {output_padding}, dilation {dilation}")
    if spatial == 1:
        stride, padding, output_padding, dilation = ((1,) + stride, (0,) + padding,
                                                     (0,) + output_padding, (1,) + dilation)
    return ConvTransposeNd.apply(input, weight, bias, stride=stride, padding=padding,
                                 output_padding=output_padding, groups=groups, dilation=dilation)


# ----------------------------------------------------------------------------- public ops
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k); padding int/tuple/'valid'/'same'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kH, kW);
    padding int/tuple/'valid'/'same' (stride 1 only; an odd total pads one more at the bottom/right)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """input (N, C_in, L), weight (C_in, C_out/groups, k); L_out = (L-1)s - 2p + d(k-1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW);
    H_out = (H-1)s - 2p + d(kH-1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def pad_mode(input, pad, mode):
    """reflect/replicate/circular padding for F.pad; implemented in _conv_extra."""
    from ._conv_extra import pad_mode as impl

    return impl(input, pad, mode)
