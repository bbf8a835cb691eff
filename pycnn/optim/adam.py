"""Adam (Kingma & Ba 2015) with L2 weight decay and AMSGrad, exactly as torch.optim.Adam:

    g = grad + weight_decay * p                  (maximize=True flips the sign of grad first)
    t = t + 1
    m = m + (1 - beta1) * (g - m)                (torch's lerp; = beta1 m + (1 - beta1) g)
    v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)  if amsgrad, used for v below
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

State per parameter: 'step' (a 0-d array), 'exp_avg', 'exp_avg_sq' (and 'max_exp_avg_sq'), as torch.
"""
from __future__ import annotations

import math

from .optimizer import Optimizer


def check_adam_args(name, lr, betas, eps, weight_decay):
    """torch's argument checks for Adam-family optimizers, as ValueErrors naming `name`."""
    if not 0.0 <= lr:
        raise ValueError(f"{name}: invalid learning rate lr={lr} (must be >= 0)")
    if not 0.0 <= eps:
        raise ValueError(f"{name}: invalid epsilon eps={eps} (must be >= 0)")
    if len(betas) != 2 or not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"{name}: invalid betas={tuple(betas)} (each must be in [0, 1))")
    if not 0.0 <= weight_decay:
        raise ValueError(f"{name}: invalid weight_decay={weight_decay} (must be >= 0)")


class Adam(Optimizer):
    _decoupled_weight_decay = False  # AdamW: p *= 1 - lr * weight_decay instead of the L2 term in g

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 maximize=False):
        check_adam_args("Adam", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, group, xp):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, amsgrad, decoupled = group["weight_decay"], group["amsgrad"], self._decoupled_weight_decay
        g = self._grad(p, group, weight_decay=not decoupled)
        state = self._state(p, xp, "exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if amsgrad else ()))
        state["step"] += 1
        t = float(state["step"].item())
        if decoupled and wd:
            p._array *= 1 - lr * wd  # the decay never enters m or v
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * (g * g)
        if amsgrad:
            vmax = state.setdefault("max_exp_avg_sq", xp.zeros_like(p._array))
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = lr / (1 - beta1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        p._array -= step_size * (m / denom)
