"""pycnn.summary: a torchinfo-style table of a model's layers, from one forward pass.

For each layer call: its dotted name, type, output shape, parameters (trainable and frozen,
counted at the module's first call) and multiply-adds; then totals, and the receptive field
along the chain of layers that starts at the input.

Counting rules (per forward of the whole batch; bias additions are not counted, as a
multiply-add is one product accumulated):

| layer | parameters | multiply-adds |
|---|---|---|
| Conv1d/Conv2d, CausalConv1d | C_out * (C_in * prod(K) / groups + 1) (without the 1 if bias=False) | numel(output) * C_in * prod(K) / groups |
| ConvTranspose1d/2d | C_in * C_out * prod(K) / groups (+ C_out) | numel(input) * C_out * prod(K) / groups |
| Linear | out * in (+ out) | numel(output) * in |
| GaussianRBF2d | P * C * prod(K) | numel(output) * C * prod(K) (the x.w convolution) |
| BatchNorm, LayerNorm, ... | their gamma, beta | 0 |
| activations, pooling, dropout, reshapes | 0 | 0 |

Receptive field: walking the layer calls in order, a layer whose input is the model's input,
or the output of a layer already on the chain, extends it: a conv or pool with kernel k,
dilation d and stride s maps (r, j) to (r + (k - 1) d j, j s) (r the field, j the jump between
neighbouring outputs, in input pixels); elementwise layers (norms, activations, dropout) keep it.
Anything else (a Linear, an adaptive pool, an addition or concatenation done in forward) ends
the chain, so a sequential conv stack gets its full receptive field and a net with branches gets
it up to the first branch; the total is the largest field on the chain.  Work done directly in a forward (not by a submodule) is not counted.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from . import nn
from .creation import randn
from .tensor import Tensor, no_grad

__all__ = ["summary", "ModelSummary", "LayerSummary", "conv_param_count"]


def conv_param_count(in_channels, out_channels, kernel_size, groups=1, bias=True) -> int:
    """The notes' formula C_out * (C_in * prod(K) / groups + 1)."""
    k = math.prod(kernel_size) if isinstance(kernel_size, (tuple, list)) else kernel_size ** 2
    return out_channels * (in_channels * k // groups + (1 if bias else 0))


@dataclass
class LayerSummary:
    name: str
    type: str
    output_shape: tuple
    trainable_params: int
    frozen_params: int
    mult_adds: int
    receptive_field: "tuple | None" = None

    @property
    def params(self) -> int:
        return self.trainable_params + self.frozen_params


@dataclass
class ModelSummary:
    model_name: str
    input_shape: tuple
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    total_mult_adds: int = 0
    receptive_field: "tuple | None" = None
    receptive_field_layer: "str | None" = None

    def __str__(self):
        def shape(s):
            return " ".join(str(list(x)) for x in s) if s and isinstance(s[0], tuple) else str(list(s))

        def rf(r):
            return "" if r is None else (str(r[0]) if len(set(r)) == 1 else "x".join(map(str, r)))

        head = ("Layer (name)", "Type", "Output shape", "Params", "Frozen", "Mult-adds", "RF")
        rows = [(l.name, l.type, shape(l.output_shape), f"{l.trainable_params:,}", f"{l.frozen_params:,}",
                 f"{l.mult_adds:,}", rf(l.receptive_field)) for l in self.layers]
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        line = "=" * (sum(widths) + 2 * (len(widths) - 1))

        def fmt(r):
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

        out = [line, f"{self.model_name}: input {list(self.input_shape)}", line, fmt(head), "-" * len(line)]
        out += [fmt(r) for r in rows]
        out += [line, f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.frozen_params:,}",
                f"Total mult-adds: {self.total_mult_adds:,} ({self.total_mult_adds / 1e6:.2f} M)"]
        if self.receptive_field is not None:
            out.append(f"Receptive field: {rf(self.receptive_field)} (the chain from the input up to "
                       f"{self.receptive_field_layer})")
        out.append(line)
        return "\n".join(out)

    __repr__ = __str__


_KEEPS_FIELD = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.GroupNorm, nn.PixelNorm,
                nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)


def _tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _window(m, n):
    """(kernel, dilation, stride) per spatial dim of a conv / pool module, or None."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.CausalConv1d)):
        stride = getattr(m, "stride", (1,) * n)
        return _tup(m.kernel_size, n), _tup(m.dilation, n), _tup(stride, n)
    if isinstance(m, nn.GaussianRBF2d):
        return _tup(m.kernel_size, n), (1,) * n, _tup(m.stride, n)
    if isinstance(m, _POOLS):
        return _tup(m.kernel_size, n), _tup(getattr(m, "dilation", 1), n), _tup(m.stride, n)
    return None


def _mult_adds(m, x, y) -> int:
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        return y.numel() * m.weight.shape[1] * math.prod(m.kernel_size)
    if isinstance(m, nn.CausalConv1d):
        return y.numel() * m.in_channels * m.kernel_size[0]
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return x.numel() * m.weight.shape[1] * math.prod(m.kernel_size)
    if isinstance(m, nn.Linear):
        return y.numel() * m.in_features
    if isinstance(m, nn.GaussianRBF2d):
        return y.numel() * m.in_channels * math.prod(m.kernel_size)
    return 0


def summary(model, input_size, device=None, batch_size=1, dtype="float32", verbose=True, file=None) -> ModelSummary:
    """Runs `model` once (eval mode, no grad) on a random (batch_size, *input_size) input and
    returns (and with verbose, prints) a ModelSummary.  input_size is one sample's shape, e.g.
    (3, 32, 32) for images or (C, L) for sequences; mult-adds count the whole batch."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary: model must be an nn.Module, got {type(model).__name__}")
    try:
        input_size = tuple(int(s) for s in input_size)
    except TypeError:
        raise TypeError(f"summary: input_size must be a sequence of ints (one sample's shape), got {input_size!r}") from None
    if not input_size or any(s < 1 for s in input_size) or batch_size < 1:
        raise ValueError(f"summary: input_size must be positive sizes and batch_size >= 1, got {input_size}, "
                         f"batch_size={batch_size}")
    device = device or next((p.device for p in model.parameters()), "cpu")
    x = randn(batch_size, *input_size, dtype=dtype, device=device)
    result = ModelSummary(type(model).__name__, x.shape)

    names = {id(m): name for name, m in model.named_modules()}
    counted, chain, keep = set(), {id(x): ((1,) * (x.ndim - 2), (1,) * (x.ndim - 2))}, [x]
    patched = []

    def wrap(m):
        inner = m.forward

        def forward(*args, **kwargs):
            y = inner(*args, **kwargs)
            inp = args[0] if args and isinstance(args[0], Tensor) else None
            out = y[0] if isinstance(y, tuple) and y and isinstance(y[0], Tensor) else y
            keep.extend([inp, out])  # ids below stay unique while the pass runs
            own = [p for p in m._parameters.values() if p is not None]
            first = id(m) not in counted
            counted.add(id(m))
            trainable = sum(p.numel() for p in own if p.requires_grad) if first else 0
            frozen = sum(p.numel() for p in own if not p.requires_grad) if first else 0
            field_ = None
            if inp is not None and id(inp) in chain and isinstance(out, Tensor):
                r, j = chain[id(inp)]
                win = _window(m, len(r))
                if win is not None:
                    k, d, s = win
                    r = tuple(ri + (ki - 1) * di * ji for ri, ki, di, ji in zip(r, k, d, j))
                    j = tuple(ji * si for ji, si in zip(j, s))
                if win is not None or isinstance(m, _KEEPS_FIELD):
                    chain[id(out)] = (r, j)
                    field_ = r
                    if result.receptive_field is None or max(r) > max(result.receptive_field):
                        result.receptive_field, result.receptive_field_layer = r, names.get(id(m), "?")
            shape = (tuple(t.shape for t in y if isinstance(t, Tensor)) if isinstance(y, tuple)
                     else tuple(y.shape) if isinstance(y, Tensor) else ())
            macs = _mult_adds(m, inp, out) if inp is not None and isinstance(out, Tensor) else 0
            result.layers.append(LayerSummary(names.get(id(m), "?"), type(m).__name__, shape, trainable, frozen,
                                              macs, field_))
            return y

        object.__setattr__(m, "forward", forward)
        patched.append(m)

    modes = [(m, m.training) for m in model.modules()]
    try:
        for m in model.modules():
            has_children = any(True for _ in m.children())
            has_own = any(p is not None for p in m._parameters.values())
            if (m is not model or not has_children) and (not has_children or has_own):
                wrap(m)
        model.eval()
        with no_grad():
            model(x)
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    params = list(model.parameters())
    result.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    result.frozen_params = sum(p.numel() for p in params if not p.requires_grad)
    result.total_params = result.trainable_params + result.frozen_params
    result.total_mult_adds = sum(l.mult_adds for l in result.layers)
    if verbose:
        print(result, file=file or sys.stdout)
    return result
