"""Module and Parameter (torch.nn.Module semantics: registration by attribute,
dotted state_dict keys, train/eval, recursive repr)."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .._dlpack import host_array
from ..tensor import Tensor, canonical_dtype


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as trainable (requires_grad=True)."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):  # shares data's array and device, as torch's Parameter(t)
            Tensor.__init__(self, np.empty(0, dtype=data.dtype))
            self._array, self.device = data.detach()._array, data.device
        else:
            arr = np.asarray(data)
            super().__init__(arr, dtype=arr.dtype)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _none_or(module, kind, what, name, value):
    """value, when it is None or a `kind`: what may replace a registered parameter, child
    module or buffer."""
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{type(module).__name__}: cannot assign {type(value).__name__} as {what} "
                        f"'{name}' (a {kind.__name__} or None is expected)")
    return value


class Module:
    """Base class of every layer; subclasses assign Parameters, buffers and Modules
    as attributes in __init__ and define forward()."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        """torch's rules: a Parameter registers (a plain Tensor or an array may not replace
        one), a Module registers, a Tensor or None assigned to a buffer's name updates it."""
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        # a Parameter (then a Module) registers, leaving the other stores; a name its store
        # holds already takes only that kind or None
        for kind, store, what in ((Parameter, params, "parameter"), (Module, modules, "child module")):
            if isinstance(value, kind):
                for other in (params, buffers, modules, d):
                    if other is not store:
                        other.pop(name, None)
                store[name] = value
                return
            if name in store:
                store[name] = _none_or(self, kind, what, name, value)
                return
        if name in buffers or name in d.get("_buffer_names", ()):
            buffers[name] = _none_or(self, Tensor, "buffer", name, value)
            d.pop(name, None)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign {type(param).__name__} as parameter '{name}' "
                            "(a Parameter or None is expected)")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
        self._buffer_names.add(name)
        if not persistent:
            self._non_persistent.add(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign {type(tensor).__name__} as buffer '{name}' "
                            "(a Tensor or None is expected)")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name, module):
        if not isinstance(name, str) or "." in name or name == "":
            raise KeyError(f"add_module: module name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    # ---------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Pre-order (name, module); a module reachable twice is listed once (as torch)."""
        stack = [(prefix, self)]
        memo = set() if memo is None else memo
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in memo:
                    continue
                memo.add(id(m))
            yield name, m
            children = [(f"{name}.{c}" if name else c, cm) for c, cm in m._modules.items() if cm is not None]
            stack.extend(reversed(children))

    def _named_tensors(self, prefix=""):
        """(key, module, name, tensor) for every parameter and persistent buffer, with the
        keys torch's state_dict uses: shared modules appear under each of their names."""
        for mp, m in self.named_modules(prefix=prefix, remove_duplicate=False):
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{mp}.{name}" if mp else name), p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    yield (f"{mp}.{name}" if mp else name), b

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix=""):
        for mp, m in self.named_modules(prefix=prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---------------------------------------------------------------- modes
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._array[...] = 0

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """Moves every parameter and buffer (and parameters' grads) to `device` and casts the
        floating ones to `dtype`, in place: the same Tensor objects, so an optimizer built
        before the move keeps working (torch's semantics)."""
        for a in args:
            try:
                dtype = canonical_dtype(a)
            except TypeError:
                device = a
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is None:
                        continue
                    cast = dtype if t.dtype.kind == "f" else None
                    new = t.detach().to(dtype=cast, device=device)
                    t._array, t.device = new._array, new.device
                    if t.grad is not None:
                        t.grad = t.grad.to(dtype=cast, device=device)
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- state
    def state_dict(self, *, destination=None, prefix="", keep_vars=False) -> "OrderedDict[str, Tensor]":
        """name -> Tensor, with PyTorch's key names (parameters, then persistent buffers): as in
        torch, detached Tensors sharing storage with the parameters and buffers (on their device),
        or the Parameters themselves with keep_vars=True; into `destination` if given."""
        out = OrderedDict() if destination is None else destination
        for k, t in self._named_tensors(prefix.rstrip(".")):
            out[k] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies values (pycnn Tensors, numpy arrays, or any array exposing __dlpack__ or
        __array__, e.g. torch tensors) into parameters and buffers in place, checking names and
        shapes; returns (missing_keys, unexpected_keys) like torch's _IncompatibleKeys."""
        own = OrderedDict(self._named_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        values, misshapen = {}, []
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                v = host_array(v, f"load_state_dict: {k!r}")
                if tuple(v.shape) != t.shape:
                    misshapen.append(f"{k}: copying a param with shape {tuple(v.shape)} from checkpoint, "
                                     f"the shape in current model is {t.shape}")
                values[k] = v
        errors = []
        if strict and missing:
            errors.append(f"missing key(s) in state_dict: {missing}")
        if strict and unexpected:
            errors.append(f"unexpected key(s) in state_dict: {unexpected}")
        if misshapen:
            errors.append("size mismatch for " + "; ".join(misshapen))
        if errors:
            raise RuntimeError(f"load_state_dict: error(s) in loading state_dict for {type(self).__name__}: "
                               + "; ".join(errors))
        for k, v in values.items():
            own[k]._copy_from_host(v)  # in place: optimizers keep their params
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- call / repr
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
