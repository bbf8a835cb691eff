"""numpy float64 reference for interpolate (torch.nn.functional.interpolate semantics) and the
bed-of-nails upsample, independent of pycnn.

Each spatial axis is a dense (out, in) interpolation matrix M (one-hot rows for the nearest
modes, two weights per row for linear, four for bicubic), so forward is y = M_h x M_w^T per plane
(and M_d along the depth of 5-D input) and the backward is its transpose, dx = M_h^T dy M_w.
"""
import numpy as np


def _nearest_source(n_in, n_out, scale_factor, exact):
    """torch's nearest_idx / nearest_exact_idx: float32 scale, floor, clamp to n_in - 1."""
    d = np.arange(n_out)
    if not exact and n_out == n_in:
        return d
    if not exact and n_out == 2 * n_in:
        return d // 2
    s = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
    src = ((d + 0.5) * np.float64(s)).astype(np.float32) if exact else d.astype(np.float32) * s
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1)


def axis_matrix(n_in, n_out, mode, align_corners=False, scale_factor=None):
    """The (n_out, n_in) matrix that resamples one axis."""
    M = np.zeros((n_out, n_in))
    if mode in ("nearest", "nearest-exact"):
        M[np.arange(n_out), _nearest_source(n_in, n_out, scale_factor, mode == "nearest-exact")] = 1.0
        return M
    if mode == "bicubic":
        return _cubic_matrix(n_in, n_out, align_corners, scale_factor)
    if n_out == n_in:
        return np.eye(n_in)  # torch copies an unchanged size whatever the scale_factor
    d = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = d * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum((d + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = np.clip(src - i0, 0.0, 1.0)
    np.add.at(M, (np.arange(n_out), i0), 1.0 - w1)
    np.add.at(M, (np.arange(n_out), i1), w1)
    return M


def keys_kernel(x, A=-0.75):
    """Keys' cubic convolution kernel (torch's bicubic, A = -0.75) at distance x."""
    x = np.abs(x)
    near = (A + 2) * x**3 - (A + 3) * x**2 + 1
    far = A * x**3 - 5 * A * x**2 + 8 * A * x - 4 * A
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _cubic_matrix(n_in, n_out, align_corners, scale_factor):
    """Bicubic along one axis: the source coordinate as linear's but unclamped, the four taps
    around it weighted by the kernel at their distance, each tap clamped to the edge."""
    M = np.zeros((n_out, n_in))
    d = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = d * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = (d + 0.5) * (1.0 / scale_factor if scale_factor else n_in / n_out) - 0.5
    f = np.floor(src)
    for k in range(-1, 3):
        np.add.at(M, (np.arange(n_out), np.clip(f + k, 0, n_in - 1).astype(np.int64)), keys_kernel(src - (f + k)))
    return M


def _matrices(in_hw, out_hw, mode, align_corners, scales):
    scales = scales or (None,) * len(in_hw)
    return [axis_matrix(i, o, mode, align_corners, s) for i, o, s in zip(in_hw, out_hw, scales)]


def interpolate_forward(x, out_size, mode, align_corners=False, scales=None):
    """x is (N, C, L), (N, C, H, W) or (N, C, D, H, W); out_size the output's spatial sizes;
    scales torch's scale_factor per axis (None: in/out)."""
    x = np.asarray(x, np.float64)
    Ms = _matrices(x.shape[2:], out_size, mode, align_corners, scales)
    if x.ndim == 3:
        return np.einsum("ol,ncl->nco", Ms[0], x)
    if x.ndim == 5:
        return np.einsum("rd,ph,ncdhw,qw->ncrpq", Ms[0], Ms[1], x, Ms[2])
    return np.einsum("ph,nchw,qw->ncpq", Ms[0], x, Ms[1])


def interpolate_backward(grad_out, in_size, mode, align_corners=False, scales=None):
    g = np.asarray(grad_out, np.float64)
    Ms = _matrices(in_size, g.shape[2:], mode, align_corners, scales)
    if g.ndim == 3:
        return np.einsum("ol,nco->ncl", Ms[0], g)
    if g.ndim == 5:
        return np.einsum("rd,ph,ncrpq,qw->ncdhw", Ms[0], Ms[1], g, Ms[2])
    return np.einsum("ph,ncpq,qw->nchw", Ms[0], g, Ms[1])


def bed_of_nails_forward(x, sH, sW):
    x = np.asarray(x, np.float64)
    y = np.zeros(x.shape[:-2] + (x.shape[-2] * sH, x.shape[-1] * sW))
    y[..., ::sH, ::sW] = x
    return y


def bed_of_nails_backward(grad_out, sH, sW):
    return np.asarray(grad_out, np.float64)[..., ::sH, ::sW].copy()
