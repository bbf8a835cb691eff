"""The rest of the conv family: non-constant padding (native, csrc/pad.h), the true
convolution ``convolve2d`` and the unrolled-matrix view ``conv2d_matrix``.

conv2d vs convolve2d
--------------------
``conv2d`` (as in PyTorch and every CNN library) is a *cross-correlation*:

    conv2d(x, w)[o, i, j]    = sum_{c,m,n} x[c, i*s - p + m*d, j*s - p + n*d] * w[o, c, m, n]

``convolve2d`` is the convolution of signal processing, the kernel flipped in both
spatial dims:

    convolve2d(x, k)[o, i, j] = sum_{c,m,n} x[c, i' - m*d, j' - n*d] * k[o, c, m, n],
    i' = i*s - p + d*(kH-1),  j' = j*s - p + d*(kW-1)

so ``convolve2d(x, k) == conv2d(x, k.flip(-1, -2))``, and the two agree exactly when
the kernel is symmetric under a 180-degree rotation.  With ``padding=0`` the output
is the 'valid' part of the full convolution; with ``padding = d*(k-1)`` (and stride 1)
it is the 'full' convolution (``np.convolve`` / ``scipy.signal.convolve2d`` modes).
Convolution is commutative and associative (conv(conv(x, a), b) == conv(x, conv(a, b))
in 'full' mode); cross-correlation is neither, which is why the learned-filter
libraries do not care (the net simply learns the flipped kernel) but filter maths does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ops import require_float
from ..tensor import Function, Tensor
from .. import _C
from .._args import allocation_errors, as_int, conv_padding, ntuple
from ._conv import conv2d

__all__ = ["pad_mode", "convolve2d", "conv2d_matrix", "CSRMatrix"]

_PAD_MODES = ("reflect", "replicate", "circular")


# ----------------------------------------------------------------------------- padding
class PadMode(Function):
    """reflect / replicate / circular padding of the last one, two or three dims (csrc/pad.h)."""

    saves_inputs = False

    def forward(self, x, pad, mode):
        # The native kernel pads (planes, 1, D, H, W) by (front, back, top, bottom, left, right);
        # the dims a shorter pad leaves alone are size-1 stand-ins.
        nat = self.backend.native
        self.x_shape, k = x.shape, len(pad) // 2
        spatial = (1,) * (3 - k) + x.shape[-k:]
        padding = (0, 0) * (3 - k) + tuple(v for i in reversed(range(k)) for v in pad[2 * i:2 * i + 2])
        self.p = nat.pad_params("pad", (math.prod(x.shape[:-k]), 1) + spatial, padding, mode)
        y = nat.pad_forward(x.reshape(self.p.in_shape), self.p)
        return y.reshape(x.shape[:-k] + y.shape[5 - k:])

    def backward(self, g):
        if not self.needs_input_grad[0]:
            return None
        dx = self.backend.native.pad_backward(g.reshape(self.p.out_shape), self.p)
        return dx.reshape(self.x_shape)


def pad_mode(input, pad, mode):
    """torch.nn.functional.pad for mode 'reflect' | 'replicate' | 'circular'.

    pad = (left, right) pads the last dim of a (C, L) or (N, C, L) input; (left, right, top,
    bottom) the last two dims of a (C, H, W) or (N, C, H, W) input; (left, right, top, bottom,
    front, back) the last three of a (C, D, H, W) or (N, C, D, H, W) input.  PyTorch's limits:
    reflect needs each pad < the size of its dim, circular pad <= size.  A negative pad crops, as
    in torch: reflect and replicate pad and then crop, circular crops and then wraps.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    pad = tuple(as_int(p, "pad", "pad") for p in pad)
    allowed = {2: (2, 3), 4: (3, 4), 6: (4, 5)}
    if len(pad) not in allowed or input.ndim not in allowed[len(pad)]:
        raise ValueError(f"pad: {mode} padding takes pad of length 2 for a 2-D/3-D input, length 4 for a 3-D/4-D "
                         f"input or length 6 for a 4-D/5-D input, got pad {pad} for input shape {input.shape}")
    require_float("pad", input)
    with allocation_errors("pad", input.shape):
        return PadMode.apply(input, pad=pad, mode=mode)


# ----------------------------------------------------------------------------- convolve2d
class Flip2d(Function):
    """Reverses the last two dims; its own adjoint, so backward flips the gradient."""

    saves_inputs = False

    def forward(self, w):
        return self.xp.ascontiguousarray(w[..., ::-1, ::-1])

    def backward(self, g):
        return self.xp.ascontiguousarray(g[..., ::-1, ::-1]) if self.needs_input_grad[0] else None


def convolve2d(input, kernel, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The true 2-D convolution: conv2d with the kernel flipped in both spatial dims.

    out[n, o, i, j] = bias[o] + sum_{c,m,n'} x[n, c, i' - m*d, j' - n'*d] * kernel[o, c, m, n'],
    with i' = i*s - p + d*(kH-1) (and likewise j'); arguments, shapes and padding as
    ``conv2d`` (kernel is (C_out, C_in/groups, kH, kW)).  ``padding=0`` gives the
    'valid' convolution, ``padding=d*(k-1)`` the 'full' one.  Differentiable in
    input, kernel and bias (the gradient passes back through the flip).
    """
    op = "convolve2d"
    for name, t in (("input", input), ("kernel", kernel)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    # parsed here so that a bad argument names convolve2d, not the conv2d it runs
    stride, dilation = ntuple(stride, 2, op, "stride"), ntuple(dilation, 2, op, "dilation")
    padding = padding if isinstance(padding, str) else ntuple(padding, 2, op, "padding")
    groups = as_int(groups, op, "groups")
    require_float("convolve2d", input, kernel, bias)
    if kernel.ndim != 4:
        raise ValueError(f"convolve2d: kernel must be 4-D (C_out, C_in/groups, kH, kW), got shape {kernel.shape}")
    if input.ndim not in (3, 4):
        raise ValueError(f"convolve2d: input must be (N, C, H, W) or (C, H, W), got shape {input.shape}")
    return conv2d(input, Flip2d.apply(kernel), bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------- conv2d_matrix
@dataclass
class CSRMatrix:
    """A compressed-sparse-row matrix (no scipy): row r holds the entries
    data[indptr[r]:indptr[r+1]] at columns indices[indptr[r]:indptr[r+1]] (increasing)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple

    @property
    def nnz(self) -> int:
        return int(self.data.size)

    @property
    def density(self) -> float:
        """Stored entries / all entries (1 - sparsity)."""
        return self.nnz / max(1, self.shape[0] * self.shape[1])

    @property
    def dtype(self):
        return self.data.dtype

    def _row_ids(self):
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def _product(self, v, transpose):
        # y = M v gathers v at the columns and sums per row; M^T v gathers at rows, sums per column.
        name, (n_out, n_in) = ("rmatvec", self.shape[::-1]) if transpose else ("matvec", self.shape)
        v = np.asarray(v)
        if v.shape[:1] != (n_in,) or v.ndim > 2:
            raise ValueError(f"CSRMatrix.{name}: got shape {v.shape}, expected ({n_in},) or ({n_in}, k) "
                             f"for a matrix of shape {self.shape}")
        rows = self._row_ids()
        gather, scatter = (rows, self.indices) if transpose else (self.indices, rows)
        cols = [v] if v.ndim == 1 else [v[:, j] for j in range(v.shape[1])]
        out = [np.bincount(scatter, weights=self.data * c[gather], minlength=n_out) for c in cols]
        return (out[0] if v.ndim == 1 else np.stack(out, axis=1)).astype(np.result_type(self.data, v), copy=False)

    def matvec(self, x):
        """M @ x for x of shape (cols,) or (cols, k)."""
        return self._product(x, transpose=False)

    def rmatvec(self, y):
        """M^T @ y for y of shape (rows,) or (rows, k), without forming M^T."""
        return self._product(y, transpose=True)

    def __matmul__(self, x):
        return self.matvec(x)

    @property
    def T(self) -> "CSRMatrix":
        """The transpose, as a CSRMatrix (a stable sort by column keeps rows increasing)."""
        order = np.argsort(self.indices, kind="stable")
        indptr = np.zeros(self.shape[1] + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.shape[1]), out=indptr[1:])
        return CSRMatrix(indptr, self._row_ids()[order], self.data[order], (self.shape[1], self.shape[0]))

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[self._row_ids(), self.indices] = self.data
        return out

    def row(self, r):
        """(columns, values) of row r."""
        s = slice(self.indptr[r], self.indptr[r + 1])
        return self.indices[s], self.data[s]

    def __repr__(self):
        return (f"CSRMatrix(shape={self.shape}, nnz={self.nnz}, density={self.density:.4g}, "
                f"dtype={self.data.dtype})")


DENSE_LIMIT = 1 << 20  # conv2d_matrix(sparse=None) returns a dense array up to this many entries


def conv2d_matrix(input_shape, weight, stride=1, padding=0, dilation=1, sparse=None, *, groups=1):
    """The unrolled matrix M of conv2d on one sample: conv2d(x)[n].ravel() == M @ x[n].ravel().

    Rows index the output flattened as (C_out, H_out, W_out), columns the input as
    (C_in, H, W); the bias is not part of M (it is affine, M is the linear part).
    M^T is the matrix of conv_transpose2d with the same weight and arguments, so
    conv_transpose2d(y)[n].ravel() == M.T @ y[n].ravel().

    input_shape: (C_in, H, W) or (N, C_in, H, W) (N is ignored); weight: a Tensor or
    array (C_out, C_in/groups, kH, kW); padding: int, pair, 'valid' or 'same'.
    sparse: None picks a dense numpy array when rows*cols <= DENSE_LIMIT and a
    CSRMatrix otherwise; True/False force one.  Every window tap that lands inside
    the image is a stored entry, so nnz = C_out * C_in/groups * A_h * A_w where A_h
    counts the (output row, kernel row) pairs that hit the image (A_h = H_out*kH
    without padding).
    """
    op = "conv2d_matrix"
    w = weight.detach().numpy() if isinstance(weight, Tensor) else np.asarray(weight)
    if w.ndim != 4 or w.dtype.kind != "f":
        raise ValueError(f"{op}: weight must be a 4-D float (C_out, C_in/groups, kH, kW) array, got shape "
                         f"{w.shape} and dtype {w.dtype}")
    shape = tuple(as_int(s, op, "input_shape") for s in input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"{op}: input_shape must be (C_in, H, W) or (N, C_in, H, W), got {input_shape}")
    C_in, H, W = shape[-3:]
    C_out, Cg, KH, KW = w.shape
    stride, dilation = ntuple(stride, 2, op, "stride"), ntuple(dilation, 2, op, "dilation")
    pads = conv_padding(op, padding, (KH, KW), stride, dilation)
    # the shapes, groups and output size are validated by conv2d's own params
    p = _C.conv2d_params(op, 2, (1, C_in, H, W), w.shape, None, stride, (*pads[0], *pads[1]), dilation,
                         as_int(groups, op, "groups"))
    with allocation_errors(op, shape):
        return _conv2d_matrix(w, shape, stride, dilation, pads, p.groups, p.H_out, p.W_out, sparse)


def _conv2d_matrix(w, shape, stride, dilation, pads, groups, Ho, Wo, sparse):
    """conv2d_matrix on its parsed and validated arguments."""
    (C_in, H, W), (C_out, Cg, KH, KW) = shape[-3:], w.shape
    (sh, sw), (dh, dw) = stride, dilation
    # Input coordinate of every (output position, kernel tap) pair, per spatial dim.
    ih = np.arange(Ho)[:, None] * sh - pads[0][0] + np.arange(KH)[None, :] * dh  # (Ho, KH)
    iw = np.arange(Wo)[:, None] * sw - pads[1][0] + np.arange(KW)[None, :] * dw  # (Wo, KW)
    cin = (np.arange(C_out) // (C_out // groups))[:, None] * Cg + np.arange(Cg)[None, :]  # (C_out, Cg)
    # Full index space (C_out, Ho, Wo, Cg, KH, KW): one row per output, taps in column order.
    full = (C_out, Ho, Wo, Cg, KH, KW)
    cols = (cin[:, None, None, :, None, None] * (H * W) + ih[None, :, None, None, :, None] * W
            + iw[None, None, :, None, None, :])
    inside = (((ih >= 0) & (ih < H))[None, :, None, None, :, None]
              & ((iw >= 0) & (iw < W))[None, None, :, None, None, :])
    inside = np.broadcast_to(inside, full).reshape(C_out * Ho * Wo, -1)
    cols = np.broadcast_to(cols, full).reshape(inside.shape)[inside]
    data = np.broadcast_to(w[:, None, None], full).reshape(inside.shape)[inside]
    indptr = np.zeros(inside.shape[0] + 1, dtype=np.int64)
    np.cumsum(inside.sum(axis=1), out=indptr[1:])
    M = CSRMatrix(indptr, cols.astype(np.int64), np.ascontiguousarray(data), (C_out * Ho * Wo, C_in * H * W))
    if sparse is None:
        sparse = M.shape[0] * M.shape[1] > DENSE_LIMIT
    return M if sparse else M.toarray()
