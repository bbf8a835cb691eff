"""numpy float64 references for the conv family (independent of pycnn's code).

conv2d is a cross-correlation over an explicitly zero-padded input, summed tap by tap:
    y[n, co, i, j] = b[co] + sum_{ci in group, kh, kw} w[co, ci, kh, kw] * xpad[n, ci, i*s + kh*d, j*s + kw*d]
conv_transpose2d is written as its own definition, a scatter: every input element x[n, ci, i, j]
adds x * w[ci, co, kh, kw] at (i*s + kh*d, j*s + kw*d) of a canvas that is then cropped by
`padding` on each side (output_padding extends the bottom/right).
padding for conv2d is (ph, pw) or (top, bottom, left, right).  1-D ops are the 2-D ones with H = 1.
"""
import numpy as np


def _pads(padding):
    padding = tuple(padding)
    return padding if len(padding) == 4 else (padding[0], padding[0], padding[1], padding[1])


def _out(L, k, s, pb, pe, d):
    return (L + pb + pe - d * (k - 1) - 1) // s + 1


def _tap(a, kh, kw, s, d, Ho, Wo):
    """a[..., kh*dh + s_h*i, kw*dw + s_w*j] for i < Ho, j < Wo (a view)."""
    h0, w0 = kh * d[0], kw * d[1]
    return a[:, :, h0:h0 + s[0] * (Ho - 1) + 1:s[0], w0:w0 + s[1] * (Wo - 1) + 1:s[1]]


def conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    N, C, H, W = x.shape
    Co, Cg, kH, kW = w.shape
    pt, pb, pl, pr = _pads(padding)
    Ho, Wo = _out(H, kH, stride[0], pt, pb, dilation[0]), _out(W, kW, stride[1], pl, pr, dilation[1])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((N, Co, Ho, Wo))
    og = Co // groups
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * og:(g + 1) * og]
        for kh in range(kH):
            for kw in range(kW):
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", _tap(xg, kh, kw, stride, dilation, Ho, Wo),
                                                       wg[:, :, kh, kw])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv2d_backward(dy, x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """(dx, dw, db) of sum(conv2d(x, w, b) * dy)."""
    dy, x, w = (np.asarray(a, np.float64) for a in (dy, x, w))
    N, C, H, W = x.shape
    Co, Cg, kH, kW = w.shape
    pt, pb, pl, pr = _pads(padding)
    Ho, Wo = dy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    og = Co // groups
    for g in range(groups):
        xg, dxg = xp[:, g * Cg:(g + 1) * Cg], dxp[:, g * Cg:(g + 1) * Cg]
        dyg = dy[:, g * og:(g + 1) * og]
        for kh in range(kH):
            for kw in range(kW):
                _tap(dxg, kh, kw, stride, dilation, Ho, Wo)[...] += np.einsum(
                    "nohw,oc->nchw", dyg, w[g * og:(g + 1) * og, :, kh, kw])
                dw[g * og:(g + 1) * og, :, kh, kw] = np.einsum(
                    "nohw,nchw->oc", dyg, _tap(xg, kh, kw, stride, dilation, Ho, Wo))
    dx = dxp[:, :, pt:pt + H, pl:pl + W]
    return dx, dw, dy.sum(axis=(0, 2, 3))


def _canvas_size(L, k, s, d, op):
    return (L - 1) * s + d * (k - 1) + 1 + op


def conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                     dilation=(1, 1)):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    N, Ci, H, W = x.shape
    _, og, kH, kW = w.shape
    ig = Ci // groups
    Hc = _canvas_size(H, kH, stride[0], dilation[0], output_padding[0])
    Wc = _canvas_size(W, kW, stride[1], dilation[1], output_padding[1])
    canvas = np.zeros((N, og * groups, Hc, Wc))
    for g in range(groups):
        xg, wg = x[:, g * ig:(g + 1) * ig], w[g * ig:(g + 1) * ig]
        cg = canvas[:, g * og:(g + 1) * og]
        for kh in range(kH):
            for kw in range(kW):
                _tap(cg, kh, kw, stride, dilation, H, W)[...] += np.einsum("nchw,co->nohw", xg, wg[:, :, kh, kw])
    ph, pw = padding
    Ho = (H - 1) * stride[0] - 2 * ph + dilation[0] * (kH - 1) + output_padding[0] + 1
    Wo = (W - 1) * stride[1] - 2 * pw + dilation[1] * (kW - 1) + output_padding[1] + 1
    y = canvas[:, :, ph:ph + Ho, pw:pw + Wo].copy()
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv_transpose2d_backward(dy, x, w, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                              dilation=(1, 1)):
    """(dx, dw, db) of sum(conv_transpose2d(x, w, b) * dy): the scatter read backwards."""
    dy, x, w = (np.asarray(a, np.float64) for a in (dy, x, w))
    N, Ci, H, W = x.shape
    _, og, kH, kW = w.shape
    ig = Ci // groups
    Hc = _canvas_size(H, kH, stride[0], dilation[0], output_padding[0])
    Wc = _canvas_size(W, kW, stride[1], dilation[1], output_padding[1])
    ph, pw = padding
    canvas = np.zeros((N, og * groups, Hc, Wc))
    canvas[:, :, ph:ph + dy.shape[2], pw:pw + dy.shape[3]] = dy
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for g in range(groups):
        xg, wg = x[:, g * ig:(g + 1) * ig], w[g * ig:(g + 1) * ig]
        cg = canvas[:, g * og:(g + 1) * og]
        for kh in range(kH):
            for kw in range(kW):
                tap = _tap(cg, kh, kw, stride, dilation, H, W)
                dx[:, g * ig:(g + 1) * ig] += np.einsum("nohw,co->nchw", tap, wg[:, :, kh, kw])
                dw[g * ig:(g + 1) * ig, :, kh, kw] = np.einsum("nohw,nchw->co", tap, xg)
    return dx, dw, dy.sum(axis=(0, 2, 3))


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """padding: int or (begin, end)."""
    pb, pe = (padding, padding) if np.isscalar(padding) else padding
    y = conv2d(np.asarray(x)[:, :, None], np.asarray(w)[:, :, None], b, (1, stride), (0, 0, pb, pe),
               (1, dilation), groups)
    return y[:, :, 0]


def conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    y = conv_transpose2d(np.asarray(x)[:, :, None], np.asarray(w)[:, :, None], b, (1, stride), (0, padding),
                         (0, output_padding), groups, (1, dilation))
    return y[:, :, 0]
