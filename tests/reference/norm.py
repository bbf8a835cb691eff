"""numpy float64 references for the norm family, independent of pycnn's code.

Forward: the textbook two-pass formulas.  Backward: staged backprop through
mean -> var -> xhat (the cs231n derivation), deliberately *not* the closed form that the
kernels use, so the two check each other.
"""
import numpy as np


def _f64(*arrays):
    return [None if a is None else np.asarray(a, dtype=np.float64) for a in arrays]


def normalize(x, axes, eps):
    """xhat, mean, biased var of x normalized over `axes`."""
    (x,) = _f64(x)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps), mu, var


def normalize_backward(dxhat, x, axes, eps):
    """dx from dL/dxhat by the chain rule through mu and var (staged, not closed form)."""
    dxhat, x = _f64(dxhat, x)
    n = np.prod([x.shape[a] for a in axes])
    mu = x.mean(axis=axes, keepdims=True)
    xmu = x - mu
    var = (xmu ** 2).mean(axis=axes, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    dvar = np.sum(dxhat * xmu * -0.5 * (var + eps) ** -1.5, axis=axes, keepdims=True)
    dmu = np.sum(-dxhat * ivar, axis=axes, keepdims=True) + dvar * np.mean(-2.0 * xmu, axis=axes, keepdims=True)
    return dxhat * ivar + dvar * 2.0 * xmu / n + dmu / n


def _channel(p, ndim):
    """A per-channel (C,) vector broadcast against (N, C, *)."""
    return None if p is None else np.asarray(p, np.float64).reshape((1, -1) + (1,) * (ndim - 2))


def _affine(xhat, w, b):
    y = xhat if w is None else xhat * w
    return y if b is None else y + b


def _affine_backward(dy, xhat, w, axes_param):
    dw = np.sum(dy * xhat, axis=axes_param)
    db = np.sum(dy, axis=axes_param)
    return (dy if w is None else dy * w), dw, db


# ----------------------------------------------------------------------------- batch norm
def batch_norm(x, weight=None, bias=None, eps=1e-5, training=True, running_mean=None, running_var=None):
    """y; in eval mode (training=False) the given running statistics are the statistics."""
    x, = _f64(x)
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        xhat, _, _ = normalize(x, axes, eps)
    else:
        rm, rv = _channel(running_mean, x.ndim), _channel(running_var, x.ndim)
        xhat = (x - rm) / np.sqrt(rv + eps)
    return _affine(xhat, _channel(weight, x.ndim), _channel(bias, x.ndim))


def batch_norm_backward(dy, x, weight=None, eps=1e-5, training=True, running_mean=None, running_var=None):
    """(dx, dweight, dbias)."""
    dy, x = _f64(dy, x)
    axes = (0,) + tuple(range(2, x.ndim))
    w = _channel(weight, x.ndim)
    if training:
        xhat, _, _ = normalize(x, axes, eps)
    else:
        rv = _channel(running_var, x.ndim)
        xhat = (x - _channel(running_mean, x.ndim)) / np.sqrt(rv + eps)
    dxhat, dw, db = _affine_backward(dy, xhat, w, axes)
    if training:
        dx = normalize_backward(dxhat, x, axes, eps)
    else:
        dx = dxhat / np.sqrt(rv + eps)
    return dx, dw, db


def batch_stats(x):
    """(batch mean, biased var, unbiased var) per channel of x (N, C, *)."""
    x, = _f64(x)
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = ((x - mean.reshape(_channel(mean, x.ndim).shape)) ** 2).mean(axis=axes)
    return mean, var, var * n / (n - 1)


# ----------------------------------------------------------------------------- instance norm
def instance_norm(x, weight=None, bias=None, eps=1e-5):
    x, = _f64(x)
    xhat, _, _ = normalize(x, tuple(range(2, x.ndim)), eps)
    return _affine(xhat, _channel(weight, x.ndim), _channel(bias, x.ndim))


def instance_norm_backward(dy, x, weight=None, eps=1e-5):
    dy, x = _f64(dy, x)
    axes = tuple(range(2, x.ndim))
    xhat, _, _ = normalize(x, axes, eps)
    dxhat, dw, db = _affine_backward(dy, xhat, _channel(weight, x.ndim), (0,) + axes)
    return normalize_backward(dxhat, x, axes, eps), dw, db


# ----------------------------------------------------------------------------- group norm
def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    x, = _f64(x)
    xg = x.reshape(x.shape[0], num_groups, -1)
    xhat = normalize(xg, (2,), eps)[0].reshape(x.shape)
    return _affine(xhat, _channel(weight, x.ndim), _channel(bias, x.ndim))


def group_norm_backward(dy, x, num_groups, weight=None, eps=1e-5):
    dy, x = _f64(dy, x)
    xg = x.reshape(x.shape[0], num_groups, -1)
    xhat = normalize(xg, (2,), eps)[0].reshape(x.shape)
    dxhat, dw, db = _affine_backward(dy, xhat, _channel(weight, x.ndim), (0,) + tuple(range(2, x.ndim)))
    dx = normalize_backward(dxhat.reshape(xg.shape), xg, (2,), eps).reshape(x.shape)
    return dx, dw, db


# ----------------------------------------------------------------------------- layer norm
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    x, = _f64(x)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    return _affine(normalize(x, axes, eps)[0], *_f64(weight, bias))


def layer_norm_backward(dy, x, normalized_shape, weight=None, eps=1e-5):
    dy, x = _f64(dy, x)
    k = len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    xhat = normalize(x, axes, eps)[0]
    (w,) = _f64(weight)
    dxhat, dw, db = _affine_backward(dy, xhat, w, tuple(range(x.ndim - k)))
    return normalize_backward(dxhat, x, axes, eps), dw, db


# ----------------------------------------------------------------------------- pixel norm
def pixel_norm(x, eps=1e-8):
    x, = _f64(x)
    return x / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + eps)


def pixel_norm_backward(dy, x, eps=1e-8):
    """y = x * u^(-1/2), u = mean_c(x^2) + eps; du/dx_c = 2 x_c / C."""
    dy, x = _f64(dy, x)
    C = x.shape[1]
    u = (x ** 2).mean(axis=1, keepdims=True) + eps
    du = np.sum(dy * x * -0.5 * u ** -1.5, axis=1, keepdims=True)
    return dy * u ** -0.5 + du * 2.0 * x / C
