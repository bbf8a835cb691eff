"""Optimizer base: parameter groups, zero_grad, state_dict (torch.optim.Optimizer semantics)."""
from __future__ import annotations

import copy

import numpy as np

from .._backend import backend
from ..tensor import Tensor, enable_grad, no_grad


class NonLeafError(ValueError, TypeError):
    """A non-leaf Tensor given as a parameter: a ValueError as in torch, and a TypeError as pycnn raised
    before (numpy's AxisError is a ValueError and an IndexError in the same way)."""


class Optimizer:
    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict = {}  # id(param) -> per-parameter state (arrays)
        self.param_groups: list = []
        if isinstance(params, Tensor) or isinstance(params, dict):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                            f"got a {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict):
        """Append a group {'params': [...], hyper-parameter: value, ...}; missing values come from defaults."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        group = dict(group)
        ps = group["params"]
        if isinstance(ps, (set, frozenset)):  # torch's rule: the order must be reproducible
            raise TypeError(f"{name}.add_param_group: params must be an ordered collection, not a set")
        group["params"] = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got a {type(p).__name__}")
            if not p.is_leaf:
                raise NonLeafError(f"{name}: can't optimize a non-leaf Tensor (shape {tuple(p.shape)})")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad._array[...] = 0

    def state_dict(self) -> dict:
        """{'state': {index: {name: array}}, 'param_groups': [...with 'params' as indices]} as torch."""
        index = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        device_of = {id(p): p.device for g in self.param_groups for p in g["params"]}
        state = {index[pid]: {k: _to_host(v, device_of[pid]) for k, v in s.items()}
                 for pid, s in self.state.items() if pid in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: parameter groups do not match "
                             "(different number of groups or of parameters per group)")
        params = [p for g in self.param_groups for p in g["params"]]
        self.state = {}
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        for g_saved, g in zip(groups, self.param_groups):
            for k, v in g_saved.items():
                if k != "params":
                    g[k] = copy.deepcopy(v)
            for i, p in zip(g_saved["params"], g["params"]):
                if int(i) in saved_state:
                    self.state[id(p)] = {k: _on_device(v, p) for k, v in saved_state[int(i)].items()}
        del params

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient: run the closure (if any) with grad on,
        then `_update` each such parameter in place, group by group, in order (as torch's for-loop)."""
        loss = None
        if closure is not None:
            with enable_grad():  # the closure recomputes the loss and calls backward
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p, group, backend(p.device).xp)
                p._vc[0] += 1  # an in-place update: a graph that saved p sees it (see Tensor)
        return loss

    def _update(self, p, group, xp):
        """Update p._array in place from p.grad with the group's hyper-parameters (xp: p's array module)."""
        raise NotImplementedError(f"{type(self).__name__}.step is not defined")

    @staticmethod
    def _grad(p, group, weight_decay=True):
        """g = (-grad if maximize else grad) + weight_decay * p (the L2 term only when weight_decay)."""
        g = -p.grad._array if group["maximize"] else p.grad._array
        if weight_decay and group["weight_decay"]:
            g = g + group["weight_decay"] * p._array
        return g

    def _state(self, p, xp, *buffers):
        """p's state; on the first step 'step' (a 0-d array) and a zero array like p per name in buffers."""
        state = self.state.setdefault(id(p), {})
        if "step" not in state:
            state["step"] = xp.zeros((), dtype=p._array.dtype)
            for name in buffers:
                state[name] = xp.zeros_like(p._array)
        return state


def _to_host(value, device):
    """A state entry as a host numpy copy (the state itself lives on its parameter's device)."""
    return np.array(backend(device).to_host(value) if device.type != "cpu" else value, copy=True)


def _on_device(value, p):
    """A saved state entry as an array of p's dtype on p's device."""
    host = np.array(value.detach()._host() if isinstance(value, Tensor) else value, dtype=p.dtype, copy=True)
    return host if p.device.type == "cpu" else backend(p.device).from_host(host)
