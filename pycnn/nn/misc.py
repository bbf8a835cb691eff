"""Dropout2d (whole channels dropped) and Unflatten, with torch's semantics."""
from .. import functional as F
from .._args import as_flag, as_float
from .module import Module

__all__ = ["Dropout2d", "Unflatten"]


class Dropout2d(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        p = as_float(p, "Dropout2d", "p")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: p must be in [0, 1], got {p}")
        self.p, self.inplace = p, as_flag(inplace, "Dropout2d", "inplace")

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return x.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
