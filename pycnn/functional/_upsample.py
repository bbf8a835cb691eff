"""The upsample family: ``interpolate`` (torch.nn.functional names, defaults and semantics)
and the bed-of-nails upsample.  Kernels: csrc/upsample.h.

Four ways back up
-----------------
A decoder (segmentation nets, autoencoders, GAN generators) grows an (H, W) map to
(s*H, s*W).  With an integer factor s, per channel c:

* **nearest-neighbour** (``interpolate(mode='nearest')``): every value fills its s x s block,
  ``y[i*s + a, j*s + b] = x[i, j]``.  No parameters; blocky.
* **bed of nails** (``upsample_bed_of_nails``): the value goes to the top-left of its block and
  the other s*s - 1 entries are zero, ``y[i*s, j*s] = x[i, j]``.  No parameters; the gradient is
  the strided slice ``dy[::s, ::s]``.
* **max-unpooling** (``max_unpool2d``): like bed of nails, but each value goes to the position
  its max-pool recorded (``indices``), so the decoder puts detail back where the encoder found
  it (SegNet).  Bed of nails is max-unpooling with every index at the top-left of its window.
* **transposed convolution** (``conv_transpose2d``): a learned upsample, the adjoint of a
  strided conv2d; with ``stride = kernel = s`` each input value paints a scaled copy of the
  kernel into its block.

How they relate (depthwise: ``groups = C``, weight of shape (C, 1, s, s)):

    upsample_bed_of_nails(x, s) == max_unpool2d(x, top_left_indices, s)
                                == conv_transpose2d(x, e00, stride=s, groups=C)   e00 = one-hot at [0, 0]
    interpolate(x, scale_factor=s, mode='nearest')
                                == conv_transpose2d(x, ones, stride=s, groups=C)
                                == bed of nails followed by filling each block with its nail
    interpolate(x, scale_factor=2, mode='bilinear')   (align_corners=False)
                                == conv_transpose2d(pad(x, 1, 'replicate'), k (x) k, stride=2, padding=3, groups=C)
                                   with k = [1/4, 3/4, 3/4, 1/4]: the classic bilinear initialisation
                                   of an FCN's learned upsampler; the replicate pad gives torch's clamped edges.

So transposed convolution contains the others as fixed kernels; their gradients are the
matching strided convolutions (bed of nails: the strided slice; nearest: the s x s block sum).

interpolate's coordinate rules (torch's CPU kernels; scale = in/out, or 1/scale_factor when
scale_factor is given and recompute_scale_factor is not True):

    nearest:        src = min(floor(dst * scale), in - 1)       (float arithmetic, as torch;
                                                                 exact when out == in or 2*in)
    nearest-exact:  src = min(floor((dst + 0.5) * scale), in - 1)
    (bi)linear, align_corners=False: src = max((dst + 0.5) * scale - 0.5, 0)
    (bi)linear, align_corners=True:  src = dst * (in - 1) / (out - 1)
    and (bi/tri)linear blends in[floor(src)] and in[floor(src) + 1] (clamped to in - 1) with
    weights 1 - frac and frac per axis; an unchanged size is a copy, as in torch.
    bicubic:        src as linear but not clamped at 0; the four taps floor(src) - 1 .. + 2,
                    clamped to [0, in - 1], weighted by Keys' cubic kernel with A = -0.75 at
                    distance |src - tap| (csrc/upsample.h); no copy shortcut, as in torch.
    area:           adaptive_avg_pool1d / 2d to the output size, as in torch.

Deliberate difference: for 3-D and 5-D nearest input whose size is unchanged (or exactly
doubled) by a scale_factor other than 1 (or 2), e.g. L=3 with scale_factor=1.1, torch's 1-D and
3-D forwards use floor(dst / 1.1) but their backwards (and the 2-D forward) use the exact
shortcut; pycnn uses the shortcut in both, so forward and backward stay adjoint.  Bicubic is the
other way round: when a scale_factor other than 1 leaves every size unchanged, torch's forward
resamples by the scale but its backward copies the gradient; pycnn's forward is torch's and its
backward the true adjoint of it (tests/test_upsample.py::test_interpolate_matches_torch).  Likewise torch's 1-D float64
nearest-exact forward computes the scale in double, and can differ from its float32 forward
and from every backward where (dst + 0.5) * scale is an exact integer (e.g. L 6 -> 37, dst 18);
pycnn uses the float scale for both dtypes, so float32 and float64 pick the same sources.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .._args import allocation_errors, as_bool, as_flag, as_int
from ..ops import require_float
from ..tensor import Function, Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "upsample_bed_of_nails"]

_NEAREST_MODES = ("nearest", "nearest-exact")
_INTERPOLATING_MODES = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}  # mode -> the input ndim it needs


class Interpolate(Function):
    """interpolate on the native kernels, which see every input as (N, C, D, H, W): a 3-D (N, C, L)
    input runs as (N, C, 1, 1, L), a 4-D one as (N, C, 1, H, W)."""

    saves_inputs = False

    def forward(self, x, size, mode, align_corners, scales):
        nat = self.backend.native
        self.x_shape = x.shape
        x5 = x.reshape(x.shape[:2] + (1,) * (5 - x.ndim) + x.shape[2:])
        self.p = nat.upsample_params("interpolate", x5.shape, list(size), mode, align_corners, list(scales))
        y = nat.upsample_forward(x5, self.p)
        return y.reshape(y.shape[:2] + y.shape[7 - x.ndim:])

    def backward(self, g):
        if not self.needs_input_grad[0]:
            return None
        dx = self.backend.native.upsample_backward(g.reshape(self.p.out_shape), self.p)
        return dx.reshape(self.x_shape)


def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


def _per_dim(value, dim, what, input):
    """A scalar or a sequence of one value per spatial dim -> a list of dim values."""
    if isinstance(value, (tuple, list)):
        if len(value) != dim:
            raise ValueError(f"interpolate: input and output must have the same number of spatial dimensions, "
                             f"but got input with spatial dimensions of {list(input.shape[2:])} and {what} "
                             f"{tuple(value)}; give (N, C, d1, ..., dK) input and {what} (o1, ..., oK)")
        return list(value)
    return [value] * dim


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for modes 'nearest', 'nearest-exact' ((N, C, L), (N, C, H, W)
    or (N, C, D, H, W) input), 'linear' ((N, C, L)), 'bilinear' and 'bicubic' ((N, C, H, W)),
    'trilinear' ((N, C, D, H, W)) and 'area' (adaptive average pooling, (N, C, L) or (N, C, H, W)).

    Exactly one of ``size`` (int or one int per spatial dim) and ``scale_factor`` (number or
    one per dim) is given.  With scale_factor the output size is floor(in * scale_factor) and
    the coordinates use 1/scale_factor, unless ``recompute_scale_factor=True`` (then in/out).
    ``align_corners`` is for the interpolating modes only (None means False).  Differentiable in input.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: input must be a Tensor, got {type(input).__name__}")
    if mode in _NEAREST_MODES + ("area",):
        if align_corners is not None:
            raise ValueError(f"interpolate: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear, got mode {mode!r} with "
                             f"align_corners={align_corners!r}")
    elif mode in _INTERPOLATING_MODES:
        align_corners = False if align_corners is None else as_bool(align_corners, "interpolate", "align_corners")
    else:
        raise ValueError(f"interpolate: mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', "
                         f"'bicubic', 'trilinear', 'area', got {mode!r}")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"interpolate: input must be 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W), got "
                         f"{input.ndim}-D input of shape {input.shape} for mode {mode!r}")
    if mode in _INTERPOLATING_MODES and input.ndim != _INTERPOLATING_MODES[mode]:
        raise NotImplementedError(f"interpolate: got {input.ndim}D input of shape {input.shape}, but {mode} mode "
                                  f"needs {_INTERPOLATING_MODES[mode]}D input")
    if mode == "area" and input.ndim == 5:
        raise NotImplementedError(f"interpolate: mode 'area' on 5-D input (shape {input.shape}) needs "
                                  f"adaptive_avg_pool3d, which pycnn does not have yet")
    recompute_scale_factor = (None if recompute_scale_factor is None
                              else as_flag(recompute_scale_factor, "interpolate", "recompute_scale_factor"))
    if as_flag(antialias, "interpolate", "antialias"):
        raise NotImplementedError(f"interpolate: antialias=True is not implemented in pycnn (mode {mode!r}, "
                                  f"input shape {input.shape})")
    require_float("interpolate", input)

    dim = input.ndim - 2
    in_sizes = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(f"interpolate: only one of size or scale_factor should be defined, got size={size!r} "
                         f"and scale_factor={scale_factor!r} (input shape {input.shape})")
    if size is None and scale_factor is None:
        raise ValueError(f"interpolate: either size or scale_factor should be defined (input shape {input.shape})")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size.")
    if size is not None:
        out_sizes = _per_dim(size, dim, "output size", input)
        if not all(_is_int(s) for s in out_sizes):
            raise TypeError(f"interpolate: size must be an int or a tuple of {dim} ints, got {size!r} "
                            f"(input shape {input.shape})")
        out_sizes, scales = [as_int(s, "interpolate", "size") for s in out_sizes], [None] * dim
    else:
        scales = _per_dim(scale_factor, dim, "scale_factor", input)
        if not all(isinstance(s, (numbers.Real, np.floating, np.integer)) and not isinstance(s, bool)
                   for s in scales):
            raise TypeError(f"interpolate: scale_factor must be a number or a tuple of {dim} numbers, got "
                            f"{scale_factor!r} (input shape {input.shape})")
        scales = [float(s) for s in scales]
        if not all(math.isfinite(s) and s > 0 for s in scales):
            raise ValueError(f"interpolate: scale_factor must be positive and finite, got {scale_factor!r} "
                             f"(input shape {input.shape})")
        out_sizes = [as_int(math.floor(float(n) * s), "interpolate", "the output size (input size * scale_factor)")
                     for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * dim
    if min(in_sizes) < 1 or min(out_sizes) < 1:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, but got input spatial "
                         f"size {tuple(in_sizes)} (shape {input.shape}) and output size {tuple(out_sizes)}")
    if mode == "area":  # torch: adaptive average pooling to the output size
        from ._pool import adaptive_avg_pool1d, adaptive_avg_pool2d
        return (adaptive_avg_pool1d if dim == 1 else adaptive_avg_pool2d)(input, tuple(out_sizes))
    out_sizes, scales = [1] * (3 - dim) + out_sizes, [None] * (3 - dim) + scales
    with allocation_errors("interpolate", input.shape):
        return Interpolate.apply(input, size=out_sizes, mode=mode, align_corners=bool(align_corners), scales=scales)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """torch.nn.functional.upsample: the deprecated name of interpolate."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """torch.nn.functional.upsample_nearest (deprecated): interpolate(mode='nearest')."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """torch.nn.functional.upsample_bilinear (deprecated): interpolate(mode='bilinear', align_corners=True)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------------------- bed of nails
class BedOfNails2d(Function):
    """Bed-of-nails upsample of (N, C, H, W) by integer (sH, sW); backward is the strided slice."""

    saves_inputs = False

    def forward(self, x, sH, sW):
        nat = self.backend.native
        self.p = nat.bed_of_nails_params("upsample_bed_of_nails", x.shape, (sH, sW))
        return nat.bed_of_nails_forward(x, self.p)

    def backward(self, g):
        return self.backend.native.bed_of_nails_backward(g, self.p) if self.needs_input_grad[0] else None


def bed_of_nails_scale(scale_factor, op="upsample_bed_of_nails"):
    """An int or a pair of ints >= 1 -> (sH, sW); TypeError for non-integers, ValueError for < 1."""
    values = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if len(values) != 2 or not all(_is_int(v) for v in values):
        raise TypeError(f"{op}: scale_factor must be a positive int or a pair (sH, sW) of positive ints, got "
                        f"{scale_factor!r}: each value lands in an s x s block, so s must be an integer")
    return as_int(values[0], op, "scale_factor"), as_int(values[1], op, "scale_factor")


def upsample_bed_of_nails(input, scale_factor):
    """Bed-of-nails upsample: (N, C, H, W) or (C, H, W) -> (..., H*sH, W*sW), each value at the
    top-left of its sH x sW block and zeros elsewhere.  scale_factor: int or (sH, sW)."""
    op = "upsample_bed_of_nails"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    sH, sW = bed_of_nails_scale(scale_factor, op)
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {input.shape}")
    require_float(op, input)
    with allocation_errors(op, input.shape):
        if input.ndim == 3:
            return BedOfNails2d.apply(input.unsqueeze(0), sH=sH, sW=sW).squeeze(0)
        return BedOfNails2d.apply(input, sH=sH, sW=sW)
