"""Basic differentiable ops (elementwise, reductions, shapes, matmul).

Glue ops run on the device's array module (``self.xp``: numpy on the CPU); the
GEMM behind ``matmul`` is the native kernel (``self.backend.native.gemm``).
Gradients of broadcast operands are summed back to the operand's shape.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from . import _elementwise_xp as _ew
from ._backend import backend
from .tensor import Function, Tensor, _default_dtype, float32, int64, is_floating

# ----------------------------------------------------------------------------- helpers


def require_float(op: str, *tensors):
    for t in tensors:
        if isinstance(t, Tensor) and not is_floating(t.dtype):
            raise TypeError(f"{op}: expected a floating point tensor, got dtype {t.dtype} with shape {t.shape}")


def unbroadcast(xp, grad, shape):
    """Sum grad over the axes along which an operand of `shape` was broadcast."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _result_dtype(a, b):
    """PyTorch's promotion for Tensor/scalar operands (Python scalars do not widen floats)."""
    if isinstance(a, Tensor):  # the common cases first: two tensors of one dtype, a float tensor and a scalar
        da = a._array.dtype
        if (isinstance(b, Tensor) and b._array.dtype == da) or (da.kind == "f" and isinstance(b, (int, float))):
            return da
    ta = [x.dtype for x in (a, b) if isinstance(x, Tensor)]
    if any(is_floating(d) for d in ta):
        return np.result_type(*[d for d in ta if is_floating(d)])
    scalars = [x for x in (a, b) if not isinstance(x, Tensor)]
    if any(isinstance(s, float) or (isinstance(s, np.ndarray) and s.dtype.kind == "f") for s in scalars):
        return _default_dtype
    if all(d == np.bool_ for d in ta) and all(isinstance(s, (bool, np.bool_)) for s in scalars):
        return np.dtype(np.bool_)
    return int64


def scalar_array(device, value, dtype):
    """A 0-d array of `device` holding a Python scalar (a fill on a GPU: no host-to-device copy)."""
    if device.type == "cpu":
        return np.asarray(value, dtype=dtype)
    return backend(device).xp.full((), value, dtype=dtype)


def _binary_operands(a, b, op):
    """Both operands as Tensors of the promoted dtype (scalars become 0-d tensors of the tensor's
    device; a host numpy array is copied to it)."""
    dtype = _result_dtype(a, b)
    device = next(x.device for x in (a, b) if isinstance(x, Tensor))

    def conv(x):
        if isinstance(x, Tensor):
            return x if x.dtype == dtype else Cast.apply(x, dtype=dtype)
        if isinstance(x, (int, float, bool, np.number)):
            return Tensor._wrap(scalar_array(device, x, dtype), device)
        if isinstance(x, np.ndarray):
            return Tensor._wrap(backend(device).from_host(np.asarray(x, dtype=dtype)), device)
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")

    a, b = conv(a), conv(b)
    sa, sb = a._array.shape, b._array.shape
    if sa == sb or not sa or not sb:  # the same shape or a scalar: nothing to check
        return a, b
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    return a, b


def _norm_dim(dim, ndim, op):
    if dim < -builtins.max(ndim, 1) or dim >= builtins.max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} out of range for a tensor with {ndim} dims")
    return dim % builtins.max(ndim, 1)


def _norm_dims(dim, ndim, op):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(sorted({_norm_dim(d, ndim, op) for d in dims}))
    return dims if ndim else ()  # a 0-d tensor takes dim 0 or -1 (torch) and has no axis to reduce


# ----------------------------------------------------------------------------- elementwise
class Cast(Function):
    saves_inputs = False

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype) if is_floating(self.in_dtype) else None


class ToDevice(Function):
    """A copy onto another device (Tensor.to); the gradient goes back to the source device."""

    saves_inputs = False

    def forward(self, x, device):
        self.source, self.target = self.device, device
        self.output_device = device
        return _move(x, self.source, device)

    def backward(self, g):
        return _move(g, self.target, self.source)


def _move(array, src, dst):
    host = backend(src).to_host(array) if src.type != "cpu" else array
    return backend(dst).from_host(host) if dst.type != "cpu" else np.array(host, copy=True)


class Clone(Function):
    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


def _binary(fn, op, a, b):
    """a (op) b: the backend's threaded kernel (csrc/elementwise.h) for large float32/float64
    arrays of one shape, or one of them broadcast as a scalar, per channel or per row
    (_ew.native_broadcast_form); the array module's operator for the rest (other broadcasts, promotion,
    small arrays)."""
    if ((a.size >= _ew.NATIVE_BINARY_FROM or b.size >= _ew.NATIVE_BINARY_FROM)  # small ones: no more checks
            and a.dtype == b.dtype and a.dtype in _ew.NATIVE_DTYPES and type(a) is type(b)):
        if a.shape == b.shape:
            return fn.backend.native.binary(op, a, b)
        small_first = b.size > a.size
        big, small = (b, a) if small_first else (a, b)
        form = _ew.native_broadcast_form(big.shape, small.shape)
        if form is not None:
            return fn.backend.native.binary_broadcast(op, big, small, *form, small_first=small_first)
    return a + b if op == "add" else a - b if op == "sub" else a * b


def _grad_to(fn, g, shape, factor=None):
    """The gradient of a binary op's operand of `shape` from the output's g: g (times `factor`,
    mul's other operand) summed over the axes the operand was broadcast along.  A per-channel or
    scalar operand of a large float g is summed by the native kernel, the product fused in."""
    if factor is not None and factor.shape != g.shape:  # the factor is the broadcast one: multiply first
        g, factor = _binary(fn, "mul", g, factor), None
    if tuple(shape) == tuple(g.shape):
        return g if factor is None else _binary(fn, "mul", g, factor)
    if g.size >= _ew.NATIVE_BINARY_FROM and g.dtype in _ew.NATIVE_DTYPES and (factor is None or factor.dtype == g.dtype):
        form = _ew.native_broadcast_form(g.shape, shape)
        if form is not None:
            return fn.backend.native.broadcast_sum(g, *form, other=factor).reshape(shape)
    return unbroadcast(fn.xp, g if factor is None else _binary(fn, "mul", g, factor), shape)


class Add(Function):
    saves_inputs = False

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return _binary(self, "add", a, b)

    def backward(self, g):
        need = self.needs_input_grad
        return (_grad_to(self, g, self.shapes[0]) if need[0] else None,
                _grad_to(self, g, self.shapes[1]) if need[1] else None)


class Sub(Function):
    saves_inputs = False

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return _binary(self, "sub", a, b)

    def backward(self, g):
        need = self.needs_input_grad
        return (_grad_to(self, g, self.shapes[0]) if need[0] else None,
                -_grad_to(self, g, self.shapes[1]) if need[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return _binary(self, "mul", a, b)

    def backward(self, g):
        da = _grad_to(self, g, self.a.shape, self.b) if self.needs_input_grad[0] else None
        db = _grad_to(self, g, self.b.shape, self.a) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        da = unbroadcast(self.xp, g / self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(self.xp, -g * self.a / (self.b * self.b), self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """a ** b; d/da = b a^(b-1), d/db = a^b log a."""

    saves_output = True  # and its inputs

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, g):
        xp = self.xp
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(xp, g * self.b * self.a ** (self.b - 1), self.a.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = xp.where(self.a > 0, xp.log(xp.where(self.a > 0, self.a, 1)), 0)
            db = unbroadcast(xp, g * self.y * logs, self.b.shape)
        return da, db


class Neg(Function):
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = self.xp.exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return self.xp.log(x)

    def backward(self, g):
        return g / self.x


class Sqrt(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = self.xp.sqrt(x)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return self.xp.abs(x)

    def backward(self, g):
        return g * self.xp.sign(self.x)


def _activation_forward(fn, name, x, negative_slope=0.0):
    """The backend's kernel for float32/float64; the array-module formulas for other dtypes."""
    if x.dtype in _ew.NATIVE_DTYPES:
        return fn.backend.native.activation_forward(x, name, negative_slope)
    return _ew.activation_forward(fn.xp, x, name, negative_slope)


def _activation_backward(fn, name, g, saved, negative_slope=0.0):
    if saved.dtype in _ew.NATIVE_DTYPES:
        return fn.backend.native.activation_backward(g, saved, name, negative_slope)
    return _ew.activation_backward(fn.xp, g, saved, name, negative_slope)


class Relu(Function):
    """max(x, 0): relu(-inf) = 0, relu(-0.0) = 0, NaN propagates; the gradient is zero where the
    output is <= 0 (a select, not a product with a mask, so an infinite dy there gives 0, not
    NaN).  Float tensors run the native kernel (csrc/elementwise.h), from the saved output."""

    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = _activation_forward(self, "relu", x)
        return self.y

    def backward(self, g):
        return _activation_backward(self, "relu", g, self.y)


class LeakyRelu(Function):
    """x > 0 ? x : negative_slope * x (csrc/elementwise.h); the backward reads the input, since a
    slope <= 0 makes the output's sign say nothing about x's."""

    def forward(self, x, negative_slope):
        self.x, self.slope = x, negative_slope
        return _activation_forward(self, "leaky_relu", x, negative_slope)

    def backward(self, g):
        return _activation_backward(self, "leaky_relu", g, self.x, self.slope)


class Sigmoid(Function):
    """1 / (1 + e^-x), split by sign so exp never overflows; dx = dy * y * (1 - y) (csrc/elementwise.h)."""

    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = _activation_forward(self, "sigmoid", x)
        return self.y

    def backward(self, g):
        return _activation_backward(self, "sigmoid", g, self.y)


class Tanh(Function):
    """tanh(x); dx = dy * (1 - y^2) (csrc/elementwise.h)."""

    saves_inputs, saves_output = False, True

    def forward(self, x):
        self.y = _activation_forward(self, "tanh", x)
        return self.y

    def backward(self, g):
        return _activation_backward(self, "tanh", g, self.y)


class Where(Function):
    def forward(self, cond, a, b):
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return self.xp.where(cond, a, b)

    def backward(self, g):
        xp = self.xp
        zero = xp.zeros((), dtype=g.dtype)
        return (None, unbroadcast(xp, xp.where(self.cond, g, zero), self.shapes[0]),
                unbroadcast(xp, xp.where(self.cond, zero, g), self.shapes[1]))


def float_unary(fn, x):
    """Applies a float-valued elementwise Function; int/bool inputs become the default float
    first, as torch.exp(int_tensor) gives float32."""
    if not is_floating(x.dtype):
        x = Cast.apply(x, dtype=_default_dtype)
    return fn.apply(x)


def add(a, b):
    return Add.apply(*_binary_operands(a, b, "add"))


def sub(a, b):
    return Sub.apply(*_binary_operands(a, b, "sub"))


def mul(a, b):
    return Mul.apply(*_binary_operands(a, b, "mul"))


def div(a, b):
    a, b = _binary_operands(a, b, "div")
    if not is_floating(a.dtype):  # true division of integers gives floats, as in PyTorch
        a, b = Cast.apply(a, dtype=_default_dtype), Cast.apply(b, dtype=_default_dtype)
    return Div.apply(a, b)


def pow(a, b):
    return Pow.apply(*_binary_operands(a, b, "pow"))


def where(condition, input, other):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # two scalars: torch's dtype rule
        if not isinstance(condition, Tensor):
            raise TypeError("where(): expected a Tensor condition when input and other are scalars")
        dtype = _result_dtype(input, other)
        input = Tensor._wrap(scalar_array(condition.device, input, dtype), condition.device)
    a, b = _binary_operands(input, other, "where")
    if isinstance(condition, Tensor):
        if condition.device != a.device:
            raise RuntimeError(f"where: condition is on {condition.device} but the values are on {a.device}")
        cond = condition._array
    else:
        cond = backend(a.device).from_host(np.asarray(condition)) if a.device.type != "cpu" else np.asarray(condition)
    return Where.apply(cond.astype(bool), a, b)


_COMPARISONS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
                "ge": "greater_equal"}


def compare(a, b, how):
    if not isinstance(b, (Tensor, int, float, bool, np.number, np.ndarray)):
        return NotImplemented if how not in ("eq", "ne") else (how == "ne")
    if isinstance(b, Tensor):
        if b.device != a.device:
            raise RuntimeError(f"{how}: the operands are on {a.device} and {b.device}")
        y = b._array
    elif isinstance(b, np.ndarray) and a.device.type != "cpu":
        y = backend(a.device).from_host(b)
    else:
        y = b
    xp = backend(a.device).xp
    return Tensor._wrap(xp.asarray(getattr(xp, _COMPARISONS[how])(a._array, y)), a.device)


# ----------------------------------------------------------------------------- reductions
class Sum(Function):
    saves_inputs = False

    def forward(self, x, dims, keepdim):
        self.shape, self.dims, self.keepdim = x.shape, dims, keepdim
        return self.xp.asarray(x.sum(axis=dims, keepdims=keepdim))

    def backward(self, g):
        if not self.keepdim:
            g = g.reshape([1 if i in self.dims else n for i, n in enumerate(self.shape)])
        return self.xp.broadcast_to(g, self.shape).copy()


class Mean(Function):
    saves_inputs = False

    def forward(self, x, dims, keepdim):
        self.shape, self.dims, self.keepdim = x.shape, dims, keepdim
        self.count = int(np.prod([x.shape[d] for d in dims])) if dims else 1
        return self.xp.asarray(x.mean(axis=dims, keepdims=keepdim))

    def backward(self, g):
        if not self.keepdim:
            g = g.reshape([1 if i in self.dims else n for i, n in enumerate(self.shape)])
        return self.xp.broadcast_to(g / self.count, self.shape).copy()


class MaxAll(Function):
    """Max (or min) over several dims; the gradient is split evenly among ties (as torch.amax)."""

    saves_output = True  # and its inputs

    def forward(self, x, dims, keepdim, use_min):
        xp = self.xp
        self.x, self.dims, self.keepdim = x, dims, keepdim
        self.y = xp.asarray((x.min if use_min else x.max)(axis=dims, keepdims=True))
        return self.y if keepdim else self.y.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        g = g.reshape(self.y.shape)
        mask = (self.x == self.y)
        return g * mask / mask.sum(axis=self.dims, keepdims=True).astype(g.dtype)


class MaxDim(Function):
    """(values, indices) of max/min along one dim; the gradient goes to the first extremum."""

    saves_inputs = False

    def forward(self, x, dim, keepdim, use_min):
        xp = self.xp
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        idx = xp.expand_dims((x.argmin if use_min else x.argmax)(axis=dim), dim)
        self.idx = idx
        vals = xp.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64)

    def backward(self, g, _g_idx):
        xp = self.xp
        if not self.keepdim:
            g = xp.expand_dims(g, self.dim)
        # g at the selected position along dim, 0 elsewhere (a compare against the positions)
        shape = [1] * len(self.shape)
        shape[self.dim] = self.shape[self.dim]
        hit = xp.arange(self.shape[self.dim]).reshape(shape) == self.idx
        return xp.where(hit, g, xp.zeros((), dtype=g.dtype))


def sum(x, dim=None, keepdim=False):
    return Sum.apply(x, dims=_norm_dims(dim, x.ndim, "sum"), keepdim=keepdim)


def mean(x, dim=None, keepdim=False):
    require_float("mean", x)
    return Mean.apply(x, dims=_norm_dims(dim, x.ndim, "mean"), keepdim=keepdim)


class _ValuesIndices(tuple):
    """(values, indices), also readable as .values / .indices (torch.return_types.max)."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def _extremum(x, dim, keepdim, use_min, op):
    if x.numel() == 0:
        raise RuntimeError(f"{op}: expected a non-empty tensor, got shape {x.shape}")
    if dim is None:
        return MaxAll.apply(x, dims=tuple(range(x.ndim)), keepdim=False, use_min=use_min)
    if isinstance(dim, int):
        return _ValuesIndices(MaxDim.apply(x, dim=_norm_dim(dim, x.ndim, op), keepdim=keepdim, use_min=use_min))
    return MaxAll.apply(x, dims=_norm_dims(dim, x.ndim, op), keepdim=keepdim, use_min=use_min)


def max(x, dim=None, keepdim=False):
    """max(x) -> scalar; max(x, dim) -> (values, indices), as torch.max."""
    return _extremum(x, dim, keepdim, False, "max")


def min(x, dim=None, keepdim=False):
    return _extremum(x, dim, keepdim, True, "min")


def amax(x, dim=None, keepdim=False):
    return MaxAll.apply(x, dims=_norm_dims(dim, x.ndim, "amax"), keepdim=keepdim, use_min=False)


def argmax(x, dim=None, keepdim=False):
    a, xp = x._array, backend(x.device).xp
    if dim is None:
        return Tensor._wrap(xp.asarray(a.argmax()).astype(np.int64), x.device)
    d = _norm_dim(dim, x.ndim, "argmax")
    idx = a.argmax(axis=d)
    return Tensor._wrap((xp.expand_dims(idx, d) if keepdim else xp.asarray(idx)).astype(np.int64), x.device)


# ----------------------------------------------------------------------------- shapes
class Reshape(Function):
    saves_inputs = False

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    saves_inputs = False

    def forward(self, x, dims):
        self.inverse = tuple(int(i) for i in np.argsort(dims))
        return self.xp.ascontiguousarray(x.transpose(dims))

    def backward(self, g):
        return self.xp.ascontiguousarray(g.transpose(self.inverse))


class Expand(Function):
    saves_inputs = False

    def forward(self, x, shape):
        self.shape = x.shape
        return self.xp.broadcast_to(x, shape).copy()

    def backward(self, g):
        return unbroadcast(self.xp, g, self.shape)


class GetItem(Function):
    saves_inputs = False

    def forward(self, x, index):
        self.shape, self.index = x.shape, index
        out = x[index]
        return self.xp.array(out, copy=True) if isinstance(out, np.ndarray) else self.xp.asarray(out)

    def backward(self, g):
        dx = self.xp.zeros(self.shape, dtype=g.dtype)
        scatter_add(self.xp, dx, self.index, g)  # repeated integer indices accumulate
        return dx


def scatter_add(xp, a, index, values):
    """a[index] += values with repeated indices accumulating (numpy's add.at; cupyx.scatter_add,
    since CuPy's ufuncs have no .at)."""
    if getattr(xp, "__name__", "") == "cupy":
        import cupyx

        cupyx.scatter_add(a, index, values)
    else:
        xp.add.at(a, index, values)


class Cat(Function):
    saves_inputs = False

    def forward(self, *arrays, dim):
        self.dim = dim
        self.sizes = [a.shape[dim] for a in arrays]
        return self.xp.concatenate(arrays, axis=dim)

    def backward(self, g):
        splits = [int(v) for v in np.cumsum(self.sizes)[:-1]]
        return tuple(self.xp.split(g, splits, axis=self.dim))


class Stack(Function):
    saves_inputs = False

    def forward(self, *arrays, dim):
        self.dim = dim
        return self.xp.stack(arrays, axis=dim)

    def backward(self, g):
        return tuple(self.xp.moveaxis(g, self.dim, 0))


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    shape = _shape_arg(shape)
    n = x.numel()
    known = math.prod(s for s in shape if s != -1)
    if any(s < -1 for s in shape) or shape.count(-1) > 1 or (shape.count(-1) == 0 and known != n) or (
            shape.count(-1) == 1 and (known == 0 or n % known)):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {n} (shape {x.shape})")
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _norm_dim(start_dim, x.ndim, "flatten"), _norm_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return Reshape.apply(x, shape=shape)


def permute(x, *dims):
    dims = _shape_arg(dims)
    if sorted(_norm_dim(d, x.ndim, "permute") for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute.apply(x, dims=tuple(_norm_dim(d, x.ndim, "permute") for d in dims))


def transpose(x, dim0, dim0b):
    dims = list(range(x.ndim))
    a, b = _norm_dim(dim0, x.ndim, "transpose"), _norm_dim(dim0b, x.ndim, "transpose")
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(x, dims=tuple(dims))


def unsqueeze(x, dim):
    d = _norm_dim(dim, x.ndim + 1, "unsqueeze")
    return Reshape.apply(x, shape=x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None):
    if dim is None:
        return Reshape.apply(x, shape=tuple(n for n in x.shape if n != 1))
    d = _norm_dim(dim, x.ndim, "squeeze")
    if x.ndim == 0 or x.shape[d] != 1:
        return x
    return Reshape.apply(x, shape=x.shape[:d] + x.shape[d + 1:])


def expand(x, *shape):
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    if lead < 0 or any(s == -1 for s in shape[:lead]) or any(s < -1 for s in shape):
        raise RuntimeError(f"expand: shape {x.shape} cannot be expanded to {shape} (-1 keeps an existing "
                           "dim; new leading dims need explicit sizes)")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise RuntimeError(f"expand: shape {x.shape} cannot be expanded to {shape}") from None
    return Expand.apply(x, shape=shape)


def unwrap_index(idx, device):
    """An index for the arrays of `device`: Tensors unwrapped, host arrays (and lists of ints)
    copied to the device."""
    def one(i):
        if isinstance(i, Tensor):
            if i.device != device:
                raise IndexError(f"getitem: an index on {i.device} for a tensor on {device}")
            return i._array
        if device.type != "cpu" and isinstance(i, (np.ndarray, list)):
            return backend(device).from_host(np.asarray(i))
        return i

    return tuple(one(i) for i in idx) if isinstance(idx, tuple) else one(idx)


def getitem(x, idx):
    try:
        return GetItem.apply(x, index=unwrap_index(idx, x.device))
    except IndexError as e:
        raise IndexError(f"getitem: index {idx!r} is invalid for shape {x.shape}: {e}") from None


def _promote_all(dtypes):
    """torch.result_type over tensors: the widest float if any is floating, else int64/bool."""
    floats = [d for d in dtypes if is_floating(d)]
    if floats:
        return np.result_type(*floats)
    return np.dtype(np.bool_) if all(d == np.bool_ for d in dtypes) else int64


def _check_same(tensors, op, dim):
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    dtype = _promote_all([t.dtype for t in tensors])
    return [t if t.dtype == dtype else Cast.apply(t, dtype=dtype) for t in tensors]


def cat(tensors, dim=0):
    tensors = _check_same(list(tensors), "cat", dim)
    d = _norm_dim(dim, tensors[0].ndim, "cat")
    ref = tensors[0].shape
    for t in tensors:
        if t.ndim != len(ref) or t.shape[:d] + t.shape[d + 1:] != ref[:d] + ref[d + 1:]:
            raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside dim {dim}")
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    tensors = _check_same(list(tensors), "stack", dim)
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: expected tensors of equal shape, got {[t.shape for t in tensors]}")
    return Stack.apply(*tensors, dim=_norm_dim(dim, tensors[0].ndim + 1, "stack"))


# ----------------------------------------------------------------------------- matmul


def gemm(backend, a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D arrays on the native GEMM (numpy arrays on the CPU)."""
    return backend.native.gemm(a, b, trans_a, trans_b)


def batched_gemm(backend, a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) over broadcast leading batch dims; a, b have ndim >= 2."""
    xp = backend.xp
    if a.ndim == 2 and b.ndim == 2:
        return gemm(backend, a, b, trans_a, trans_b)
    if b.ndim == 2 and not trans_a:  # fold batch into rows: one big GEMM
        out = gemm(backend, a.reshape(-1, a.shape[-1]), b, False, trans_b)
        return out.reshape(a.shape[:-1] + (out.shape[-1],))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = xp.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b = xp.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    outs = [gemm(backend, xp.ascontiguousarray(a[i]), xp.ascontiguousarray(b[i]), trans_a, trans_b)
            for i in range(a.shape[0])]
    return xp.stack(outs).reshape(batch + outs[0].shape)


class MatMul(Function):
    """C = A @ B (ndim >= 2, batch dims broadcast); dA = dC B^T, dB = A^T dC."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return batched_gemm(self.backend, a, b)

    def backward(self, g):
        xp, be = self.xp, self.backend
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(xp, batched_gemm(be, g, self.b, trans_b=True), self.a.shape)
        if self.needs_input_grad[1]:
            if self.b.ndim == 2:  # fold all batch rows into one A^T dC
                rows = int(np.prod(self.a.shape[:-1]))  # explicit: reshape(-1, 0) is ambiguous
                db = gemm(be, self.a.reshape(rows, self.a.shape[-1]), g.reshape(rows, g.shape[-1]), trans_a=True)
            else:
                db = unbroadcast(xp, batched_gemm(be, self.a, g, trans_a=True), self.b.shape)
        return da, db


def matmul(a, b):
    if not isinstance(a, Tensor):
        a = Tensor(a, dtype=b.dtype, device=b.device)
    if not isinstance(b, Tensor):
        b = Tensor(b, dtype=a.dtype, device=a.device)
    require_float("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dim, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: dtypes differ: {a.dtype} (shape {a.shape}) and {b.dtype} (shape {b.shape})")
    va, vb = a.ndim == 1, b.ndim == 1
    a2 = unsqueeze(a, 0) if va else a
    b2 = unsqueeze(b, 1) if vb else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({a2.shape[-1]} != {b2.shape[-2]})")
    if a2.ndim > 2 or b2.ndim > 2:
        try:
            np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast") from None
    out = MatMul.apply(a2, b2)
    if va:
        out = squeeze(out, -2)
    if vb:
        out = squeeze(out, -1)
    return out


# ----------------------------------------------------------------------------- softmax
def _softmax_shift(x, dim):
    """What softmax subtracts along dim (for exp's range): the max; an empty x has none, so zeros
    of the reduced shape (torch returns an empty result there)."""
    return x.max(axis=dim, keepdims=True) if x.size else x.sum(axis=dim, keepdims=True)


class Softmax(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x, dim):
        xp = self.xp
        e = xp.exp(x - _softmax_shift(x, dim))
        self.y, self.dim = e / e.sum(axis=dim, keepdims=True), dim
        return self.y

    def backward(self, g):
        # dx = y * (g - sum(g * y))
        return self.y * (g - (g * self.y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    saves_inputs, saves_output = False, True

    def forward(self, x, dim):
        xp = self.xp
        shifted = x - _softmax_shift(x, dim)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        self.y, self.dim = y, dim
        return y

    def backward(self, g):
        # dx = g - softmax * sum(g)
        return g - self.xp.exp(self.y) * g.sum(axis=self.dim, keepdims=True)


def softmax(x, dim):
    require_float("softmax", x)
    return Softmax.apply(x, dim=_norm_dim(dim, x.ndim, "softmax"))


def log_softmax(x, dim):
    require_float("log_softmax", x)
    return LogSoftmax.apply(x, dim=_norm_dim(dim, x.ndim, "log_softmax"))


__all__ = ["add", "sub", "mul", "div", "pow", "where", "sum", "mean", "max", "min", "amax", "argmax",
           "reshape", "flatten", "permute", "transpose", "unsqueeze", "squeeze", "expand", "cat", "stack",
           "matmul", "softmax", "log_softmax", "float32"]
