"""SGD with momentum, dampening, weight decay and Nesterov, exactly as torch.optim.SGD:

    g = grad + weight_decay * p
    if momentum:  b = g                         (first step)
                  b = momentum * b + (1 - dampening) * g   (later steps)
                  g = g + momentum * b  if nesterov else b
    p = p - lr * g          (maximize=True flips the sign of grad)
"""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 maximize=False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate lr={lr}")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum={momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update(self, p, group, xp):
        lr, mom, damp, nesterov = group["lr"], group["momentum"], group["dampening"], group["nesterov"]
        g = self._grad(p, group)
        if mom:
            state = self.state.setdefault(id(p), {})
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mom
                buf += (1 - damp) * g
            g = g + mom * buf if nesterov else buf
        p._array -= lr * g
