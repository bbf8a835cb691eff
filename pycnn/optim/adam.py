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

from .._backend import backend
from ..tensor import enable_grad, no_grad
from .optimizer import Optimizer


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Adam: invalid learning rate lr={lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Adam: invalid epsilon eps={eps}")
        if len(betas) != 2 or not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Adam: invalid betas={tuple(betas)} (each must be in [0, 1))")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adam: invalid weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
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
                g = p.grad._array
                if maximize:
                    g = -g
                if wd:
                    g = g + wd * p._array
                state = self.state.setdefault(id(p), {})
                if "step" not in state:
                    state["step"] = xp.zeros((), dtype=p._array.dtype)
                    state["exp_avg"] = xp.zeros_like(p._array)
                    state["exp_avg_sq"] = xp.zeros_like(p._array)
                    if amsgrad:
                        state["max_exp_avg_sq"] = xp.zeros_like(p._array)
                state["step"] += 1
                t = float(state["step"].item())
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
                p._vc[0] += 1  # an in-place update: a graph that saved p sees it (see Tensor)
        return loss
