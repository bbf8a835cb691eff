"""AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, exactly as torch.optim.AdamW:

    g = grad                                     (maximize=True flips its sign)
    t = t + 1
    p = p * (1 - lr * weight_decay)              (decoupled: the decay never enters m or v)
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)  if amsgrad, used for v below
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

State per parameter: 'step' (a 0-d array), 'exp_avg', 'exp_avg_sq' (and 'max_exp_avg_sq'), as torch.
"""
from __future__ import annotations

import math

from .._backend import backend
from ..tensor import enable_grad, no_grad
from .adam import Adam
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


class AdamW(Adam):  # an Adam, as in torch (isinstance(AdamW(...), Adam) holds there too)
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        check_adam_args("AdamW", lr, betas, eps, weight_decay)
        Optimizer.__init__(self, params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                              amsgrad=amsgrad, maximize=maximize))

    @no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():  # the closure recomputes the loss and calls backward
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = backend(p.device).xp
                g = -p.grad._array if maximize else p.grad._array
                state = self.state.setdefault(id(p), {})
                if "step" not in state:
                    state["step"] = xp.zeros((), dtype=p._array.dtype)
                    state["exp_avg"] = xp.zeros_like(p._array)
                    state["exp_avg_sq"] = xp.zeros_like(p._array)
                    if amsgrad:
                        state["max_exp_avg_sq"] = xp.zeros_like(p._array)
                state["step"] += 1
                t = float(state["step"].item())
                if wd:
                    p._array *= 1 - lr * wd
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m += (1 - beta1) * (g - m)
                v *= beta2
                v += (1 - beta2) * (g * g)
                if amsgrad:
                    vmax = state.setdefault("max_exp_avg_sq", xp.zeros_like(p._array))
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
                p._array -= (lr / (1 - beta1 ** t)) * (m / denom)
                p._vc[0] += 1  # an in-place update: a graph that saved p sees it (see Tensor)
        return loss
