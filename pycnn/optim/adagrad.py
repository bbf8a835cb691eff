"""Adagrad (Duchi et al. 2011), exactly as torch.optim.Adagrad:

    t = t + 1
    g = grad + weight_decay * p                  (maximize=True flips the sign of grad first)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g                                (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)

State per parameter: 'step' (a 0-d array) and 'sum', created with the parameter group (as torch
does, so a fresh optimizer's state_dict already holds them).
"""
from __future__ import annotations

from .._backend import backend
from .optimizer import Optimizer


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 *, maximize=False):
        for name, value in (("learning rate lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value), ("epsilon eps", eps)):
            if not 0.0 <= value:
                raise ValueError(f"Adagrad: invalid {name}={value} (must be >= 0)")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def add_param_group(self, group: dict):
        super().add_param_group(group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p, group):
        xp = backend(p.device).xp
        return self.state.setdefault(id(p), {
            "step": xp.zeros((), dtype=p._array.dtype),
            "sum": xp.full_like(p._array, group["initial_accumulator_value"])})

    def _update(self, p, group, xp):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        state = self._init_state(p, group)
        state["step"] += 1
        t = float(state["step"].item())
        g = self._grad(p, group)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = state["sum"]
        s += g * g
        p._array -= clr * (g / (xp.sqrt(s) + eps))
