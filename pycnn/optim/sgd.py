"""SGD with momentum, dampening, weight decay and Nesterov, exactly as torch.optim.SGD:

    g = grad + weight_decay * p
    if momentum:  b = g                         (first step)
                  b = momentum * b + (1 - dampening) * g   (later steps)
                  g = g + momentum * b  if nesterov else b
    p = p - lr * g          (maximize=True flips the sign of grad)
"""
from __future__ import annotations

from ..tensor import enable_grad, no_grad
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

    @no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():  # the closure recomputes the loss and calls backward
                loss = closure()
        for group in self.param_groups:
            lr, mom, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._array
                if maximize:
                    g = -g
                if wd:
                    g = g + wd * p._array
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
                p._vc[0] += 1  # an in-place update: a graph that saved p sees it (see Tensor)
        return loss
