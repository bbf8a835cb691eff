"""Dropout2d (whole channels dropped) and Unflatten, with torch's semantics."""
from .. import functional as F
from .layers import Dropout
from .module import Module

__all__ = ["Dropout2d", "Unflatten"]


class Dropout2d(Dropout):
    """Dropout of whole channels: Dropout's p and inplace (checked there), F.dropout2d forward."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return x.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
