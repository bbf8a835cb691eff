"""Tensor and the reverse-mode autodiff tape.

A Tensor holds one array of its device's backend (numpy on the CPU) plus, when it
was produced by a differentiable op under grad mode, the op node (``grad_fn``) that
made it.  Each op is a ``Function`` subclass:

    class Exp(Function):
        def forward(self, x):              # arrays in, array(s) out
            self.y = self.xp.exp(x)        # keep what backward needs on self
            return self.y
        def backward(self, grad_y):        # one grad per output in,
            return grad_y * self.y         # one grad per positional input out

``Function.apply(*args, **kwargs)`` unwraps Tensor arguments, runs ``forward``,
wraps the result, and links the node into the graph.  ``Tensor.backward`` sorts
the nodes topologically and runs each ``backward`` once, in reverse; leaf tensors
accumulate (``+=``) into ``.grad``.  Unless ``retain_graph=True`` each node drops
what it saved, so a second backward through it raises.
"""
from __future__ import annotations

import sys
import threading
import weakref

import numpy as np

from . import _elementwise_xp as _ew
from ._backend import backend
from ._device import CPU, canonical_device, device

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")
_DTYPES = {"float32": float32, "float": float32, "float64": float64, "double": float64,
           "int64": int64, "long": int64, "bool": bool_}
_default_dtype = float32
# the dtype objects a Tensor holds (native byte order): a set lookup on the hot path instead of
# dtype.name, which numpy computes on every call
_NATIVE_DTYPES = frozenset(np.dtype(d) for d in (float32, float64, int64, bool_))


def canonical_dtype(dtype) -> np.dtype:
    """float32/float64/int64/bool from a numpy dtype, a name, or a torch dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype
    else:
        name = str(getattr(dtype, "name", dtype)).replace("torch.", "")
    name = name.replace("torch.", "")
    if name in _DTYPES:
        return _DTYPES[name]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is not None and dt.name in _DTYPES:
        return dt
    raise TypeError(f"unsupported dtype {dtype!r}: pycnn supports float32, float64, int64 (and bool)")


def is_floating(dtype) -> bool:
    kind = getattr(dtype, "kind", None)  # an np.dtype already (the hot path): no conversion
    return (kind if isinstance(kind, str) else np.dtype(dtype).kind) == "f"


# ----------------------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class _SetGrad:
    """Context manager and decorator (``@no_grad()`` or bare ``@no_grad``) that sets grad
    mode and restores it on exit."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __enter__(self):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapped


class no_grad(_SetGrad):
    """Ops run inside ``with pycnn.no_grad():`` record nothing."""

    mode = False


class enable_grad(_SetGrad):
    mode = True


class set_grad_enabled(_SetGrad):
    """set_grad_enabled(mode): sets grad mode at once (a function call, as in torch) and, used
    as a context manager or decorator, restores the previous mode on exit."""

    def __new__(cls, mode):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled(): argument 'mode' must be bool, got {type(mode).__name__}")
        self = object.__new__(cls)
        self.mode, self.prev = bool(mode), _grad_mode.enabled
        _grad_mode.enabled = self.mode
        return self

    def __enter__(self):
        pass  # already set by the call; __exit__ restores

    def __call__(self, fn):
        _grad_mode.enabled = self.prev  # as a decorator the call itself must not change the mode
        mode = self.mode

        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            prev = _grad_mode.enabled
            _grad_mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_mode.enabled = prev

        return wrapped


# ----------------------------------------------------------------------------- Function
class Function:
    """One differentiable op; see the module docstring for the contract.

    Attributes available in forward/backward: ``self.backend`` (the device's
    Backend), ``self.xp`` (its array module), ``self.needs_input_grad`` (one bool
    per positional argument of ``apply``).

    In-place safety (version counters, as in PyTorch): a Function whose backward reads its
    input arrays (``saves_inputs``, the default) or its output arrays (``saves_output``) records
    their tensors' versions when it is recorded; an in-place op bumps a tensor's version, and
    backward raises "modified by an inplace operation" instead of using changed values.  A
    Function that keeps neither (add, reshape, relu's mask...) sets ``saves_inputs = False``.
    """

    saves_inputs = True
    saves_output = False

    def __init__(self, device: str, inputs: tuple, needs_input_grad=None):
        self.device = device
        self.backend = be = backend(device)
        self.xp = be.xp
        self.inputs = inputs
        self.needs_input_grad = (needs_input_grad if needs_input_grad is not None else
                                 tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs))
        self.freed = False

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *args, **kwargs):
        # one pass over the arguments: the tensors' device (all must share it), their arrays for
        # forward, and which of them require grad (this is the per-op hot path: no generators)
        device, raw, needs, tensors = None, [], [], []
        for a in args:
            if isinstance(a, Tensor):
                if device is None:
                    device = a.device
                elif a.device is not device and a.device != device:
                    shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in args if isinstance(t, Tensor))
                    raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, got {shapes}; "
                                       "move them with .to(device) first")
                tensors.append(a)
                raw.append(a._array)
                needs.append(a.requires_grad)
            else:
                raw.append(a)
                needs.append(False)
        if device is None:
            device = CPU
        node = cls(device, args, tuple(needs))
        out = node.forward(*raw, **kwargs)
        record = _grad_mode.enabled and True in node.needs_input_grad
        outs = out if isinstance(out, tuple) else (out,)
        out_device = node.__dict__.get("output_device", device)  # ToDevice's outputs live elsewhere
        results = []
        for i, o in enumerate(outs):
            t = Tensor._wrap(o, out_device)
            if getattr(o, "base", None) is not None:
                _share_version_with_view(t, tensors)
            if record and is_floating(t.dtype):
                t.requires_grad = True
                t.grad_fn = node
                t._output_index = i
            results.append(t)
        if record:
            node.output_meta = [(o.shape, o.dtype) for o in outs]
            node.output_device = out_device
            saved = []
            if cls.saves_inputs:
                saved += [(a._vc, a._vc[0], f"input {i}", a.shape)
                          for i, a in enumerate(args) if isinstance(a, Tensor)]
            if cls.saves_output:
                saved += [(r._vc, r._vc[0], f"output {i}", r.shape) for i, r in enumerate(results)]
            node.saved_versions = saved
        else:
            node.inputs = None  # nothing will ever call backward: drop references now
        return tuple(results) if isinstance(out, tuple) else results[0]

    def _release(self):
        """Drop saved arrays and inputs (the graph is freed after backward)."""
        keep = {"device", "backend", "xp", "needs_input_grad", "output_meta", "output_device",
                "saved_versions"}
        for k in list(self.__dict__):
            if k not in keep:
                del self.__dict__[k]
        self.inputs = None
        self.freed = True


def _root_array(a):
    """The array that owns a view's memory (numpy and CuPy keep the owner in .base)."""
    base = getattr(a, "base", None)
    return a if base is None else base


def _share_version_with_view(view, inputs):
    """A view shares its input's memory, hence its version counter (an in-place op through
    either is seen by both); the counter is marked shared (see Tensor._inplace)."""
    root = _root_array(view._array)
    for a in inputs:
        if a._array is root or _root_array(a._array) is root:
            a._vc[1] = True
            view._vc = a._vc
            return


def _check_saved_versions(node):
    for counter, expected, what, shape in node.__dict__.get("saved_versions", ()):
        if counter[0] != expected:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been modified "
                f"by an inplace operation: the tensor of shape {shape}, {what} of {node.name}, is at "
                f"version {counter[0]}; expected version {expected} instead. Use an out-of-place "
                "op, or clone() the tensor before changing it in place")


def _run_hooks(hooks, grad, device):
    """Each hook gets the gradient as a Tensor and may return a replacement (torch's rule)."""
    for hook in hooks:
        out = hook(Tensor._wrap(grad, device))
        if out is not None:
            if not isinstance(out, Tensor) or out.shape != tuple(grad.shape):
                raise RuntimeError(f"backward: a hook returned {type(out).__name__} "
                                   f"{getattr(out, 'shape', '')}; expected a Tensor of shape {tuple(grad.shape)}")
            grad = out._array
    return grad


def _topological_nodes(root_node):
    """Function nodes reachable from root_node, each after every node that consumes it."""
    order, visited = [], set()
    stack = [(root_node, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for a in node.inputs or ():
            if isinstance(a, Tensor) and a.grad_fn is not None and id(a.grad_fn) not in visited:
                stack.append((a.grad_fn, False))
    return order[::-1]  # consumers first


# ---- gradient accumulation.  A node's output gradient that several consumers feed is summed in
# its pending slot.  The sum goes in place into the slot's array when the engine is the only
# holder of that array: a backward may hand the same array to several inputs (Add returns g
# twice), a hook or retain_grad may keep it, a view may share its memory, and any of those would
# see a += change it.  "Only holder" is read from the reference count, as numpy's own temporary
# elision does: _slot_refcount is the one function that counts, so the count it reports for an
# array that only the slot list holds (_SOLE_SLOT_REFS, measured at import) is exact, and every
# other holder adds one.  If the probe's two readings do not differ by one, nothing goes in place.
def _slot_refcount(slots, i):
    slot = slots[i]
    return sys.getrefcount(slot)


def _calibrate_sole_slot_refs():
    sole = _slot_refcount([np.empty(1)], 0)
    shared = np.empty(1)
    return sole if _slot_refcount([shared], 0) == sole + 1 else None


_SOLE_SLOT_REFS = _calibrate_sole_slot_refs()


def _add_arrays(a, b, inplace):
    """a + b of two same-shape gradient arrays (a += b when inplace): the native threaded kernel
    for large float CPU arrays (csrc/elementwise.h), the array module otherwise."""
    if (a.size >= _ew.NATIVE_BINARY_FROM and type(a) is np.ndarray and type(b) is np.ndarray
            and a.dtype in _ew.NATIVE_DTYPES and b.dtype == a.dtype):
        return _native_binary()("add", a, b, inplace)
    if inplace:
        a += b
        return a
    return a + b


def _native_binary():
    from . import _C
    return _C.binary


def _accumulate(slots, i, grad):
    """slots[i] += grad, in place when the engine alone holds slots[i]'s array (see above)."""
    slot = slots[i]
    if slot is None:
        slots[i] = grad
        return
    inplace = (_SOLE_SLOT_REFS is not None and type(slot) is np.ndarray and slot.base is None
               and slot.dtype == grad.dtype and slot.flags.writeable and slot.flags.c_contiguous)
    del slot  # the check below counts the list's reference only
    if inplace and _slot_refcount(slots, i) == _SOLE_SLOT_REFS:
        _add_arrays(slots[i], grad, inplace=True)
    else:
        slots[i] = _add_arrays(slots[i], grad, inplace=False)


def run_backward(root: "Tensor", gradient, retain_graph: bool):
    be = backend(root.device)
    xp = be.xp
    if gradient is None:
        if root._array.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs, got shape {root.shape}")
        g = xp.ones(root._array.shape, dtype=root.dtype)
    else:
        if isinstance(gradient, Tensor) and gradient.device != root.device:
            raise RuntimeError(f"backward: the gradient is on {gradient.device} but the tensor is on {root.device}")
        g = gradient._array if isinstance(gradient, Tensor) else be.from_host(np.asarray(gradient))
        if tuple(g.shape) != root.shape:
            raise RuntimeError(f"backward: gradient shape {tuple(g.shape)} does not match tensor shape {root.shape}")
        g = g.astype(root.dtype, copy=False)
    if root.grad_fn is None:
        root._accumulate_grad(g)
        return
    pending = {id(root.grad_fn): [None] * len(root.grad_fn.output_meta)}
    pending[id(root.grad_fn)][root._output_index] = g
    with no_grad():
        for node in _topological_nodes(root.grad_fn):
            grads_out = pending.pop(id(node), None)
            if grads_out is None or all(x is None for x in grads_out):
                continue
            if node.freed:
                raise RuntimeError(
                    f"backward: trying to backward through {node.name} a second time; its saved "
                    "values were freed. Pass retain_graph=True to the first backward call.")
            _check_saved_versions(node)
            out_xp = xp if node.output_device == root.device else backend(node.output_device).xp
            grads_out = [gr if gr is not None else out_xp.zeros(shape, dtype=dt)
                         for gr, (shape, dt) in zip(grads_out, node.output_meta)]
            hooks = node.__dict__.get("output_hooks")
            if hooks:  # register_hook / retain_grad on non-leaf outputs, in registration order
                grads_out = [_run_hooks(hooks.get(i, ()), gr, node.output_device)
                             for i, gr in enumerate(grads_out)]
            grads_in = node.backward(*grads_out)
            if not isinstance(grads_in, tuple):
                grads_in = (grads_in,)
            for inp, gin in zip(node.inputs, grads_in):
                if gin is None or not isinstance(inp, Tensor) or not inp.requires_grad:
                    continue
                if tuple(gin.shape) != inp.shape:
                    raise RuntimeError(f"internal error: {node.name}.backward returned a grad of shape "
                                       f"{tuple(gin.shape)} for an input of shape {inp.shape}")
                if gin.dtype != inp.dtype:  # a grad has its input's dtype (e.g. int-count divisions)
                    gin = gin.astype(inp.dtype)
                if inp.grad_fn is None:
                    inp._accumulate_grad(gin)
                else:
                    slots = pending.setdefault(id(inp.grad_fn), [None] * len(inp.grad_fn.output_meta))
                    _accumulate(slots, inp._output_index, gin)
            if not retain_graph:
                node._release()


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


# ----------------------------------------------------------------------------- Tensor
class Tensor:
    """An n-d array on a device, optionally tracked by autodiff (PyTorch semantics)."""

    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators

    def __init__(self, data, dtype=None, device="cpu", requires_grad=False):
        device = canonical_device(device)
        dtype = canonical_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.detach().cpu()._array
        arr = np.asarray(data)
        if dtype is None:
            if arr.dtype.kind == "f":
                # numpy float64 data keeps float64 (as torch.tensor); Python floats get the default
                dtype = float64 if arr.dtype == np.float64 and isinstance(data, (np.ndarray, np.generic)) \
                    else _default_dtype
            elif arr.dtype.kind in "iu":
                dtype = int64
            elif arr.dtype.kind == "b":
                dtype = bool_
            else:
                raise TypeError(f"tensor: cannot build a tensor from data of dtype {arr.dtype}")
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
        self._array = arr if device.type == "cpu" else backend(device).from_host(arr)
        self.device = device
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self._vc = [0, False]  # [in-place writes so far, shared with a view]: see Function
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, device=CPU) -> "Tensor":
        """A Tensor around an existing array of device's backend, without copying."""
        t = cls.__new__(cls)
        if array.dtype not in _NATIVE_DTYPES:
            if array.dtype.name in _DTYPES:  # a byte-swapped float32 / float64 / int64 / bool
                array = array.astype(array.dtype.newbyteorder("="))
            else:
                array = array.astype(float64 if array.dtype.kind == "f" else int64)
        t._array = array
        t.device = device if isinstance(device, type(CPU)) else canonical_device(device)
        t.grad = None
        t.grad_fn = None
        t._output_index = 0
        t._vc = [0, False]
        t.requires_grad = False
        return t

    def _copy_from_host(self, values):
        """self's data = host `values` (cast to self's dtype), in place."""
        if self.device.type == "cpu":
            np.copyto(self._array, values, casting="unsafe")
        else:
            self._array[...] = backend(self.device).from_host(np.asarray(values, dtype=self.dtype))

    def _host(self) -> np.ndarray:
        """The data as a host numpy array (the array itself on the CPU, a copy from a device)."""
        return self._array if self.device.type == "cpu" else backend(self.device).to_host(self._array)

    # ---------------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return tuple(self._array.shape)

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> "Tensor":
        """A detached Tensor sharing this one's storage (and its version counter)."""
        return self.detach()

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            self._array, self.device = value._array, value.device
        else:
            self._array = backend(self.device).from_host(np.asarray(value)) if self.device.type != "cpu" \
                else np.asarray(value)

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self._array.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self._host(), separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self.device.type != "cpu":
            extra += f", device='{self.device}'"
        if self.dtype != _default_dtype and self.dtype != int64:
            extra += f", dtype={self.dtype.name}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # ---------------------------------------------------------------- autodiff
    def requires_grad_(self, requires_grad=True) -> "Tensor":
        if requires_grad and not is_floating(self.dtype):
            raise RuntimeError(f"requires_grad_: only floating point tensors can require gradients, got {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad on a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False):
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn")
        run_backward(self, gradient, retain_graph)

    def _accumulate_grad(self, g):
        hooks = self.__dict__.get("_hooks")
        if hooks:
            g = _run_hooks(hooks, g, self.device)
        if self.grad is None:
            self.grad = Tensor._wrap(g.astype(self.dtype, copy=True), self.device)
        else:
            # torch's AccumulateGrad: an existing .grad is added to in place (a user holding it
            # sees the sum), unless its array cannot take the write
            acc = self.grad._array
            if (type(acc) is np.ndarray and acc.dtype == g.dtype and acc.flags.writeable
                    and acc.flags.c_contiguous and not np.may_share_memory(acc, g)):
                _add_arrays(acc, g, inplace=True)
                self.grad._vc[0] += 1  # an in-place write, as torch's grad += counts one
            else:
                self.grad._array = acc + g

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, called with this tensor's gradient during backward (a
        returned Tensor replaces it).  Returns a handle whose remove() unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            hooks = self.__dict__.setdefault("_hooks", [])
        else:
            hooks = self.grad_fn.__dict__.setdefault("output_hooks", {}).setdefault(self._output_index, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self):
        """Keep .grad on a non-leaf tensor after backward (a no-op on leaves)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is None or self.__dict__.get("_retains"):
            return
        self._retains = True
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach().clone() if t.grad is None else Tensor._wrap(t.grad._array + grad._array, t.device)

        self.register_hook(keep)

    @property
    def retains_grad(self) -> bool:
        return bool(self.__dict__.get("_retains")) and self.grad_fn is not None

    def detach(self) -> "Tensor":
        """A Tensor sharing this one's storage and version counter, outside the graph."""
        t = Tensor._wrap(self._array, self.device)
        self._vc[1] = True
        t._vc = self._vc
        return t

    @property
    def _version(self) -> int:
        """In-place writes to this tensor's storage so far (torch's Tensor._version)."""
        return self._vc[0]

    # ---------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        if self.device.type != "cpu":
            raise TypeError(f"numpy: can't convert {self.device} device type tensor to numpy; use Tensor.cpu() to "
                            "copy the tensor to host memory first")
        return self._array

    def tolist(self):
        return self._host().tolist()

    def item(self):
        if self._array.size != 1:
            raise ValueError(f"item: only a one-element tensor can be converted to a Python scalar, got shape {self.shape}")
        return self._array.reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._array.size != 1:
            raise RuntimeError(f"bool value of a tensor with {self._array.size} elements is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy; use Tensor.cpu() to copy the "
                            "tensor to host memory first")
        a = np.asarray(self._array)
        return a if dtype is None else a.astype(dtype)

    def __dlpack__(self, stream=None, *, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule sharing this tensor's memory (numpy's on the CPU, CuPy's on a GPU)."""
        from . import _dlpack
        return _dlpack.to_dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        """(1, 0) on the CPU, (2, index) on CUDA: DLPack's (device type, device id)."""
        from . import _dlpack
        return _dlpack.dlpack_device(self)

    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False) -> "Tensor":
        """to(device), to(dtype), to(device, dtype), to(other_tensor) or keywords; differentiable."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
                continue
            try:
                dtype = canonical_dtype(a)
            except TypeError:
                device = a
        device = canonical_device(device) if device is not None else self.device
        out = self
        if dtype is not None and canonical_dtype(dtype) != self.dtype:
            out = ops.Cast.apply(out, dtype=canonical_dtype(dtype))
        if device != self.device:
            out = ops.ToDevice.apply(out, device=device)
        if copy and out is self:
            out = ops.Clone.apply(self)
        return out

    def cpu(self):
        return self.to(CPU)

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def type(self, dtype):
        return self.to(dtype)

    # ---------------------------------------------------------------- in-place
    # PyTorch's rules: an in-place op on a leaf that requires grad raises while grad mode is
    # on; on any other tensor it writes into the tensor's own storage (views and aliases see
    # it) and bumps its version; when it is recorded (grad mode, and self or the operand
    # requires grad) self takes the op's node as its grad_fn, computed on a stand-in for self's
    # old value (a copy when the op's backward reads it).
    def _check_inplace(self, op):
        if _grad_mode.enabled and self.requires_grad and self.is_leaf:
            raise RuntimeError(f"{op}: a leaf tensor that requires grad is being used in an in-place "
                               "operation; wrap it in pycnn.no_grad()")

    def _write(self, op, array):
        """self's storage = array (same shape, castable dtype), in place; bumps the version."""
        if tuple(array.shape) != self.shape:
            raise RuntimeError(f"{op}: output with shape {self.shape} doesn't match the broadcast "
                               f"shape {tuple(array.shape)}")
        if (is_floating(array.dtype) and not is_floating(self.dtype)) or \
                (self.dtype == bool_ and array.dtype != bool_):
            raise RuntimeError(f"{op}: result type {array.dtype} can't be cast to the desired output "
                               f"type {self.dtype} (tensor of shape {self.shape})")
        try:
            self._array[...] = array
        except ValueError as e:  # a broadcast (expand) view is read-only
            raise RuntimeError(f"{op}: unsupported operation: more than one element of the written-to "
                               f"tensor of shape {self.shape} refers to a single memory location; "
                               "clone() it first") from e
        self._vc[0] += 1

    def _inplace(self, op, fn, *operands, saves_self=True):
        """self = fn(self, *operands) in place, recorded in the graph when it needs to be."""
        self._check_inplace(op)
        for o in operands:
            if isinstance(o, Tensor) and o.device != self.device:
                raise RuntimeError(f"{op}: in-place op: the operand is on {o.device} but the tensor "
                                   f"is on {self.device}")
        record = _grad_mode.enabled and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands))
        if not record:
            with no_grad():
                self._write(op, fn(self, *operands)._array)
            return self
        if self._vc[1]:
            raise RuntimeError(f"{op}: an in-place operation on a tensor that shares its memory with "
                               "another tensor (a view, or detach()/.data) is not supported while "
                               "recording a graph; use the out-of-place op or clone() first")
        old = Tensor._wrap(self._array.copy() if saves_self else self._array, self.device)
        old.requires_grad, old.grad_fn, old._output_index = self.requires_grad, self.grad_fn, self._output_index
        new = fn(old, *operands)
        self._write(op, new._array)
        if new.dtype != self.dtype:
            new = ops.Cast.apply(new, dtype=self.dtype)
        self.grad_fn, self._output_index, self.requires_grad = new.grad_fn, new._output_index, True
        return self

    def _operand(self, other):
        if isinstance(other, Tensor):
            if other.device != self.device:
                raise RuntimeError(f"in-place op: the operand is on {other.device} but the tensor is on {self.device}")
            return other._array
        if isinstance(other, np.ndarray) and self.device.type != "cpu":
            return backend(self.device).from_host(other)
        return other

    def _fill_checked(self, op):
        """zero_/fill_/copy_/__setitem__ are not recorded: refuse them on a tensor in the graph."""
        self._check_inplace(op)
        if _grad_mode.enabled and self.grad_fn is not None:
            raise RuntimeError(f"{op}: in-place writes to a tensor that is part of a graph are not "
                               "supported; use pycnn.where or an out-of-place op")

    def zero_(self):
        self._fill_checked("zero_")
        self._array[...] = 0
        self._vc[0] += 1
        return self

    def fill_(self, value):
        self._fill_checked("fill_")
        self._array[...] = value
        self._vc[0] += 1
        return self

    def copy_(self, src):
        self._fill_checked("copy_")
        if isinstance(src, Tensor) and src.device != self.device:
            src = src.to(self.device)
        src = self._operand(src)
        shape = tuple(getattr(src, "shape", np.shape(src)))
        if shape != self.shape and np.broadcast_shapes(shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_: source shape {shape} does not broadcast to {self.shape}")
        self._array[...] = src
        self._vc[0] += 1
        return self

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = ops.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
        return self._inplace("add_", ops.add, other, saves_self=False)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = ops.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
        return self._inplace("sub_", ops.sub, other, saves_self=False)

    def mul_(self, other):
        return self._inplace("mul_", ops.mul, other)

    def div_(self, other):
        return self._inplace("div_", ops.div, other)

    def relu_(self):
        return self._inplace("relu_", lambda a: ops.Relu.apply(a), saves_self=False)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def clone(self):
        return ops.Clone.apply(self)

    def contiguous(self):
        return self

    # ---------------------------------------------------------------- operators
    def __add__(self, o): return ops.add(self, o)
    def __radd__(self, o): return ops.add(o, self)
    def __sub__(self, o): return ops.sub(self, o)
    def __rsub__(self, o): return ops.sub(o, self)
    def __mul__(self, o): return ops.mul(self, o)
    def __rmul__(self, o): return ops.mul(o, self)
    def __truediv__(self, o): return ops.div(self, o)
    def __rtruediv__(self, o): return ops.div(o, self)
    def __neg__(self): return ops.Neg.apply(self)
    def __pow__(self, o): return ops.pow(self, o)
    def __rpow__(self, o): return ops.pow(o, self)
    def __matmul__(self, o): return ops.matmul(self, o)
    def __rmatmul__(self, o): return ops.matmul(o, self)
    def __getitem__(self, idx): return ops.getitem(self, idx)
    def __eq__(self, o): return ops.compare(self, o, "eq")
    def __ne__(self, o): return ops.compare(self, o, "ne")
    def __lt__(self, o): return ops.compare(self, o, "lt")
    def __le__(self, o): return ops.compare(self, o, "le")
    def __gt__(self, o): return ops.compare(self, o, "gt")
    def __ge__(self, o): return ops.compare(self, o, "ge")

    def __setitem__(self, idx, value):
        self._fill_checked("__setitem__")
        self._array[ops.unwrap_index(idx, self.device)] = self._operand(value)
        self._vc[0] += 1

    # ---------------------------------------------------------------- methods (see ops)
    def add(self, o): return ops.add(self, o)
    def sub(self, o): return ops.sub(self, o)
    def mul(self, o): return ops.mul(self, o)
    def div(self, o): return ops.div(self, o)
    def neg(self): return ops.Neg.apply(self)
    def pow(self, e): return ops.pow(self, e)
    def exp(self): return ops.float_unary(ops.Exp, self)
    def log(self): return ops.float_unary(ops.Log, self)
    def sqrt(self): return ops.float_unary(ops.Sqrt, self)
    def abs(self): return ops.Abs.apply(self)
    def relu(self): return ops.Relu.apply(self)
    def sigmoid(self): return ops.float_unary(ops.Sigmoid, self)
    def tanh(self): return ops.float_unary(ops.Tanh, self)
    def matmul(self, o): return ops.matmul(self, o)
    def sum(self, dim=None, keepdim=False): return ops.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return ops.mean(self, dim, keepdim)
    def max(self, dim=None, keepdim=False): return ops.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return ops.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return ops.argmax(self, dim, keepdim)
    def reshape(self, *shape): return ops.reshape(self, *shape)
    def view(self, *shape): return ops.reshape(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    def permute(self, *dims): return ops.permute(self, *dims)
    def t(self): return ops.transpose(self, 0, 1) if self.ndim == 2 else self
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def squeeze(self, dim=None): return ops.squeeze(self, dim)
    def expand(self, *shape): return ops.expand(self, *shape)
    def softmax(self, dim): return ops.softmax(self, dim)
    def log_softmax(self, dim): return ops.log_softmax(self, dim)

    # ---------------------------------------------------------------- the rest of torch's surface
    # (pycnn/ops_extra.py)
    def clamp(self, min=None, max=None): return ops_extra.clamp(self, min, max)  # noqa: A002
    clip = clamp

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._inplace("clamp_", lambda a: ops_extra.clamp(a, min, max), saves_self=False)
    clip_ = clamp_

    def masked_fill(self, mask, value): return ops_extra.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill_", lambda a: ops_extra.masked_fill(a, mask, value), saves_self=False)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return ops_extra.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return ops_extra.std(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p="fro", dim=None, keepdim=False): return ops_extra.norm(self, p, dim, keepdim)
    def prod(self, dim=None, keepdim=False): return ops_extra.prod(self, dim, keepdim)
    def cumsum(self, dim): return ops_extra.cumsum(self, dim)
    def any(self, dim=None, keepdim=False): return ops_extra.any(self, dim, keepdim)
    def all(self, dim=None, keepdim=False): return ops_extra.all(self, dim, keepdim)
    def repeat(self, *sizes): return ops_extra.repeat(self, *sizes)
    def tile(self, dims): return ops_extra.tile(self, dims)
    def flip(self, dims): return ops_extra.flip(self, dims)
    def roll(self, shifts, dims=None): return ops_extra.roll(self, shifts, dims)
    def narrow(self, dim, start, length): return ops_extra.narrow(self, dim, start, length)
    def split(self, split_size, dim=0): return ops_extra.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return ops_extra.chunk(self, chunks, dim)
    def unflatten(self, dim, sizes): return ops_extra.unflatten(self, dim, sizes)
    def expand_as(self, other): return ops.expand(self, *other.shape)
    def view_as(self, other): return ops.reshape(self, *other.shape)
    def reshape_as(self, other): return ops.reshape(self, *other.shape)
    def sort(self, dim=-1, descending=False, stable=False): return ops_extra.sort(self, dim, descending, stable)
    def argsort(self, dim=-1, descending=False, stable=False): return ops_extra.argsort(self, dim, descending, stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return ops_extra.topk(self, k, dim, largest, sorted)  # noqa: A002
    def sign(self): return ops_extra._stepwise(self, "sign")
    def floor(self): return ops_extra._stepwise(self, "floor")
    def ceil(self): return ops_extra._stepwise(self, "ceil")
    def round(self): return ops_extra._stepwise(self, "round")
    def log1p(self): return ops.float_unary(ops_extra.Log1p, self)
    def rsqrt(self): return ops.float_unary(ops_extra.Rsqrt, self)
    def maximum(self, other): return ops_extra.maximum(self, other)
    def minimum(self, other): return ops_extra.minimum(self, other)
    def eq(self, o): return ops.compare(self, o, "eq")
    def ne(self, o): return ops.compare(self, o, "ne")
    def lt(self, o): return ops.compare(self, o, "lt")
    def le(self, o): return ops.compare(self, o, "le")
    def gt(self, o): return ops.compare(self, o, "gt")
    def ge(self, o): return ops.compare(self, o, "ge")
    def isnan(self): return ops_extra.isnan(self)
    def isfinite(self): return ops_extra.isfinite(self)
    def mm(self, mat2): return ops_extra.mm(self, mat2)
    def bmm(self, mat2): return ops_extra.bmm(self, mat2)
    def is_contiguous(self, memory_format=None): return True  # every pycnn tensor is C-contiguous
    def element_size(self): return self.dtype.itemsize
    def __invert__(self): return ops_extra.logical_not(self)
    def __floordiv__(self, o): return ops_extra.floor_divide(self, o)
    def __rfloordiv__(self, o): return ops_extra.floor_divide(o, self)
    def __mod__(self, o): return ops_extra.remainder(self, o)
    def __rmod__(self, o): return ops_extra.remainder(o, self)
    def __abs__(self): return self.abs()
    def __pos__(self): return self

    def __index__(self):
        if self.ndim != 0 or self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an index "
                            f"(got shape {self.shape}, dtype {self.dtype})")
        return int(self.item())


def _as_tensor_args(data):
    """Lists may contain Tensors (e.g. [t1, t2]): turn them into host arrays first."""
    if isinstance(data, (list, tuple)):
        return [_as_tensor_args(d) for d in data]
    if isinstance(data, Tensor):
        return data._host()
    return data


from . import ops  # noqa: E402  (ops needs Tensor and Function defined above)
from . import ops_extra  # noqa: E402
