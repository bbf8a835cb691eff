"""Learning-rate schedules (torch.optim.lr_scheduler semantics): the base class here, every
schedule in _schedulers.py (stepped as torch steps them, bit for bit)."""
from __future__ import annotations

import math


def _positive(scheduler, name, value):
    """value, when it is > 0 (a period: the schedules divide by it)."""
    if value <= 0:
        raise ValueError(f"{scheduler}: {name} must be positive, got {value}")
    return value


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)


from ._schedulers import *  # noqa: E402,F401,F403  (the other schedules; they subclass LRScheduler)
