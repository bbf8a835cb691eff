"""numpy float64 references for the rest of the conv family: cross-correlation and true
convolution as loops straight from their formulas, the unrolled conv matrix built entry by
entry, and 2-D correlation of single images.  Independent of pycnn's code."""
import numpy as np


def correlate2d_nchw(x, w, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """conv2d: y[n,o,i,j] = b[o] + sum_{c,m,q} x[n, g*Cg + c, i*s - p + m*d, j*s - p + q*d] w[o,c,m,q]."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = stride, dilation, padding
    Ho = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, Ho, Wo))
    for o in range(O):
        g = o // (O // groups)
        for c in range(Cg):
            for m in range(KH):
                for q in range(KW):
                    for i in range(Ho):
                        r = i * sh - pt + m * dh
                        if not 0 <= r < H:
                            continue
                        for j in range(Wo):
                            col = j * sw - pl + q * dw
                            if 0 <= col < W:
                                y[:, o, i, j] += x[:, g * Cg + c, r, col] * w[o, c, m, q]
    if bias is not None:
        y += np.asarray(bias, np.float64)[None, :, None, None]
    return y


def convolve2d_nchw(x, k, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """True convolution: y[n,o,i,j] = b[o] + sum x[n, g*Cg + c, i' - m*d, j' - q*d] k[o,c,m,q],
    i' = i*s - p + d*(kH-1), j' = j*s - p + d*(kW-1)."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    N, C, H, W = x.shape
    O, Cg, KH, KW = k.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Ho = (H + 2 * ph - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            g = o // (O // groups)
            for i in range(Ho):
                for j in range(Wo):
                    ic, jc = i * sh - ph + dh * (KH - 1), j * sw - pw + dw * (KW - 1)
                    acc = 0.0 if bias is None else float(bias[o])
                    for c in range(Cg):
                        for m in range(KH):
                            for q in range(KW):
                                r, col = ic - m * dh, jc - q * dw
                                if 0 <= r < H and 0 <= col < W:
                                    acc += x[n, g * Cg + c, r, col] * k[o, c, m, q]
                    y[n, o, i, j] = acc
    return y


def conv2d_matrix(input_shape, w, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """Dense M with M[(o,i,j), (c,r,col)] = w[o, c - g*Cg, m, q] where r = i*s - p + m*d etc."""
    C, H, W = input_shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = stride, dilation, padding
    Ho = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    M = np.zeros((O * Ho * Wo, C * H * W))
    for o in range(O):
        g = o // (O // groups)
        for i in range(Ho):
            for j in range(Wo):
                row = (o * Ho + i) * Wo + j
                for c in range(Cg):
                    for m in range(KH):
                        for q in range(KW):
                            r, col = i * sh - pt + m * dh, j * sw - pl + q * dw
                            if 0 <= r < H and 0 <= col < W:
                                M[row, ((g * Cg + c) * H + r) * W + col] = w[o, c, m, q]
    return M


def taps_inside(L, K, s, p, d):
    """Number of (output position, kernel tap) pairs of a 1-D conv that land inside [0, L)."""
    Lo = (L + 2 * p - d * (K - 1) - 1) // s + 1
    return sum(1 for i in range(Lo) for m in range(K) if 0 <= i * s - p + m * d < L)


def correlate_image(f, k, pad_lo=(0, 0), pad_hi=(0, 0), mode="constant"):
    """Single 2-D image correlation: out[i, j] = sum_{m,q} fp[i + m, j + q] k[m, q] with fp padded."""
    f, k = np.asarray(f, np.float64), np.asarray(k, np.float64)
    fp = np.pad(f, ((pad_lo[0], pad_hi[0]), (pad_lo[1], pad_hi[1])),
                mode={"zeros": "constant", "constant": "constant", "replicate": "edge",
                      "reflect": "reflect", "circular": "wrap"}[mode])
    KH, KW = k.shape
    out = np.zeros((fp.shape[0] - KH + 1, fp.shape[1] - KW + 1))
    for m in range(KH):
        for q in range(KW):
            out += k[m, q] * fp[m:m + out.shape[0], q:q + out.shape[1]]
    return out
