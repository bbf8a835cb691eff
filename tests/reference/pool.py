"""numpy float64 references for the pool family (independent of pycnn's code).

Every op works on (N, C, H, W) arrays and loops over output positions, vectorized over
(N, C).  The max of a window is np.argmax over the list of its in-input taps in row-major
order (so the first maximum wins on ties and a NaN counts as the max); indices are flat
h*W + w positions in the plane.  avg windows follow PyTorch's rule: [s*o - p, min(s*o - p + k,
L + p)) sets the count_include_pad divisor before clipping to the input.  Adaptive windows
are [floor(o*L/out), ceil((o+1)*L/out)).  Backward passes are written as scatters.
"""
import math

import numpy as np


def out_size(L, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    out = (math.ceil if ceil_mode else math.floor)((L + 2 * p - eff) / s) + 1
    if ceil_mode and (out - 1) * s >= L + p:
        out -= 1
    return out


def _taps(o, L, k, s, p, d):
    return [o * s - p + i * d for i in range(k) if 0 <= o * s - p + i * d < L]


def _max_windows(x, rows, cols):
    """y, idx for windows given as per-output lists of row taps and column taps."""
    N, C, H, W = x.shape
    y = np.empty((N, C, len(rows), len(cols)))
    idx = np.empty((N, C, len(rows), len(cols)), np.int64)
    for oh, rt in enumerate(rows):
        for ow, ct in enumerate(cols):
            pos = np.array([h * W + w for h in rt for w in ct])
            vals = x.reshape(N, C, H * W)[:, :, pos]
            k = np.argmax(vals, axis=2)
            y[:, :, oh, ow] = np.take_along_axis(vals, k[..., None], 2)[..., 0]
            idx[:, :, oh, ow] = pos[k]
    return y, idx


def max_pool2d(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    x = np.asarray(x, np.float64)
    H, W = x.shape[2:]
    Ho = out_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    Wo = out_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    rows = [_taps(o, H, kernel[0], stride[0], padding[0], dilation[0]) for o in range(Ho)]
    cols = [_taps(o, W, kernel[1], stride[1], padding[1], dilation[1]) for o in range(Wo)]
    return _max_windows(x, rows, cols)


def scatter_add(dy, idx, in_shape):
    """Backward of max_pool2d / adaptive_max_pool2d: dx.flat[idx] += dy per plane."""
    N, C, H, W = in_shape
    dx = np.zeros((N * C, H * W))
    dyf, idf = np.asarray(dy, np.float64).reshape(N * C, -1), idx.reshape(N * C, -1)
    for pl in range(N * C):
        np.add.at(dx[pl], idf[pl], dyf[pl])
    return dx.reshape(in_shape)


def _avg_windows(L, L_out, k, s, p, count_include_pad):
    """Per output: (begin, end, divisor share) along one dimension."""
    out = []
    for o in range(L_out):
        start = o * s - p
        stop = min(start + k, L + p)
        b, e = max(start, 0), min(stop, L)
        out.append((b, e, (stop - start) if count_include_pad else (e - b)))
    return out


def avg_pool2d(x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    rows = _avg_windows(H, out_size(H, kernel[0], stride[0], padding[0], 1, ceil_mode), kernel[0], stride[0],
                        padding[0], count_include_pad)
    cols = _avg_windows(W, out_size(W, kernel[1], stride[1], padding[1], 1, ceil_mode), kernel[1], stride[1],
                        padding[1], count_include_pad)
    y = np.zeros((N, C, len(rows), len(cols)))
    for oh, (h0, h1, ch) in enumerate(rows):
        for ow, (w0, w1, cw) in enumerate(cols):
            div = divisor_override if divisor_override else ch * cw
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div
    return y


def avg_pool2d_backward(dy, in_shape, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    dy = np.asarray(dy, np.float64)
    H, W = in_shape[2:]
    rows = _avg_windows(H, dy.shape[2], kernel[0], stride[0], padding[0], count_include_pad)
    cols = _avg_windows(W, dy.shape[3], kernel[1], stride[1], padding[1], count_include_pad)
    dx = np.zeros(in_shape)
    for oh, (h0, h1, ch) in enumerate(rows):
        for ow, (w0, w1, cw) in enumerate(cols):
            div = divisor_override if divisor_override else ch * cw
            dx[:, :, h0:h1, w0:w1] += (dy[:, :, oh, ow] / div)[:, :, None, None]
    return dx


def _adaptive(L, out):
    return [(o * L // out, -(-(o + 1) * L // out)) for o in range(out)]


def adaptive_avg_pool2d(x, output_size):
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    y = np.zeros((N, C) + tuple(output_size))
    for oh, (h0, h1) in enumerate(_adaptive(H, output_size[0])):
        for ow, (w0, w1) in enumerate(_adaptive(W, output_size[1])):
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def adaptive_avg_pool2d_backward(dy, in_shape):
    dy = np.asarray(dy, np.float64)
    H, W = in_shape[2:]
    dx = np.zeros(in_shape)
    for oh, (h0, h1) in enumerate(_adaptive(H, dy.shape[2])):
        for ow, (w0, w1) in enumerate(_adaptive(W, dy.shape[3])):
            dx[:, :, h0:h1, w0:w1] += (dy[:, :, oh, ow] / ((h1 - h0) * (w1 - w0)))[:, :, None, None]
    return dx


def adaptive_max_pool2d(x, output_size):
    x = np.asarray(x, np.float64)
    H, W = x.shape[2:]
    rows = [list(range(a, b)) for a, b in _adaptive(H, output_size[0])]
    cols = [list(range(a, b)) for a, b in _adaptive(W, output_size[1])]
    return _max_windows(x, rows, cols)


def max_unpool2d(x, idx, output_size):
    """y (N, C, *output_size) zero except y.flat[idx] = x per plane (the last write wins)."""
    x = np.asarray(x, np.float64)
    N, C = x.shape[:2]
    y = np.zeros((N * C, output_size[0] * output_size[1]))
    xf, idf = x.reshape(N * C, -1), idx.reshape(N * C, -1)
    for pl in range(N * C):
        for i in range(xf.shape[1]):
            y[pl, idf[pl, i]] = xf[pl, i]
    return y.reshape((N, C) + tuple(output_size))


def max_unpool2d_backward(dy, idx):
    """dx = dy gathered at idx per plane."""
    dy = np.asarray(dy, np.float64)
    N, C = idx.shape[:2]
    return np.take_along_axis(dy.reshape(N * C, -1), idx.reshape(N * C, -1), 1).reshape(idx.shape)
