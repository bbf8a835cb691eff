"""numpy float64 reference for reflect / replicate / circular padding (torch.nn.functional.pad
semantics), built on np.pad and independent of pycnn.  A negative pad crops, as in torch: reflect
and replicate pad by the positive parts and then crop; circular crops and then wraps."""
import numpy as np

_NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _widths(ndim, pad):
    # torch's pad tuple starts at the last dim: (last_lo, last_hi, prev_lo, prev_hi)
    width = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        width[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return width


def _pad(a, pad, mode):
    width = _widths(a.ndim, pad)
    positive = [(max(lo, 0), max(hi, 0)) for lo, hi in width]
    if mode == "circular":  # crop, then wrap
        a = a[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(width, a.shape))]
        return np.pad(a, positive, mode="wrap")
    out = np.pad(a, positive, mode=_NP_MODE[mode])  # pad, then crop
    return out[tuple(slice(max(-lo, 0), m - max(-hi, 0)) for (lo, hi), m in zip(width, out.shape))]


def pad_forward(x, pad, mode):
    return _pad(np.asarray(x, dtype=np.float64), pad, mode)


def pad_backward(grad_out, input_shape, pad, mode):
    """Adjoint of pad_forward: pad the flat index of every input element the same way, then
    sum the output gradient into the index each output element was copied from."""
    idx = np.arange(int(np.prod(input_shape))).reshape(input_shape)
    src = _pad(idx, pad, mode)
    assert src.shape == grad_out.shape
    return np.bincount(src.ravel(), weights=np.asarray(grad_out, np.float64).ravel(),
                       minlength=idx.size).reshape(input_shape)
