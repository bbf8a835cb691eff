"""The conv family (torch.nn.functional names, argument orders and defaults).

``conv2d`` is a cross-correlation, as in PyTorch and every CNN library:
    y[n, co, i, j] = b[co] + sum_{ci, m, k} w[co, ci, m, k] * x[n, ci, i*s + m*d - p, j*s + k*d - p]
(no kernel flip; the true convolution is convolve2d, which flips the kernel).
``conv_transpose2d`` is its adjoint in x: the input-gradient of conv2d, with the weight
laid out (C_in, C_out/groups, kH, kW).  1-D ops run the 2-D kernels with H = 1 (a reshape,
no copy), and unbatched inputs (C, *spatial) get a batch of one (pycnn._args).  Kernels and every
validation rule: csrc/conv.h and csrc/params/conv_params.cpp; this file parses PyTorch's arguments.
"""
from __future__ import annotations

from .._args import allocation_errors, as_int, conv_padding, lift4, lift_pair, ntuple, unlift
from ..ops import require_float
from ..tensor import Function, Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


class ConvNd(Function):
    """conv1d/conv2d (and, with transposed=True, conv_transpose1d/2d) on the native kernels."""

    def forward(self, x, weight, bias, op, spatial, transposed, stride, padding, dilation, groups,
                output_padding=(0, 0), relu=False):
        nat = self.backend.native
        self.x_shape, self.w_shape, self.spatial = x.shape, weight.shape, spatial
        self.x, self.w = x.reshape(lift4(x.shape, spatial)), weight.reshape(lift4(weight.shape, spatial))
        self.has_bias, self.transposed = bias is not None, transposed
        bias_shape = None if bias is None else bias.shape
        if transposed:
            self.p = nat.conv_transpose2d_params(op, spatial, self.x.shape, self.w.shape, bias_shape, stride, padding,
                                                 output_padding, groups, dilation)
            self.kernels = nat.conv_transpose2d_forward, nat.conv_transpose2d_backward
        else:
            self.p = nat.conv2d_params(op, spatial, self.x.shape, self.w.shape, bias_shape, stride, padding,
                                       dilation, groups)
            self.kernels = nat.conv2d_forward, nat.conv2d_backward
        # relu: relu(conv(x) + b) in the bias pass; only without autograd (see conv2d_relu_inference)
        y = self.kernels[0](self.x, self.w, bias, self.p, **({"relu": True} if relu else {}))
        self.y4_shape = y.shape
        return y.reshape(unlift(y.shape, spatial, len(self.x_shape)))

    def backward(self, g):
        need = self.needs_input_grad
        dx, dw, db = self.kernels[1](g.reshape(self.y4_shape), self.x, self.w, self.p, input_grad=need[0],
                                     weight_grad=need[1], bias_grad=self.has_bias and need[2])
        return (None if dx is None else dx.reshape(self.x_shape),
                None if dw is None else dw.reshape(self.w_shape), db)


# ----------------------------------------------------------------------------- argument parsing
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


def _conv(op, spatial, input, weight, bias, stride, padding, dilation, groups, relu=False):
    _check_tensors(op, spatial, input, weight, bias, f"(C_out, C_in/groups, {_KERNEL_NAMES[spatial]})")
    groups = as_int(groups, op, "groups")
    stride, dilation = ntuple(stride, spatial, op, "stride"), ntuple(dilation, spatial, op, "dilation")
    pads = conv_padding(op, padding, weight.shape[2:], stride, dilation)
    if spatial == 1:
        pads = [(0, 0)] + pads
    padding4 = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    with allocation_errors(op, input.shape):
        return ConvNd.apply(input, weight, bias, op=op, spatial=spatial, transposed=False,
                            stride=lift_pair(stride, spatial, 1), padding=padding4,
                            dilation=lift_pair(dilation, spatial, 1), groups=groups, relu=relu)


def _conv_transpose(op, spatial, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensors(op, spatial, input, weight, bias, f"(C_in, C_out/groups, {_KERNEL_NAMES[spatial]})")
    groups = as_int(groups, op, "groups")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple (no 'same'/'valid'), got {padding!r}")
    args = dict(stride=lift_pair(ntuple(stride, spatial, op, "stride"), spatial, 1),
                padding=lift_pair(ntuple(padding, spatial, op, "padding"), spatial, 0),
                output_padding=lift_pair(ntuple(output_padding, spatial, op, "output_padding"), spatial, 0),
                dilation=lift_pair(ntuple(dilation, spatial, op, "dilation"), spatial, 1), groups=groups)
    with allocation_errors(op, input.shape):
        return ConvNd.apply(input, weight, bias, op=op, spatial=spatial, transposed=True, **args)


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
