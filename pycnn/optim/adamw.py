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

from .adam import Adam, check_adam_args
from .optimizer import Optimizer


class AdamW(Adam):  # an Adam, as in torch (isinstance(AdamW(...), Adam) holds there too)
    _decoupled_weight_decay = True  # Adam._update then decays p itself, as in the formulas above

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        check_adam_args("AdamW", lr, betas, eps, weight_decay)
        Optimizer.__init__(self, params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                              amsgrad=amsgrad, maximize=maximize))
