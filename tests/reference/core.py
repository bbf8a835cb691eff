"""numpy float64 references for the core ops (activations, softmax family, losses,
matmul, linear, padding, SGD).  Written from the PyTorch docs' formulas, independent
of pycnn's code."""
import math

import numpy as np


def f64(a):
    return np.asarray(a, dtype=np.float64)


def sigmoid(x):
    x = f64(x)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def leaky_relu(x, slope=0.01):
    x = f64(x)
    return np.where(x > 0, x, slope * x)


def softmax(x, dim):
    x = f64(x)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x, dim):
    x = f64(x)
    m = x.max(axis=dim, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


def matmul(a, b):
    """Loops over the broadcast batch; numpy's einsum for each 2-D product."""
    a, b = f64(a), f64(b)
    va, vb = a.ndim == 1, b.ndim == 1
    a2 = a[None, :] if va else a
    b2 = b[:, None] if vb else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    A = np.broadcast_to(a2, batch + a2.shape[-2:])
    B = np.broadcast_to(b2, batch + b2.shape[-2:])
    out = np.empty(batch + (a2.shape[-2], b2.shape[-1]))
    for idx in np.ndindex(*batch):
        out[idx] = np.einsum("ik,kj->ij", A[idx], B[idx])
    if va:
        out = out[..., 0, :]
    if vb:
        out = out[..., 0]
    return out


def linear(x, w, b=None):
    y = np.einsum("...i,oi->...o", f64(x), f64(w))
    return y if b is None else y + f64(b)


def _as_batch(x, target):
    """An unbatched (C,) input and its () target as a batch of one, and whether to squeeze the
    'none' result back to ()."""
    if x.ndim == 1:
        return x[None], target.reshape(1), True
    return x, target, False


def nll_loss(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """logp (N, C, d...) or (C,); target (N, d...) or ()."""
    logp, target, squeeze = _as_batch(f64(logp), np.asarray(target))
    C = logp.shape[1]
    w = np.ones(C) if weight is None else f64(weight)
    losses = np.zeros(target.shape)
    wsum = 0.0
    for idx in np.ndindex(*target.shape):
        t = int(target[idx])
        if t == ignore_index:
            continue
        n, rest = idx[0], idx[1:]
        losses[idx] = -w[t] * logp[(n, t) + rest]
        wsum += w[t]
    if reduction == "none":
        return losses.reshape(()) if squeeze else losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / wsum


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's formula: (1 - eps) * nll + eps / C * smooth, where smooth_i = -sum_c w_c logp_ic
    (0 where ignored), and 'mean' divides smooth's sum by the same weight total as nll."""
    x, target, squeeze = _as_batch(f64(x), np.asarray(target))
    logp = log_softmax(x, 1)
    C = x.shape[1]
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    w = np.ones(C) if weight is None else f64(weight)
    shape = [1, C] + [1] * (x.ndim - 2)
    smooth = -(logp * w.reshape(shape)).sum(axis=1)
    ignored = target == ignore_index
    smooth[ignored] = 0.0
    if reduction == "none":
        out = (1 - label_smoothing) * nll + label_smoothing / C * smooth
        return out.reshape(()) if squeeze else out
    if reduction == "sum":
        s = smooth.sum()
    else:
        s = smooth.sum() / w[target[~ignored]].sum()
    return (1 - label_smoothing) * nll + label_smoothing / C * s


def mse_loss(x, y, reduction="mean"):
    d = (f64(x) - f64(y)) ** 2
    return {"mean": d.mean(), "sum": d.sum(), "none": d}[reduction]


def pad_constant(x, pad, value=0.0):
    x = f64(x)
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, width, mode="constant", constant_values=value)


def sgd_steps(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False):
    """The parameter after each step of torch.optim.SGD's documented update, one grad per step."""
    p, buf, out = f64(p0).copy(), None, []
    for t, g in enumerate(grads):
        g = -f64(g) if maximize else f64(g).copy()
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p.copy())
    return out


def step_lr(base, step_size, gamma, epoch):
    return base * gamma ** (epoch // step_size)


def cosine_lr(base, T_max, eta_min, epoch):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2
