"""The padding modules of torch.nn: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and
CircularPad in 1, 2 and 3 dims, each F.pad with its mode (csrc/pad.h for the non-constant ones).
`padding` is an int (every side) or a tuple of 2 * dims ints in F.pad's order (left, right, top,
bottom, front, back); negative values crop, as in F.pad."""
import numbers

import numpy as np

from .. import functional as F
from .module import Module

__all__ = [f"{kind}Pad{d}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
           for d in (1, 2, 3)]


class _PadNd(Module):
    mode = "constant"  # F.pad's mode
    dims = 1           # the trailing dims padded
    value = 0.0        # the constant modes' fill

    def __init__(self, padding):
        super().__init__()
        n = 2 * self.dims
        if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, bool):
            padding = (int(padding),) * n
        elif not (isinstance(padding, (tuple, list)) and len(padding) == n
                  and all(isinstance(p, (numbers.Integral, np.integer)) and not isinstance(p, bool) for p in padding)):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {n} ints, got {padding!r}")
        self.padding = tuple(int(p) for p in padding)

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value)  # the value is read by 'constant' only

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_PadNd):
    pass


class ZeroPad1d(_ZeroPadNd):
    """torch.nn.ZeroPad1d: F.pad(x, padding, 'constant') over the last 1 dim."""
    mode, dims = 'constant', 1


class ZeroPad2d(_ZeroPadNd):
    """torch.nn.ZeroPad2d: F.pad(x, padding, 'constant') over the last 2 dims."""
    mode, dims = 'constant', 2


class ZeroPad3d(_ZeroPadNd):
    """torch.nn.ZeroPad3d: F.pad(x, padding, 'constant') over the last 3 dims."""
    mode, dims = 'constant', 3


class ConstantPad1d(_ConstantPadNd):
    """torch.nn.ConstantPad1d: F.pad(x, padding, 'constant', value) over the last 1 dim."""
    mode, dims = 'constant', 1


class ConstantPad2d(_ConstantPadNd):
    """torch.nn.ConstantPad2d: F.pad(x, padding, 'constant', value) over the last 2 dims."""
    mode, dims = 'constant', 2


class ConstantPad3d(_ConstantPadNd):
    """torch.nn.ConstantPad3d: F.pad(x, padding, 'constant', value) over the last 3 dims."""
    mode, dims = 'constant', 3


class ReflectionPad1d(_PadNd):
    """torch.nn.ReflectionPad1d: F.pad(x, padding, 'reflect') over the last 1 dim."""
    mode, dims = 'reflect', 1


class ReflectionPad2d(_PadNd):
    """torch.nn.ReflectionPad2d: F.pad(x, padding, 'reflect') over the last 2 dims."""
    mode, dims = 'reflect', 2


class ReflectionPad3d(_PadNd):
    """torch.nn.ReflectionPad3d: F.pad(x, padding, 'reflect') over the last 3 dims."""
    mode, dims = 'reflect', 3


class ReplicationPad1d(_PadNd):
    """torch.nn.ReplicationPad1d: F.pad(x, padding, 'replicate') over the last 1 dim."""
    mode, dims = 'replicate', 1


class ReplicationPad2d(_PadNd):
    """torch.nn.ReplicationPad2d: F.pad(x, padding, 'replicate') over the last 2 dims."""
    mode, dims = 'replicate', 2


class ReplicationPad3d(_PadNd):
    """torch.nn.ReplicationPad3d: F.pad(x, padding, 'replicate') over the last 3 dims."""
    mode, dims = 'replicate', 3


class CircularPad1d(_PadNd):
    """torch.nn.CircularPad1d: F.pad(x, padding, 'circular') over the last 1 dim."""
    mode, dims = 'circular', 1


class CircularPad2d(_PadNd):
    """torch.nn.CircularPad2d: F.pad(x, padding, 'circular') over the last 2 dims."""
    mode, dims = 'circular', 2


class CircularPad3d(_PadNd):
    """torch.nn.CircularPad3d: F.pad(x, padding, 'circular') over the last 3 dims."""
    mode, dims = 'circular', 3
