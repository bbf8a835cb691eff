"""The rest of PyTorch's tensor surface (clamp, var/std/norm, prod/cumsum, repeat/flip/roll,
sort/topk, maximum/minimum, einsum, ...), built like ``ops``: glue on the device's array module,
one ``Function`` per differentiable op, each gradient as torch defines it (ties of
maximum/minimum split the gradient, clamp passes it inside [min, max], sign/floor/ceil/round
have a zero gradient).  ``Tensor`` gets these as methods in ``tensor.py``.
"""
from __future__ import annotations

import builtins
import string

import numpy as np

from . import ops
from ._backend import backend
from .ops import _binary_operands, _norm_dim, _norm_dims, _ValuesIndices, require_float, unbroadcast
from .tensor import Function, Tensor, bool_, is_floating


def _check(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be a Tensor, got {type(x).__name__}")


def _zero(g):
    return g.dtype.type(0)


# ----------------------------------------------------------------------------- elementwise
class Clamp(Function):
    """min(max(x, lo), hi) (hi wins when lo > hi, NaN propagates); the gradient passes where
    lo <= x <= hi."""

    saves_inputs = False

    def forward(self, x, lo, hi):
        xp = self.xp
        y, keep = x, None
        if lo is not None:
            y = xp.maximum(y, lo)
            keep = x >= lo
        if hi is not None:
            y = xp.minimum(y, hi)
            keep = (x <= hi) if keep is None else keep & (x <= hi)
        self.keep = keep
        return xp.asarray(y, dtype=x.dtype)

    def backward(self, g):
        return g if self.keep is None else self.xp.where(self.keep, g, _zero(g))


def _bound(x, value, op, arg):
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise RuntimeError(f"{op}: a tensor '{arg}' that requires grad is not supported (only constant bounds)")
        return value._array.astype(x.dtype, copy=False)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{op}(): argument '{arg}' must be a number or a Tensor, got {type(value).__name__}")
    if not is_floating(x.dtype) and isinstance(value, float) and not float(value).is_integer():
        raise RuntimeError(f"{op}: a float bound {value} on an integer tensor of shape {x.shape}")
    return x.dtype.type(value)


def clamp(input, min=None, max=None):
    _check(input, "clamp")
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    return Clamp.apply(input, _bound(input, min, "clamp", "min"), _bound(input, max, "clamp", "max"))


clip = clamp


class Log1p(Function):
    def forward(self, x):
        self.x = x
        return self.xp.log1p(x)

    def backward(self, g):
        return g / (1 + self.x)


class Rsqrt(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = 1 / self.xp.sqrt(x)
        return self.y

    def backward(self, g):
        return g * (-0.5) * self.y * self.y * self.y


class Stepwise(Function):
    """sign, floor, ceil, round: piecewise constant, so the gradient is zero (as in torch)."""

    saves_inputs = False

    def forward(self, x, name):
        return getattr(self.xp, name)(x)

    def backward(self, g):
        return self.xp.zeros_like(g)


def _stepwise(x, name):
    _check(x, name)
    return Stepwise.apply(x, name="rint" if name == "round" else name)


class Extremum2(Function):
    """maximum / minimum of two tensors; where they tie each gets half the gradient (torch)."""

    def forward(self, a, b, use_min):
        xp = self.xp
        self.a, self.b, self.shapes, self._use_min = a, b, (a.shape, b.shape), use_min
        return (xp.minimum if use_min else xp.maximum)(a, b)

    def backward(self, g):
        # torch: where(a == b, g / 2, g), zeroed for the operand that lost (a NaN loses to none)
        xp = self.xp
        share = xp.where(self.a == self.b, g * g.dtype.type(0.5), g)
        a_lost, b_lost = (self.a > self.b, self.a < self.b) if self._use_min else (self.a < self.b, self.a > self.b)
        ga, gb = xp.where(a_lost, _zero(g), share), xp.where(b_lost, _zero(g), share)
        return unbroadcast(xp, ga, self.shapes[0]), unbroadcast(xp, gb, self.shapes[1])


def maximum(input, other):
    _check(input, "maximum")
    return Extremum2.apply(*_binary_operands(input, other, "maximum"), use_min=False)


def minimum(input, other):
    _check(input, "minimum")
    return Extremum2.apply(*_binary_operands(input, other, "minimum"), use_min=True)


class FloorDivide(Function):
    """floor(a / b) (Python's //); not differentiable in torch: a zero gradient."""

    saves_inputs = False

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return self.xp.floor_divide(a, b)

    def backward(self, g):
        z = self.xp.zeros_like(g)
        return unbroadcast(self.xp, z, self.shapes[0]), unbroadcast(self.xp, z, self.shapes[1])


class Remainder(Function):
    """a - floor(a / b) * b (the sign of b, Python's %); da = g, db = -g * floor(a / b)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.mod(a, b)

    def backward(self, g):
        xp = self.xp
        return (unbroadcast(xp, g, self.a.shape),
                unbroadcast(xp, -g * xp.floor_divide(self.a, self.b), self.b.shape))


def floor_divide(a, b):
    return FloorDivide.apply(*_binary_operands(a, b, "floor_divide"))


def remainder(a, b):
    return Remainder.apply(*_binary_operands(a, b, "remainder"))


def logical_not(x):
    """~x: logical not of a bool tensor, bitwise not of an integer one (torch)."""
    _check(x, "bitwise_not")
    if is_floating(x.dtype):
        raise TypeError(f"bitwise_not: not defined for a floating point tensor (dtype {x.dtype}, shape {x.shape})")
    xp = backend(x.device).xp
    return Tensor._wrap(xp.logical_not(x._array) if x.dtype == bool_ else xp.invert(x._array), x.device)


def isnan(x):
    _check(x, "isnan")
    return Tensor._wrap(backend(x.device).xp.isnan(x._array), x.device)


def isfinite(x):
    _check(x, "isfinite")
    return Tensor._wrap(backend(x.device).xp.isfinite(x._array), x.device)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _check(input, "isclose")
    _check(other, "isclose", "other")
    xp = backend(input.device).xp
    return Tensor._wrap(xp.isclose(input._array, other._array, rtol=rtol, atol=atol, equal_nan=equal_nan),
                        input.device)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan)._array.all())


# ----------------------------------------------------------------------------- reductions
def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sum((x - mean)^2) / max(N - correction, 0), correction 1 by default (unbiased=True)."""
    _check(x, "var")
    require_float("var", x)
    if unbiased is not None and correction is not None:
        raise TypeError("var(): pass 'unbiased' or 'correction', not both")
    c = correction if correction is not None else (0 if unbiased is False else 1)
    dims = _norm_dims(dim, x.ndim, "var")
    n = int(np.prod([x.shape[d] for d in dims])) if dims else 1
    d = x - ops.mean(x, dim=dims, keepdim=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ops.sum(d * d, dim=dims, keepdim=keepdim) / float(builtins.max(n - c, 0))


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        return var(x, dim, unbiased, keepdim, correction=correction).sqrt()


class Norm2(Function):
    """sqrt(sum x^2) over dims; the gradient x / norm is 0 where the norm is 0 (torch)."""

    def forward(self, x, dims, keepdim):
        xp = self.xp
        self.x, self.dims, self.keepdim = x, dims, keepdim
        self.n = xp.sqrt((x * x).sum(axis=dims, keepdims=True))
        return self.n if keepdim else self.n.reshape([s for i, s in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        xp = self.xp
        g = g.reshape(self.n.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.where(self.n == 0, _zero(g), g * self.x / self.n)


def norm(x, p="fro", dim=None, keepdim=False):
    """The vector p-norm over dim (all elements by default): 2 / 'fro', 1, inf, -inf, or any p."""
    _check(x, "norm")
    require_float("norm", x)
    dims = _norm_dims(dim, x.ndim, "norm")
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, dims=dims, keepdim=keepdim)
    if p in (float("inf"), float("-inf")):
        a = x.abs()
        return ops.MaxAll.apply(a, dims=dims, keepdim=keepdim, use_min=p < 0)
    if isinstance(p, (bool, str)) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: unsupported p={p!r} (a number, 'fro', inf or -inf)")
    if p == 1:
        return ops.sum(x.abs(), dim=dims, keepdim=keepdim)
    return ops.sum(x.abs() ** p, dim=dims, keepdim=keepdim) ** (1.0 / p)


class Prod(Function):
    """prod over one dim (or all); d/dx_i = prod_{j != i} x_j, from exclusive products on both
    sides (exact where x has zeros, unlike y / x)."""

    def forward(self, x, dim, keepdim):
        xp = self.xp
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        self.x = x
        flat = x.reshape(-1) if dim is None else x
        return xp.asarray(flat.prod(axis=0 if dim is None else dim, keepdims=keepdim and dim is not None))

    def backward(self, g):
        xp = self.xp
        x = self.x.reshape(-1, 1) if self.dim is None else xp.moveaxis(self.x, self.dim, -1)
        if self.dim is None:
            x = x.reshape(1, -1)
        ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.flip(xp.concatenate([x[..., 1:], ones], axis=-1), -1), axis=-1), -1)
        others = left * right
        if self.dim is None:
            return (g * others).reshape(self.shape)
        gk = g if self.keepdim else xp.expand_dims(g, self.dim)
        return xp.moveaxis(others, -1, self.dim) * gk


def prod(x, dim=None, keepdim=False):
    _check(x, "prod")
    d = None if dim is None else _norm_dim(dim, x.ndim, "prod")
    if not is_floating(x.dtype):
        xp = backend(x.device).xp
        flat = x._array.reshape(-1) if d is None else x._array
        return Tensor._wrap(xp.asarray(flat.prod(axis=0 if d is None else d, keepdims=keepdim and d is not None)),
                            x.device)
    return Prod.apply(x, dim=d, keepdim=keepdim)


class Cumsum(Function):
    saves_inputs = False

    def forward(self, x, dim):
        self.dim = dim
        return self.xp.cumsum(x, axis=dim, dtype=x.dtype)

    def backward(self, g):
        xp = self.xp
        return xp.flip(xp.cumsum(xp.flip(g, self.dim), axis=self.dim), self.dim)


def cumsum(x, dim):
    _check(x, "cumsum")
    return Cumsum.apply(x, dim=_norm_dim(dim, x.ndim, "cumsum"))


def _logical_reduce(x, dim, keepdim, name):
    _check(x, name)
    xp = backend(x.device).xp
    axis = None if dim is None else _norm_dims(dim, x.ndim, name)
    return Tensor._wrap(xp.asarray(getattr(xp, name)(x._array != 0, axis=axis, keepdims=keepdim)), x.device)


def any(x, dim=None, keepdim=False):  # noqa: A001
    return _logical_reduce(x, dim, keepdim, "any")


def all(x, dim=None, keepdim=False):  # noqa: A001
    return _logical_reduce(x, dim, keepdim, "all")


# ----------------------------------------------------------------------------- shapes
def _sizes(args, op):
    sizes = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    out = []
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}(): sizes must be ints, got {s!r}")
        out.append(int(s))
    return tuple(out)


class Repeat(Function):
    """np.tile with len(reps) >= ndim; the gradient sums the copies."""

    saves_inputs = False

    def forward(self, x, reps):
        lead = len(reps) - x.ndim
        self.shape, self.padded, self.reps = x.shape, (1,) * lead + x.shape, reps
        return self.xp.tile(x, reps)

    def backward(self, g):
        split = []
        for r, n in zip(self.reps, self.padded):
            split += [r, n]
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


def repeat(x, *sizes):
    _check(x, "repeat")
    reps = _sizes(sizes, "repeat")
    if len(reps) < x.ndim:
        raise RuntimeError(f"repeat: the number of repeat dims ({len(reps)}) can not be smaller than the "
                           f"number of dims of the tensor ({x.ndim}, shape {x.shape})")
    if builtins.any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeats must be >= 0, got {reps}")
    return Repeat.apply(x, reps=reps)


def tile(x, dims):
    reps = _sizes((dims,), "tile")
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


class Flip(Function):
    saves_inputs = False

    def forward(self, x, dims):
        self.dims = dims
        return self.xp.ascontiguousarray(self.xp.flip(x, dims))

    def backward(self, g):
        return self.xp.ascontiguousarray(self.xp.flip(g, self.dims))


def flip(x, dims):
    _check(x, "flip")
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(x, dims=tuple(_norm_dim(d, x.ndim, "flip") for d in dims))


class Roll(Function):
    saves_inputs = False

    def forward(self, x, shifts, dims):
        self.shifts, self.dims, self.shape = shifts, dims, x.shape
        if dims is None:
            return self.xp.roll(x.reshape(-1), shifts[0]).reshape(x.shape)
        return self.xp.roll(x, shifts, dims)

    def backward(self, g):
        back = tuple(-s for s in self.shifts)
        if self.dims is None:
            return self.xp.roll(g.reshape(-1), back[0]).reshape(self.shape)
        return self.xp.roll(g, back, self.dims)


def roll(x, shifts, dims=None):
    _check(x, "roll")
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: without dims one shift is expected, got {shifts}")
        return Roll.apply(x, shifts=shifts, dims=None)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(dims) != len(shifts):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    return Roll.apply(x, shifts=shifts, dims=tuple(_norm_dim(d, x.ndim, "roll") for d in dims))


def narrow(x, dim, start, length):
    _check(x, "narrow")
    d = _norm_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    if start < -n or start > n:
        raise IndexError(f"narrow: start {start} out of range for dim {dim} of size {n}")
    start = start % n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n})")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def split(x, split_size_or_sections, dim=0):
    _check(x, "split")
    d = _norm_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size <= 0 and n > 0:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split: sections {sizes} do not sum to the size {n} of dim {dim}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    _check(x, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_norm_dim(dim, x.ndim, "chunk")]
    return split(x, builtins.max(-(-n // chunks), 1), dim)


def unflatten(x, dim, sizes):
    _check(x, "unflatten")
    d = _norm_dim(dim, x.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = int(np.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != x.shape[d]) or \
            (sizes.count(-1) == 1 and (known == 0 or x.shape[d] % known)):
        raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to dim {dim} of size {x.shape[d]}")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:])


class MaskedFill(Function):
    saves_inputs = False

    def forward(self, x, mask, value):
        self.mask = mask
        return self.xp.where(mask, x.dtype.type(value), x)

    def backward(self, g):
        return self.xp.where(self.mask, _zero(g), g), None


def masked_fill(x, mask, value):
    _check(x, "masked_fill")
    _check(mask, "masked_fill", "mask")
    if mask.dtype != bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
    if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
        raise RuntimeError(f"masked_fill: mask of shape {mask.shape} does not broadcast to {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: only a 0-d value tensor is supported, got shape {value.shape}")
        value = value.item()
    return MaskedFill.apply(x, mask, value=value)


# ----------------------------------------------------------------------------- sorting
class TakeAlong(Function):
    """values = take_along_axis(x, idx, dim) for the unique indices of sort/topk; the gradient
    is put back at the same positions."""

    saves_inputs = False

    def forward(self, x, idx, dim):
        self.shape, self.idx, self.dim = x.shape, idx, dim
        return self.xp.take_along_axis(x, idx, axis=dim)

    def backward(self, g):
        out = self.xp.zeros(self.shape, dtype=g.dtype)
        self.xp.put_along_axis(out, self.idx, g, axis=self.dim)
        return out


def _order(a, dim, descending, xp):
    """Indices that sort `a` along dim (NaN as the largest value, as torch; stable)."""
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    moved = xp.moveaxis(a, dim, -1)
    if is_floating(a.dtype):
        key = xp.where(xp.isnan(moved), -np.inf, -moved)
        nan_last = ~xp.isnan(moved)  # primary key: NaN first
        flat_k, flat_n = key.reshape(-1, key.shape[-1]), nan_last.reshape(-1, key.shape[-1])
        idx = xp.stack([xp.lexsort((flat_k[i], flat_n[i])) for i in range(flat_k.shape[0])]) \
            if flat_k.shape[0] else xp.zeros(flat_k.shape, dtype=np.int64)
        idx = idx.reshape(moved.shape)
    else:
        key = xp.invert(moved) if moved.dtype != np.bool_ else ~moved
        idx = xp.argsort(key, axis=-1, kind="stable")
    return xp.moveaxis(idx, -1, dim)


def sort(x, dim=-1, descending=False, stable=False):
    _check(x, "sort")
    d = _norm_dim(dim, x.ndim, "sort")
    if x.ndim == 0:
        return _ValuesIndices((x.clone(), Tensor._wrap(backend(x.device).xp.zeros((), dtype=np.int64), x.device)))
    xp = backend(x.device).xp
    idx = _order(x._array, d, descending, xp).astype(np.int64)
    return _ValuesIndices((TakeAlong.apply(x, idx, dim=d), Tensor._wrap(idx, x.device)))


def argsort(x, dim=-1, descending=False, stable=False):
    return sort(x, dim, descending, stable)[1]


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    _check(x, "topk")
    d = _norm_dim(dim, x.ndim, "topk")
    n = x.shape[d] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk(): argument 'k' must be int, got {type(k).__name__}")
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k={k} out of range for dim {dim} of size {n}")
    xp = backend(x.device).xp
    idx = _order(x._array, d, largest, xp)
    idx = xp.ascontiguousarray(xp.take(idx, xp.arange(k), axis=d)).astype(np.int64)
    return _ValuesIndices((TakeAlong.apply(x, idx, dim=d), Tensor._wrap(idx, x.device)))


# ----------------------------------------------------------------------------- linear algebra
def mm(input, mat2):
    _check(input, "mm")
    _check(mat2, "mm", "mat2")
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be 2-D, got shapes {input.shape} and {mat2.shape}")
    return ops.matmul(input, mat2)


def bmm(input, mat2):
    _check(input, "bmm")
    _check(mat2, "bmm", "mat2")
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with the same batch size, got shapes {input.shape} "
                           f"and {mat2.shape}")
    return ops.matmul(input, mat2)


class Einsum(Function):
    """np.einsum; the gradient of operand i is einsum(grad, the other operands -> its subscripts),
    broadcast over its indices that appear nowhere else, and summed over repeated (diagonal)
    indices by einsum itself."""

    def forward(self, *arrays, inputs, output):
        self.arrays, self.specs, self.output = arrays, inputs, output  # (self.inputs: the tensors)
        return self.xp.asarray(self.xp.einsum(",".join(inputs) + "->" + output, *arrays))

    def backward(self, g):
        xp = self.xp
        grads = []
        for i, (spec, a) in enumerate(zip(self.specs, self.arrays)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(s, b) for j, (s, b) in enumerate(zip(self.specs, self.arrays)) if j != i]
            seen = set(self.output).union(*[set(s) for s, _ in others])
            target = "".join(dict.fromkeys(c for c in spec if c in seen))
            got = xp.einsum(",".join([self.output] + [s for s, _ in others]) + "->" + target,
                            g, *[b for _, b in others])
            if len(set(spec)) == len(spec):  # no repeated index: broadcast, then order as spec
                full = "".join(dict.fromkeys(spec))
                shape = [a.shape[spec.index(c)] if c not in target else got.shape[target.index(c)]
                         for c in full]
                expanded = got.reshape([got.shape[target.index(c)] if c in target else 1 for c in full])
                grads.append(xp.ascontiguousarray(xp.broadcast_to(expanded, shape)).astype(a.dtype))
            else:  # a repeated index (a diagonal): place the gradient on it
                out = xp.zeros(a.shape, dtype=a.dtype)
                view = xp.einsum(spec + "->" + "".join(dict.fromkeys(spec)), out)  # a writeable diagonal view
                full = "".join(dict.fromkeys(spec))
                expanded = got.reshape([got.shape[target.index(c)] if c in target else 1 for c in full])
                view[...] = xp.broadcast_to(expanded, view.shape)
                grads.append(out)
        return tuple(grads)


def _expand_ellipsis(inputs, out, operands):
    """'...' -> letters the equation does not use: each operand's ellipsis covers its dims that the
    named subscripts leave, aligned from the right across operands (numpy's and torch's rule); a
    size-1 ellipsis dim broadcasts (the operand is expanded, so its gradient sums over it).  The
    implicit output is the ellipsis dims, then the once-used letters in alphabetical order."""
    free = [c for c in string.ascii_letters if c not in "".join(inputs) + (out or "")]
    widths = []
    for spec, t in zip(inputs, operands):
        named = len(spec.replace("...", ""))
        if spec.count("...") > 1 or ("..." in spec and t.ndim < named) or "." in spec.replace("...", ""):
            raise ValueError(f"einsum: subscripts '{spec}' do not match an operand of shape {t.shape}")
        widths.append(t.ndim - named if "..." in spec else 0)
    width = builtins.max(widths)
    letters = "".join(free[:width])
    sizes = [1] * width
    for w, spec, t in zip(widths, inputs, operands):
        if "..." not in spec:
            continue
        start = spec.index("...")
        for k, n in enumerate(t.shape[start:start + w]):
            j = width - w + k
            if n != 1 and sizes[j] not in (1, n):
                raise ValueError(f"einsum: the '...' dims of the operands do not broadcast (shapes "
                                 f"{[tuple(o.shape) for o in operands]})")
            sizes[j] = builtins.max(sizes[j], n)
    new_inputs, new_operands = [], []
    for w, spec, t in zip(widths, inputs, operands):
        if "..." in spec:
            start = spec.index("...")
            own = letters[width - w:]
            shape = tuple(t.shape[:start]) + tuple(sizes[width - w:]) + tuple(t.shape[start + w:])
            if shape != tuple(t.shape):
                t = t.expand(*shape)
            spec = spec.replace("...", own)
        new_inputs.append(spec)
        new_operands.append(t)
    if out is None:
        counts = {}
        for c in "".join(new_inputs):
            counts[c] = counts.get(c, 0) + 1
        out = letters + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in letters))
    else:
        out = out.replace("...", letters)
    return new_inputs, out, tuple(new_operands)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, got {type(equation).__name__}")
    for i, t in enumerate(operands):
        _check(t, "einsum", f"operands[{i}]")
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: the equation has {len(inputs)} operands, got {len(operands)} tensors")
    if "..." in eq:
        inputs, out, operands = _expand_ellipsis(inputs, out if arrow else None, operands)
        arrow = True
    for spec, t in zip(inputs, operands):
        if len(spec) != t.ndim or builtins.any(c not in string.ascii_letters for c in spec):
            raise ValueError(f"einsum: subscripts '{spec}' do not match an operand of shape {t.shape}")
    if not arrow:  # implicit output: the indices that appear once, in alphabetical order
        counts = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    if len({t.dtype for t in operands}) != 1:
        raise TypeError(f"einsum: operands must share a dtype, got {[str(t.dtype) for t in operands]}")
    return Einsum.apply(*operands, inputs=tuple(inputs), output=out)


__all__ = ["clamp", "clip", "maximum", "minimum", "floor_divide", "remainder", "logical_not", "isnan",
           "isfinite", "isclose", "allclose", "var", "std", "norm", "prod", "cumsum", "any", "all",
           "repeat", "tile", "flip", "roll", "narrow", "split", "chunk", "unflatten", "masked_fill",
           "sort", "argsort", "topk", "mm", "bmm", "einsum"]
