"""Containers with torch's semantics: Sequential, ModuleList, ModuleDict, ParameterList,
ParameterDict.  The list-like ones keep their children under the names "0", "1", ... and renumber
them after an insertion or a deletion, as torch does (so state_dict keys follow the positions)."""
from __future__ import annotations

from collections import OrderedDict

from .module import Module, Parameter


class _IndexedModules(Module):
    """The list behaviour Sequential and ModuleList share: children "0".."n-1"."""

    def _index(self, i, op):
        n = len(self._modules)
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"{type(self).__name__}.{op}: indices must be integers or slices, got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__}.{op}: index {i} is out of range for length {n}")
        return i % n

    def _renumber(self, modules):
        self._modules.clear()
        for k, m in enumerate(modules):
            self.add_module(str(k), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, i, module):
        key = list(self._modules)[self._index(i, "__setitem__")]
        self.add_module(key, module)

    def __delitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            del items[i]
        else:
            del items[self._index(i, "__delitem__")]
        self._renumber(items)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        n = len(items)
        if not isinstance(index, int) or not -n <= index <= n:
            raise IndexError(f"{type(self).__name__}.insert: index {index} is out of range for length {n}")
        items.insert(index + n if index < 0 else index, module)
        self._renumber(items)
        return self

    def pop(self, i=-1):
        module = self[i]
        del self[i]
        return module


def _unpatched(m, cls):
    """m is a cls (or a subclass) whose forward is cls's own: neither a subclass's nor an instance's
    replacement, which must run as written."""
    return isinstance(m, cls) and type(m).forward is cls.forward and "forward" not in m.__dict__


def _batch_norm_then_relu(m, nxt):
    """Whether Sequential may run the pair (m, nxt) as BatchNorm fused with ReLU: a pycnn BatchNorm
    and a ReLU, neither with its forward replaced.  ReLU(inplace=True) fuses too: the output is the
    same tensor values."""
    from .layers import ReLU
    from .norm import _BatchNorm
    return _unpatched(m, _BatchNorm) and _unpatched(nxt, ReLU)


def _conv_then_relu_without_graph(m, nxt, x):
    """Whether Sequential may run (m, nxt) as conv1d/conv2d with the ReLU fused into its bias pass:
    a zero-padded pycnn Conv1d/Conv2d and a ReLU, neither with its forward replaced, and no autograd
    graph being recorded (no_grad, or neither the input nor the conv's parameters require grad:
    inference, whatever train()/eval() says)."""
    from ..tensor import Tensor, is_grad_enabled
    from .conv import _Conv
    from .layers import ReLU
    if not (_unpatched(m, _Conv) and m.padding_mode == "zeros" and _unpatched(nxt, ReLU) and isinstance(x, Tensor)):
        return False
    return not is_grad_enabled() or not (x.requires_grad or any(p is not None and p.requires_grad
                                                                for p in (m.weight, m.bias)))


class Sequential(_IndexedModules):
    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            if i + 1 < n and _batch_norm_then_relu(m, mods[i + 1]):
                x = m._normalize(x, relu=True)  # one fused kernel pair, the same numbers
                i += 2
            elif i + 1 < n and _conv_then_relu_without_graph(m, mods[i + 1], x):
                x = m._forward_relu(x)  # the ReLU in the conv's bias pass, the same numbers
                i += 2
            else:
                x = m(x)
                i += 1
        return x

    def __getitem__(self, i):
        if isinstance(i, slice):  # keeps the original names, as torch
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[self._index(i, "__getitem__")]

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential: can only add a Sequential, got {type(other).__name__}")
        return Sequential(*self, *other)


class ModuleList(_IndexedModules):
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(list(self._modules.values())[i])
        return list(self._modules.values())[self._index(i, "__getitem__")]

    def __add__(self, other):
        return ModuleList(list(self) + list(other))


class _Mapping(Module):
    """The dict protocol of ModuleDict and ParameterDict over one of Module's ordered registries
    (`_registry`: "_modules" or "_parameters"); subclasses register entries in __setitem__."""

    _registry = "_modules"

    def _entries(self):
        return getattr(self, self._registry)

    def __getitem__(self, key):
        return self._entries()[key]

    def __delitem__(self, key):
        del self._entries()[key]

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries())

    def __contains__(self, key):
        return key in self._entries()

    def keys(self):
        return self._entries().keys()

    def items(self):
        return self._entries().items()

    def values(self):
        return self._entries().values()

    def update(self, entries):
        pairs = entries.items() if hasattr(entries, "items") else entries
        for key, value in pairs:
            self[key] = value


class ModuleDict(_Mapping):
    """An ordered dict of child modules (torch.nn.ModuleDict)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def pop(self, key):
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()


def _as_parameter(value, owner):
    if isinstance(value, Parameter):
        return value
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{owner}: expected a Parameter or a Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of Parameters registered as "0", "1", ... (torch.nn.ParameterList); Tensors are
    wrapped as Parameters."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def __getitem__(self, i):
        items = list(self._parameters.values())
        if isinstance(i, slice):
            return ParameterList(items[i])
        return items[i]

    def __setitem__(self, i, value):
        key = list(self._parameters)[i]
        self.register_parameter(key, _as_parameter(value, "ParameterList"))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        self.register_parameter(str(len(self._parameters)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self


class ParameterDict(_Mapping):
    """An ordered dict of Parameters (torch.nn.ParameterDict)."""

    _registry = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, value):
        self.register_parameter(key, _as_parameter(value, "ParameterDict"))
