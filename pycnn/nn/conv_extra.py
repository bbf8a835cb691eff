"""CausalConv1d and DepthwiseSeparableConv2d: conv blocks built on Conv1d/Conv2d's
functional ops (no torch.nn counterparts; their parameters are named and shaped as
the torch.nn.Conv1d / Conv2d they are made of, so state_dicts still move over)."""
from __future__ import annotations

from .. import functional as F
from ..creation import zeros
from .._args import as_flag, as_positive_int, check_tensor, ntuple
from . import init
from .conv import Conv2d
from .module import Module, Parameter

__all__ = ["CausalConv1d", "DepthwiseSeparableConv2d"]


class CausalConv1d(Module):
    """A Conv1d padded on the left only, by d(k-1): output t sees inputs t - d(k-1) .. t
    and never a later one, and the length is kept (the TCN / WaveNet building block).

    A stack with dilations 1, 2, 4, ... has receptive field 1 + sum_l d_l (k - 1)
    (16 for kernel 2 and dilations 1, 2, 4, 8).  Parameters: weight
    (out_channels, in_channels, kernel_size) and bias (out_channels,), as torch's
    Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=0) applied
    to F.pad(x, (d(k-1), 0)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, bias=True, device=None, dtype=None):
        super().__init__()
        (kernel_size,) = ntuple(kernel_size, 1, "CausalConv1d", "kernel_size")
        (dilation,) = ntuple(dilation, 1, "CausalConv1d", "dilation")
        in_channels, out_channels, kernel_size, dilation = (
            as_positive_int(v, "CausalConv1d", name) for name, v in (
                ("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size),
                ("dilation", dilation)))
        bias = as_flag(bias, "CausalConv1d", "bias")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.dilation = (kernel_size,), (dilation,)
        self.weight = Parameter(zeros(out_channels, in_channels, kernel_size, dtype=dtype, device=device or "cpu"))
        if bias:
            self.bias = Parameter(zeros(out_channels, dtype=dtype, device=device or "cpu"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    @property
    def left_padding(self) -> int:
        return self.dilation[0] * (self.kernel_size[0] - 1)

    @property
    def receptive_field(self) -> int:
        return self.left_padding + 1

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        check_tensor(x, "CausalConv1d", "input")
        if x.ndim not in (2, 3):
            raise ValueError(f"CausalConv1d: input must be (N, C, L) or (C, L), got shape {x.shape}")
        if self.left_padding:
            x = F.pad(x, (self.left_padding, 0))
        return F.conv1d(x, self.weight, self.bias, 1, 0, self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, left_padding={self.left_padding}, bias={self.bias is not None}")


class DepthwiseSeparableConv2d(Module):
    """A depthwise k x k Conv2d (groups=in_channels, in_channels*depth_multiplier outputs)
    followed by a pointwise 1x1 Conv2d to out_channels (MobileNet's block, without the
    norm/activation in between).

    Parameters: C_in*m*k_h*k_w (+ C_in*m bias) + C_out*C_in*m (+ C_out bias), against
    C_out*C_in*k_h*k_w (+ C_out) for a full Conv2d: ~1/C_out + 1/(k_h k_w) as many.
    Submodules ``depthwise`` and ``pointwise`` (state_dict keys depthwise.weight, ...).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        in_channels = as_positive_int(in_channels, "DepthwiseSeparableConv2d", "in_channels")
        depth_multiplier = as_positive_int(depth_multiplier, "DepthwiseSeparableConv2d", "depth_multiplier")
        mid = in_channels * depth_multiplier
        self.in_channels, self.depth_multiplier = in_channels, depth_multiplier
        self.depthwise = Conv2d(in_channels, mid, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=in_channels, bias=bias,
                                padding_mode=padding_mode, device=device, dtype=dtype)
        self.pointwise = Conv2d(mid, out_channels, 1, bias=bias, device=device, dtype=dtype)

    def forward(self, x):
        check_tensor(x, "DepthwiseSeparableConv2d", "input")
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"DepthwiseSeparableConv2d: expected input (N, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got shape {x.shape}")
        return self.pointwise(self.depthwise(x))

    def extra_repr(self):
        return f"depth_multiplier={self.depth_multiplier}"
