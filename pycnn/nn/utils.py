"""torch.nn.utils' gradient helpers: clip_grad_norm_, clip_grad_value_, parameters_to_vector,
vector_to_parameters (the math as torch's: the total norm is the norm of the per-parameter
norms, and gradients are scaled by max_norm / (total + 1e-6) only when that is below 1)."""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _params(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        per = [float(np.abs(g._host()).max()) if g.numel() else 0.0 for g in grads]
        total = max(per)
    else:
        per = [float((np.abs(g._host().astype(np.float64)) ** norm_type).sum()) for g in grads]
        total = sum(per) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
                           f"({total}), so it cannot be clipped")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g._array *= g.dtype.type(coef)
            g._vc[0] += 1
    return Tensor(total, dtype=grads[0].dtype)


def clip_grad_value_(parameters, clip_value):
    clip_value = float(clip_value)
    for p in _params(parameters):
        if p.grad is not None:
            p.grad._array[...] = p.grad._array.clip(-clip_value, clip_value)
            p.grad._vc[0] += 1


def parameters_to_vector(parameters):
    from ..ops import cat
    return cat([p.reshape(-1) for p in _params(parameters)])


def vector_to_parameters(vec, parameters):
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D Tensor, got {type(vec).__name__}")
    params = _params(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements, the parameters {total}")
    start = 0
    for p in params:
        n = p.numel()
        p._array[...] = vec._array[start:start + n].reshape(p.shape)
        p._vc[0] += 1
        start += n
