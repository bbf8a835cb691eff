"""Pooling modules (torch.nn names, constructor signatures, attributes and extra_repr); no
parameters.  The math is in pycnn/functional/_pool.py.  As in torch, MaxPool*d and AvgPool2d
keep their arguments as given (stride None becomes kernel_size), while AvgPool1d and
MaxUnpool*d store tuples.  GlobalAvgPool2d / GlobalMaxPool2d are conveniences (not in torch):
adaptive pooling to 1x1, giving (N, C, 1, 1), or (N, C) with flatten=True.
"""
from __future__ import annotations

from .. import functional as F
from .._args import as_bool, as_flag, as_int, ntuple
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "MaxUnpool1d", "MaxUnpool2d", "GlobalAvgPool2d",
           "GlobalMaxPool2d"]


def _check_window(module, kernel_size, stride, padding, dilation=1):
    """The functional op's argument types, checked at construction under the module's name (the
    values' rules, which need the input size, stay with the op)."""
    name, n = type(module).__name__, module._spatial
    ntuple(kernel_size, n, name, "kernel_size", single_ok=True)
    if stride is not None and not (isinstance(stride, (tuple, list)) and len(stride) == 0):
        ntuple(stride, n, name, "stride", single_ok=True)
    ntuple(padding, n, name, "padding", single_ok=True)
    ntuple(dilation, n, name, "dilation", single_ok=True)


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class _MaxPoolNd(Module):
    _spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        _check_window(self, kernel_size, stride, padding, dilation)
        as_flag(return_indices, type(self).__name__, "return_indices")
        as_bool(ceil_mode, type(self).__name__, "ceil_mode")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """torch.nn.MaxPool1d: (N, C, L) -> (N, C, L_out)."""

    _spatial = 1

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """torch.nn.MaxPool2d: (N, C, H, W) -> (N, C, H_out, W_out)."""

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool1d(Module):
    """torch.nn.AvgPool1d: (N, C, L) -> (N, C, L_out)."""

    _spatial = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        _check_window(self, kernel_size, stride, padding)
        as_bool(ceil_mode, "AvgPool1d", "ceil_mode"), as_bool(count_include_pad, "AvgPool1d", "count_include_pad")
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(Module):
    """torch.nn.AvgPool2d: (N, C, H, W) -> (N, C, H_out, W_out)."""

    _spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        _check_window(self, kernel_size, stride, padding)
        as_bool(ceil_mode, "AvgPool2d", "ceil_mode"), as_bool(count_include_pad, "AvgPool2d", "count_include_pad")
        if divisor_override is not None:
            as_int(divisor_override, "AvgPool2d", "divisor_override")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
        for s in sizes:  # None keeps that input size
            if s is not None:
                as_int(s, type(self).__name__, "output_size")
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """torch.nn.AdaptiveAvgPool1d: (N, C, L) -> (N, C, output_size)."""

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """torch.nn.AdaptiveAvgPool2d: (N, C, H, W) -> (N, C, *output_size); None keeps that size."""

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = as_flag(return_indices, type(self).__name__, "return_indices")


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """torch.nn.AdaptiveMaxPool1d: (N, C, L) -> (N, C, output_size)."""

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """torch.nn.AdaptiveMaxPool2d: (N, C, H, W) -> (N, C, *output_size); None keeps that size."""

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    _tuple = None  # _single / _pair
    _unpool = None  # F.max_unpool1d / F.max_unpool2d

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _check_window(self, kernel_size, stride, padding)
        as_tuple = type(self)._tuple
        self.kernel_size = as_tuple(kernel_size)
        self.stride = as_tuple(stride if stride is not None else kernel_size)
        self.padding = as_tuple(padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return type(self)._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool1d(_MaxUnpoolNd):
    """torch.nn.MaxUnpool1d: forward(input, indices, output_size=None)."""

    _spatial = 1
    _tuple = staticmethod(_single)
    _unpool = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """torch.nn.MaxUnpool2d: forward(input, indices, output_size=None)."""

    _spatial = 2
    _tuple = staticmethod(_pair)
    _unpool = staticmethod(F.max_unpool2d)


class _GlobalPool2d(Module):
    _pool = None  # F.adaptive_avg_pool2d / F.adaptive_max_pool2d

    def __init__(self, flatten=False):
        super().__init__()
        self.flatten = as_flag(flatten, type(self).__name__, "flatten")

    def extra_repr(self):
        return "flatten=True" if self.flatten else ""

    def forward(self, input):
        y = type(self)._pool(input, 1)
        return y.flatten(-3) if self.flatten else y


class GlobalAvgPool2d(_GlobalPool2d):
    """Mean over each (n, c) plane: (N, C, H, W) -> (N, C, 1, 1), or (N, C) with flatten=True."""

    _pool = staticmethod(F.adaptive_avg_pool2d)


class GlobalMaxPool2d(_GlobalPool2d):
    """Max over each (n, c) plane: (N, C, H, W) -> (N, C, 1, 1), or (N, C) with flatten=True."""

    _pool = staticmethod(F.adaptive_max_pool2d)
