"""Classic fixed image filters as tensors, and ``filter2d`` to apply them.

Every kernel here is a *correlation* kernel (read it as a stencil laid over the
image, as conv2d and OpenCV's filter2D do): ``filter2d(f, k)[i, j] = sum_{m,n}
f[i + m - cy, j + n - cx] * k[m, n]`` with (cy, cx) the kernel's anchor (its centre;
for an even size the left/top of the two middle cells, so the extra padding goes to
the right/bottom).  x is the column index (last dim, growing rightwards), y the row
index (growing downwards).  For the signal-processing convolution use
``pycnn.functional.convolve2d``, which flips the kernel.
"""
from __future__ import annotations

import math

import numpy as np

from ._args import as_flag, as_float, as_int, check_tensor
from .creation import tensor
from .tensor import Tensor

__all__ = ["forward_diff_x", "forward_diff_y", "central_diff_x", "central_diff_y", "sobel_x", "sobel_y",
           "prewitt_x", "prewitt_y", "laplacian", "gaussian", "box", "filter2d"]


def _kernel(rows, dtype):
    # from Python floats, so that dtype=None gives pycnn's default dtype (float32)
    return tensor(np.asarray(rows, dtype=np.float64).tolist(), dtype=dtype)


def forward_diff_x(dtype=None) -> Tensor:
    """[-1, 1] (1x2): f(x+1) - f(x)."""
    return _kernel([[-1.0, 1.0]], dtype)


def forward_diff_y(dtype=None) -> Tensor:
    """[-1, 1]^T (2x1): f(y+1) - f(y)."""
    return _kernel([[-1.0], [1.0]], dtype)


def central_diff_x(dtype=None) -> Tensor:
    """[-1/2, 0, 1/2] (1x3): (f(x+1) - f(x-1)) / 2."""
    return _kernel([[-0.5, 0.0, 0.5]], dtype)


def central_diff_y(dtype=None) -> Tensor:
    """[-1/2, 0, 1/2]^T (3x1): (f(y+1) - f(y-1)) / 2."""
    return _kernel([[-0.5], [0.0], [0.5]], dtype)


def _smoothed_diff_x(op, side, normalize, dtype):
    # outer(smoothing along y, central difference along x); 'normalize' scales it to d/dx.
    k = np.outer(side, [-1.0, 0.0, 1.0])
    return _kernel(k / (2 * np.sum(side)) if as_flag(normalize, op, "normalize") else k, dtype)


def sobel_x(normalize=False, dtype=None) -> Tensor:
    """[[-1,0,1],[-2,0,2],[-1,0,1]]: d/dx smoothed along y; normalize=True divides by 8 (exact d/dx on ramps)."""
    return _smoothed_diff_x("sobel_x", [1.0, 2.0, 1.0], normalize, dtype)


def sobel_y(normalize=False, dtype=None) -> Tensor:
    """sobel_x transposed: d/dy smoothed along x."""
    return _kernel(_smoothed_diff_x("sobel_y", [1.0, 2.0, 1.0], normalize, "float64").numpy().T, dtype)


def prewitt_x(normalize=False, dtype=None) -> Tensor:
    """[[-1,0,1],[-1,0,1],[-1,0,1]]: d/dx averaged along y; normalize=True divides by 6."""
    return _smoothed_diff_x("prewitt_x", [1.0, 1.0, 1.0], normalize, dtype)


def prewitt_y(normalize=False, dtype=None) -> Tensor:
    """prewitt_x transposed."""
    return _kernel(_smoothed_diff_x("prewitt_y", [1.0, 1.0, 1.0], normalize, "float64").numpy().T, dtype)


def laplacian(neighbours=4, dtype=None) -> Tensor:
    """Discrete Laplacian: 4-neighbour [[0,1,0],[1,-4,1],[0,1,0]] (f_xx + f_yy, exact on
    quadratics) or 8-neighbour [[1,1,1],[1,-8,1],[1,1,1]] (3 (f_xx + f_yy) on quadratics,
    more isotropic)."""
    neighbours = as_int(neighbours, "laplacian", "neighbours")
    if neighbours == 4:
        return _kernel([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype)
    if neighbours == 8:
        return _kernel([[1.0, 1.0, 1.0], [1.0, -8.0, 1.0], [1.0, 1.0, 1.0]], dtype)
    raise ValueError(f"laplacian: neighbours must be 4 or 8, got {neighbours!r}")


def _check_size(op, size):
    size = as_int(size, op, "size")
    if size < 1:
        raise ValueError(f"{op}: size must be a positive int, got {size!r}")
    if size > 1 << 15:  # a size x size kernel: past this it is gigabytes, never a filter
        raise ValueError(f"{op}: size {size} is too large for a dense size x size kernel (at most {1 << 15})")
    return size


def gaussian(size, sigma, dtype=None) -> Tensor:
    """(size, size) samples of exp(-(x^2 + y^2) / (2 sigma^2)) on a grid centred on the
    kernel, normalised to sum to 1 (separable: the outer product of the 1-D kernel)."""
    size = _check_size("gaussian", size)
    sigma = as_float(sigma, "gaussian", "sigma")
    if not sigma > 0 or math.isinf(sigma):
        raise ValueError(f"gaussian: sigma must be a positive finite number, got {sigma!r}")
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-t ** 2 / (2.0 * float(sigma) ** 2))
    g /= g.sum()
    return _kernel(np.outer(g, g), dtype)


def box(size, dtype=None) -> Tensor:
    """(size, size) mean filter: every weight 1/size^2."""
    size = _check_size("box", size)
    return _kernel(np.full((size, size), 1.0 / size ** 2), dtype)


def filter2d(image, kernel, padding="same", padding_mode="zeros") -> Tensor:
    """Correlates every channel of ``image`` with the 2-D ``kernel`` independently.

    image: (H, W), (C, H, W) or (N, C, H, W); kernel: (kH, kW) (a Tensor or array,
    cast to the image's dtype).  padding: 'same' (output H x W; for an even kernel the
    extra row/column of padding goes to the bottom/right), 'valid', an int or a pair.
    padding_mode: 'zeros', 'reflect', 'replicate' or 'circular' (as Conv2d's).
    Differentiable in the image and (if it requires grad) the kernel.
    """
    from .functional import conv2d, pad
    from ._args import ntuple, same_padding

    check_tensor(image, "filter2d", "image")
    if image.ndim not in (2, 3, 4):
        raise ValueError(f"filter2d: image must be (H, W), (C, H, W) or (N, C, H, W), got shape {image.shape}")
    if image.dtype.kind != "f":
        raise TypeError(f"filter2d: image must be float32 or float64, got {image.dtype} (shape {image.shape})")
    if not isinstance(kernel, Tensor):
        try:
            array = np.asarray(kernel, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"filter2d: kernel must be a Tensor or a 2-D array of numbers, got "
                            f"{type(kernel).__name__}") from None
        kernel = tensor(array, dtype=image.dtype, device=image.device)
    if kernel.ndim != 2:
        raise ValueError(f"filter2d: kernel must be 2-D (kH, kW), got shape {kernel.shape}")
    if kernel.dtype != image.dtype or kernel.device != image.device:
        kernel = kernel.to(image.device, image.dtype)
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"filter2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                         f"got {padding_mode!r}")
    kH, kW = kernel.shape
    if padding == "same":
        (top, bottom), (left, right) = same_padding((kH, kW), (1, 1))
    elif padding == "valid":
        top = bottom = left = right = 0
    elif isinstance(padding, str):
        raise ValueError(f"filter2d: padding must be 'same', 'valid', an int or a pair, got {padding!r}")
    else:
        (top, left) = ntuple(padding, 2, "filter2d", "padding")
        bottom, right = top, left
    lead, (H, W) = image.shape[:-2], image.shape[-2:]
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"filter2d: padding {padding} must be >= 0")
    if H + top + bottom < kH or W + left + right < kW:
        raise ValueError(f"filter2d: kernel {tuple(kernel.shape)} is larger than the padded image "
                         f"({H + top + bottom}, {W + left + right}) (image shape {image.shape}, padding {padding})")
    x = image.reshape(-1, 1, H, W)
    pads = (left, right, top, bottom)
    if any(pads):
        x = pad(x, pads, mode="constant" if padding_mode == "zeros" else padding_mode)
    y = conv2d(x, kernel.reshape(1, 1, kH, kW))
    return y.reshape(lead + y.shape[-2:])
