"""RMSprop (Hinton's lecture 6e), exactly as torch.optim.RMSprop:

    g = grad + weight_decay * p                  (maximize=True flips the sign of grad first)
    v = alpha * v + (1 - alpha) * g * g
    centered:  m = m + (1 - alpha) * (g - m);   d = sqrt(v - m * m) + eps
    otherwise:                                   d = sqrt(v) + eps
    momentum > 0:  b = momentum * b + g / d;     p = p - lr * b
    otherwise:                                   p = p - lr * g / d

State per parameter: 'step' (a 0-d array), 'square_avg', and 'momentum_buffer' (momentum > 0) and
'grad_avg' (centered), as torch.
"""
from __future__ import annotations

from .optimizer import Optimizer


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 maximize=False):
        for name, value in (("learning rate lr", lr), ("epsilon eps", eps), ("momentum", momentum),
                            ("weight_decay", weight_decay), ("alpha", alpha)):
            if not 0.0 <= value:
                raise ValueError(f"RMSprop: invalid {name}={value} (must be >= 0)")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, group, xp):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        mom, centered = group["momentum"], group["centered"]
        g = self._grad(p, group)
        state = self._state(p, xp, "square_avg", *(("momentum_buffer",) if mom > 0 else ()),
                            *(("grad_avg",) if centered else ()))
        state["step"] += 1
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (g * g)
        if centered:
            m = state.setdefault("grad_avg", xp.zeros_like(p._array))
            m += (1 - alpha) * (g - m)
            d = xp.sqrt(v - m * m) + eps
        else:
            d = xp.sqrt(v) + eps
        if mom > 0:
            b = state.setdefault("momentum_buffer", xp.zeros_like(p._array))
            b *= mom
            b += g / d
            p._array -= lr * b
        else:
            p._array -= lr * (g / d)
