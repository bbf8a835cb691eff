"""Linear, activations, Flatten, Dropout and loss modules: thin wrappers over
pycnn.functional (each mirrors the torch.nn class of the same name)."""
from __future__ import annotations

import warnings

from .. import functional as F
from .._args import as_flag, as_float, as_int, as_positive_int, check_tensor
from ..creation import zeros
from . import init
from .module import Module, Parameter


class Linear(Module):
    """y = x W^T + b; weight (out_features, in_features), PyTorch's default init."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        in_features = as_positive_int(in_features, "Linear", "in_features")
        out_features = as_positive_int(out_features, "Linear", "out_features")
        bias = as_flag(bias, "Linear", "bias")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(zeros(out_features, in_features, dtype=dtype))
        self.bias = Parameter(zeros(out_features, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = as_int(start_dim, "Flatten", "start_dim"), as_int(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        return check_tensor(x, "Flatten", "input").flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        name = type(self).__name__  # Dropout or a subclass (nn.Dropout2d) in the messages
        p = as_float(p, name, "p")
        if not 0 <= p <= 1:
            raise ValueError(f"{name}: p must be in [0, 1], got {p}")
        self.p, self.inplace = p, as_flag(inplace, name, "inplace")

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = as_flag(inplace, "ReLU", "inplace")

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = as_float(negative_slope, "LeakyReLU", "negative_slope")
        self.inplace = as_flag(inplace, "LeakyReLU", "inplace")

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class _SoftmaxBase(Module):
    """dim=None picks torch's legacy implicit dim (0 for 0-, 1- and 3-D input, else 1), with
    torch's deprecation warning, so that a module written for torch gives the same numbers."""
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else as_int(dim, type(self).__name__, "dim")

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x):
        dim = self.dim
        if dim is None:
            name = type(self).__name__.lower()
            warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                          "Change the call to include dim=X as an argument.", stacklevel=2)
            dim = 0 if x.ndim in (0, 1, 3) else 1
        return type(self)._fn(x, dim)


class Softmax(_SoftmaxBase):
    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    _fn = staticmethod(F.log_softmax)


class CrossEntropyLoss(Module):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        check_tensor(weight, "CrossEntropyLoss", "weight", optional=True)
        self.weight, self.ignore_index = weight, as_int(ignore_index, "CrossEntropyLoss", "ignore_index")
        self.reduction = reduction
        self.label_smoothing = as_float(label_smoothing, "CrossEntropyLoss", "label_smoothing")

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(Module):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        check_tensor(weight, "NLLLoss", "weight", optional=True)
        self.weight, self.ignore_index = weight, as_int(ignore_index, "NLLLoss", "ignore_index")
        self.reduction = reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


__all__ = ["Linear", "Identity", "Flatten", "Dropout", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
           "Softmax", "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss"]
