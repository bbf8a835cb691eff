"""conv modules (torch.nn names, defaults and state_dict keys).

Conv{1,2}d hold weight (out_channels, in_channels/groups, *kernel_size); ConvTranspose{1,2}d
hold weight (in_channels, out_channels/groups, *kernel_size); both an optional bias
(out_channels,).  Init is PyTorch's: kaiming_uniform_(a=sqrt(5)) with fan_in from the
weight (weight.shape[1] * prod(kernel_size)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Each conv module's num_parameters() is C_out * (C_in/groups * prod(k) + 1) with a bias.
"""
from __future__ import annotations

from .. import functional as F
from ..functional._conv import _conv as _conv_impl
from ..creation import zeros
from .._args import as_flag, as_int, as_positive_int, ntuple, same_padding
from . import init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _spatial = 2
    _transposed = False

    def __init_subclass__(cls, spatial=None, conv=None, **kwargs):
        """`class Conv1d(_Conv, spatial=1, conv=F.conv1d)`: the number of spatial dims and the functional
        op of a concrete class (a subclass without them inherits its parent's)."""
        super().__init_subclass__(**kwargs)
        if spatial is not None:
            cls._spatial, cls._conv = spatial, staticmethod(conv)

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name, n = type(self).__name__, self._spatial
        in_channels = as_positive_int(in_channels, name, "in_channels")
        out_channels = as_positive_int(out_channels, name, "out_channels")
        groups = as_int(groups, name, "groups")
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        bias = as_flag(bias, name, "bias")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got {padding_mode!r}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, n, name, "kernel_size")
        if min(self.kernel_size) < 1:  # a kernel with no taps has no fan-in to initialise from
            raise ValueError(f"{name}: kernel_size must be positive, got {self.kernel_size}")
        self.stride = ntuple(stride, n, name, "stride")
        self.dilation = ntuple(dilation, n, name, "dilation")
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid', an int or a tuple, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, name, "padding")
        self.output_padding = ntuple(output_padding, n, name, "output_padding")
        self.transposed = self._transposed
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad order (last dim first, (begin, end) each) for the non-zero padding modes.
        if self.padding == "same":
            pads = same_padding(self.kernel_size, self.dilation)
        elif self.padding == "valid":
            pads = [(0, 0)] * n
        else:
            pads = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for pair in reversed(pads) for v in pair)
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(zeros(*shape, dtype=dtype, device=device or "cpu"))
        if bias:
            self.bias = Parameter(zeros(out_channels, dtype=dtype, device=device or "cpu"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._spatial:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _conv = None  # F.conv1d / F.conv2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        conv = type(self)._conv
        if self.padding_mode != "zeros":
            from ..functional._conv_extra import pad_mode

            padded = pad_mode(input, self._reversed_padding_repeated_twice, self.padding_mode)
            return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def _forward_relu(self, input):
        """relu(forward(input)) with the ReLU in the conv's bias pass (csrc/conv.h): what
        nn.Sequential runs for this conv and a following ReLU when no graph is recorded (the fused
        forward keeps nothing for a backward).  Zero padding only (the caller checks)."""
        op = "conv1d" if self._spatial == 1 else "conv2d"
        return _conv_impl(op, self._spatial, input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups, relu=True)


class Conv1d(_Conv, spatial=1, conv=F.conv1d):
    """torch.nn.Conv1d: input (N, C_in, L) -> (N, C_out, L_out)."""


class Conv2d(_Conv, spatial=2, conv=F.conv2d):
    """torch.nn.Conv2d: input (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""


class _ConvTranspose(_ConvNd):
    _transposed = True
    _conv = None  # F.conv_transpose1d / F.conv_transpose2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding=output_padding, device=device, dtype=dtype)

    def _output_padding(self, input, output_size):
        """output_padding that makes the output exactly output_size (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        name, n = type(self).__name__, self._spatial
        output_size = ntuple(output_size, len(output_size) if isinstance(output_size, (tuple, list)) else n,
                             name, "output_size")
        if len(output_size) == input.ndim:  # (N, C, *spatial) or (C, *spatial) given
            output_size = output_size[-n:]
        if len(output_size) != n:
            raise ValueError(f"{name}: output_size must have {n} or {input.ndim} elements (got {len(output_size)})")
        lo = [(L - 1) * s - 2 * p + d * (k - 1) + 1 for L, s, p, d, k in
              zip(input.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= size <= b for size, a, b in zip(output_size, lo, hi)):
            raise ValueError(f"{name}: requested an output size of {output_size}, but valid sizes range from "
                             f"{tuple(lo)} to {tuple(hi)} (for an input of {input.shape[-n:]})")
        return tuple(size - a for size, a in zip(output_size, lo))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._conv(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose, spatial=1, conv=F.conv_transpose1d):
    """torch.nn.ConvTranspose1d: weight (in_channels, out_channels/groups, k)."""


class ConvTranspose2d(_ConvTranspose, spatial=2, conv=F.conv_transpose2d):
    """torch.nn.ConvTranspose2d: weight (in_channels, out_channels/groups, kH, kW)."""
