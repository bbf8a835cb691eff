"""Layers the model zoo needs beyond the core set: Hardtanh / ReLU6 (torch.nn names and
defaults) and GaussianRBF2d, the S2 layer of HMAX (Serre et al. 2007)."""
from __future__ import annotations

from .. import functional as F
from ..creation import ones, zeros
from ..ops import require_float
from ..tensor import Function, Tensor
from . import init
from .module import Module, Parameter

__all__ = ["Hardtanh", "ReLU6", "GaussianRBF2d", "hardtanh", "relu6", "gaussian_rbf2d"]


class _Hardtanh(Function):
    """clamp(x, min_val, max_val); the gradient passes only strictly inside (torch's rule:
    zero at and beyond the bounds), as a select so an infinite dy outside gives 0."""

    def forward(self, x, min_val, max_val):
        xp = self.xp
        self.inside = (x > min_val) & (x < max_val)
        return xp.minimum(xp.maximum(x, x.dtype.type(min_val)), x.dtype.type(max_val))

    def backward(self, g):
        return self.xp.where(self.inside, g, g.dtype.type(0))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """torch.nn.functional.hardtanh: min(max(x, min_val), max_val)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"hardtanh: input must be a Tensor, got {type(input).__name__}")
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be less than max_val ({max_val})")
    require_float("hardtanh", input)
    return _Hardtanh.apply(input, min_val=float(min_val), max_val=float(max_val))


def relu6(input, inplace=False):
    """torch.nn.functional.relu6: min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if not min_val < max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be less than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


def gaussian_rbf2d(input, weight, sigma, stride=1, padding=0):
    """y[n, p, i, j] = exp(-||x_ij - w_p||^2 / (2 sigma_p^2)) for every k x k patch x_ij of the
    input (N, C, H, W) and prototype w_p = weight[p] (P, C, kH, kW); sigma is a float or (P,).

    The squared distance is expanded as ||x||^2 - 2 x.w + ||w||^2: the first term is a conv of
    x^2 with a ones kernel, the second a conv with the prototypes, the third a per-prototype
    constant, so the whole layer is three convolutions (differentiable in x, w and sigma).  It is
    clamped at 0 (float cancellation can make it slightly negative).
    """
    if input.ndim != 4 or weight.ndim != 4 or input.shape[1] != weight.shape[1]:
        raise ValueError(f"gaussian_rbf2d: expected input (N, C, H, W) and weight (P, C, kH, kW) with "
                         f"the same C, got input {input.shape} and weight {weight.shape}")
    ones_kernel = ones(1, *weight.shape[1:], dtype=input.dtype, device=input.device)
    x2 = F.conv2d(input * input, ones_kernel, None, stride, padding)          # (N, 1, H', W')
    xw = F.conv2d(input, weight, None, stride, padding)                       # (N, P, H', W')
    w2 = (weight * weight).sum((1, 2, 3)).reshape(1, -1, 1, 1)                # (1, P, 1, 1)
    dist2 = (x2 - 2 * xw + w2).relu()
    if isinstance(sigma, Tensor):
        sigma = sigma.reshape(1, -1, 1, 1)
    return (dist2 / (-2 * sigma * sigma)).exp()


class GaussianRBF2d(Module):
    """Gaussian radial-basis units over patches: the S2 layer of HMAX.

    Parameters: weight (num_prototypes, in_channels, k, k), the prototypes; with
    learn_sigma=True also sigma (num_prototypes,), otherwise sigma is a buffer.  Output
    (N, num_prototypes, H', W') with H' = floor((H + 2 padding - k) / stride) + 1, values in (0, 1].
    """

    def __init__(self, in_channels, num_prototypes, kernel_size, sigma=1.0, stride=1, padding=0,
                 learn_sigma=False, dtype=None):
        super().__init__()
        kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if in_channels < 1 or num_prototypes < 1 or min(kernel_size) < 1:
            raise ValueError(f"GaussianRBF2d: in_channels, num_prototypes and kernel_size must be positive, "
                             f"got {in_channels}, {num_prototypes}, {kernel_size}")
        if sigma <= 0:
            raise ValueError(f"GaussianRBF2d: sigma must be positive, got {sigma}")
        self.in_channels, self.num_prototypes, self.kernel_size = in_channels, num_prototypes, kernel_size
        self.stride, self.padding = stride, padding
        self.weight = Parameter(zeros(num_prototypes, in_channels, *kernel_size, dtype=dtype))
        s = ones(num_prototypes, dtype=dtype) * float(sigma)
        if learn_sigma:
            self.sigma = Parameter(s)
        else:
            self.register_buffer("sigma", s)
        init.uniform_(self.weight, 0.0, 1.0)

    def forward(self, x):
        return gaussian_rbf2d(x, self.weight, self.sigma, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.num_prototypes}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
