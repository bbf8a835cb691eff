"""numpy float64 reference for reflect / replicate / circular padding (torch.nn.functional.pad
semantics), built on np.pad and independent of pycnn."""
import numpy as np

_NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _widths(ndim, pad):
    # torch's pad tuple starts at the last dim: (last_lo, last_hi, prev_lo, prev_hi)
    width = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        width[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return width


def pad_forward(x, pad, mode):
    return np.pad(np.asarray(x, dtype=np.float64), _widths(x.ndim, pad), mode=_NP_MODE[mode])


def pad_backward(grad_out, input_shape, pad, mode):
    """Adjoint of pad_forward: pad the flat index of every input element the same way, then
    sum the output gradient into the index each output element was copied from."""
    idx = np.arange(int(np.prod(input_shape))).reshape(input_shape)
    src = np.pad(idx, _widths(len(input_shape), pad), mode=_NP_MODE[mode])
    assert src.shape == grad_out.shape
    return np.bincount(src.ravel(), weights=np.asarray(grad_out, np.float64).ravel(),
                       minlength=idx.size).reshape(input_shape)
