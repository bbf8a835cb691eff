"""Per-batch image transforms in numpy (torchvision.transforms names and arguments).

Each transform maps a batch (N, C, H, W) numpy array to a new array; random ones draw one choice
per image.  Random draws come from ``generator`` when given (a numpy Generator, or an int seed for
a private one), else from pycnn's CPU generator at call time, so ``pycnn.manual_seed`` makes them
reproducible.  ``DataLoader(dataset, transform=Compose([...]))`` applies them to each batch's
inputs.

    Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToFloat(),
             Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261))])
"""
from __future__ import annotations

import numpy as np

__all__ = ["Compose", "ToFloat", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Pad", "Resize",
           "Grayscale"]


def _check_batch(op, x, floating=False):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: expected a numpy array batch (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a batch (N, C, H, W), got shape {x.shape}")
    if floating and x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating batch, got {x.dtype}; put ToFloat() before it")


def _pair(op, name, v):
    v = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(v) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in v):
        raise ValueError(f"{op}: {name} must be a positive int or (h, w), got {v}")
    return int(v[0]), int(v[1])


def _padding(op, padding):
    """torchvision's padding: p (all sides), (left/right, top/bottom) or (left, top, right, bottom)."""
    p = (padding,) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(p) not in (1, 2, 4) or any(not isinstance(s, (int, np.integer)) or s < 0 for s in p):
        raise ValueError(f"{op}: padding must be a non-negative int or a 2- or 4-tuple of them, got {padding}")
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    return tuple(int(s) for s in p)  # left, top, right, bottom


def _like(y, dtype):
    """y (floating) in the batch's dtype: integer pixels are rounded and clipped back."""
    if dtype.kind == "f":
        return np.ascontiguousarray(y, dtype=dtype)
    if dtype.kind == "b":
        return y >= 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(y), info.min, info.max).astype(dtype)


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _pad(x, ltrb, fill, padding_mode):
    left, top, right, bottom = ltrb
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    if padding_mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=fill)
    return np.pad(x, width, mode=_PAD_MODES[padding_mode])


class _Random:
    """Holds the generator of a random transform."""

    def __init__(self, generator):
        if generator is None or isinstance(generator, np.random.Generator):
            self.generator = generator
        elif isinstance(generator, (int, np.integer)):
            self.generator = np.random.default_rng(int(generator))
        else:
            raise TypeError(f"{type(self).__name__}: generator must be None, an int seed or a "
                            f"numpy.random.Generator, got {type(generator).__name__}")

    def _rng(self):
        if self.generator is not None:
            return self.generator
        from .creation import default_generator
        return default_generator("cpu")


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


class ToFloat:
    """Integer pixels -> floats in [0, 1] (divided by the type's max, 255 for uint8, as
    torchvision's ConvertImageDtype); floating batches are only cast."""

    def __init__(self, dtype="float32"):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"ToFloat: dtype must be floating, got {self.dtype}")

    def __call__(self, x):
        _check_batch("ToFloat", x)
        if x.dtype.kind in "ui":
            return (x.astype(self.dtype) / self.dtype.type(np.iinfo(x.dtype).max)).astype(self.dtype)
        if x.dtype.kind == "b":
            return x.astype(self.dtype)
        return x.astype(self.dtype, copy=False)

    def __repr__(self):
        return f"ToFloat(dtype={self.dtype.name})"


class Normalize:
    """x = (x - mean[c]) / std[c] per channel."""

    def __init__(self, mean, std):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1 or self.mean.shape != self.std.shape:
            raise ValueError(f"Normalize: mean and std must be sequences of the same length, got "
                             f"{self.mean.shape} and {self.std.shape}")
        if not (self.std > 0).all() or not np.isfinite(self.mean).all():
            raise ValueError(f"Normalize: std must be positive and mean finite, got mean {self.mean.tolist()} "
                             f"std {self.std.tolist()}")

    def __call__(self, x):
        _check_batch("Normalize", x, floating=True)
        if self.mean.size not in (1, x.shape[1]):
            raise ValueError(f"Normalize: {self.mean.size} means for a batch of {x.shape[1]} channels "
                             f"(shape {x.shape})")
        mean = self.mean.astype(x.dtype)[None, :, None, None]
        std = self.std.astype(x.dtype)[None, :, None, None]
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Pad:
    """Pads H and W: padding as torchvision (int, (lr, tb) or (l, t, r, b)); padding_mode
    'constant' (with fill), 'edge', 'reflect' or 'symmetric'."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _padding("Pad", padding)
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, x):
        _check_batch("Pad", x)
        return _pad(x, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r})"


class RandomCrop(_Random):
    """Pads (as Pad) then crops a random size[0] x size[1] window, one offset per image."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant",
                 generator=None):
        super().__init__(generator)
        self.size = _pair("RandomCrop", "size", size)
        self.padding = None if padding is None else _padding("RandomCrop", padding)
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, x):
        _check_batch("RandomCrop", x)
        if self.padding is not None:
            x = _pad(x, self.padding, self.fill, self.padding_mode)
        h, w = self.size
        if self.pad_if_needed and (x.shape[2] < h or x.shape[3] < w):
            dh, dw = max(h - x.shape[2], 0), max(w - x.shape[3], 0)
            x = _pad(x, (dw, dh, dw, dh), self.fill, self.padding_mode)  # both sides, as torchvision
        n, _, H, W = x.shape
        if H < h or W < w:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the (padded) images {(H, W)}")
        rng = self._rng()
        top = rng.integers(0, H - h + 1, size=n)
        left = rng.integers(0, W - w + 1, size=n)
        rows = top[:, None] + np.arange(h)  # (n, h)
        cols = left[:, None] + np.arange(w)  # (n, w)
        # x[i, :, rows[i], :][:, :, cols[i]] for every i at once: (n, h, w, C) -> (n, C, h, w)
        out = x[np.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_Random):
    """Mirrors each image left-right with probability p."""

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x):
        _check_batch("RandomHorizontalFlip", x)
        flip = self._rng().random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip, :, :, ::-1]
        return out

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Resize:
    """Bilinear resize to size (h, w) with half-pixel centres (align_corners=False, no antialiasing),
    as F.interpolate(mode='bilinear'); integer batches are resized in float32 and rounded back."""

    def __init__(self, size):
        self.size = _pair("Resize", "size", size)

    def __call__(self, x):
        _check_batch("Resize", x)
        from .datasets import _linear_resize_matrix
        h, w = self.size
        if x.shape[2:] == (h, w):
            return x
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        mh = _linear_resize_matrix(x.shape[2], h).astype(dtype)
        mw = _linear_resize_matrix(x.shape[3], w).astype(dtype)
        return _like(np.einsum("ij,ncjk,lk->ncil", mh, x.astype(dtype, copy=False), mw), x.dtype)

    def __repr__(self):
        return f"Resize(size={self.size})"


class Grayscale:
    """To num_output_channels channels: 1-channel batches are repeated, 3-channel (RGB) ones become
    luma 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2, as torchvision), then repeated."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, x):
        _check_batch("Grayscale", x)
        if x.shape[1] == 3:
            dtype = x.dtype if x.dtype.kind == "f" else np.float32
            w = np.array([0.299, 0.587, 0.114], dtype=dtype)
            x = _like(np.einsum("nchw,c->nhw", x.astype(dtype, copy=False), w)[:, None], x.dtype)
        elif x.shape[1] != 1:
            raise ValueError(f"Grayscale: expected 1 or 3 channels, got shape {x.shape}")
        return np.repeat(x, self.num_output_channels, axis=1) if self.num_output_channels > 1 else x

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"
