"""pycnn.device: where a tensor lives (torch.device's names and rules).

``device('cpu')``, ``device('cuda')`` (the current CUDA device, index 0), ``device('cuda:1')``,
``device('cuda', 0)``.  A device compares equal to another device of the same type and index, and
to its own string (``device('cuda', 0) == 'cuda:0'``); a tensor's ``.device`` always carries the
index of a CUDA device, as in PyTorch.
"""
from __future__ import annotations

_TYPES = ("cpu", "cuda")


class device:  # noqa: N801  (torch's name)
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device: an index was given twice: {type!r} and {index!r}")
            type, index = type.type, type.index
        elif not isinstance(type, str):
            kind = getattr(type, "type", None)  # e.g. a torch.device
            if not isinstance(kind, str):
                raise TypeError(f"device: expected a string like 'cpu', 'cuda' or 'cuda:0', got {type!r}")
            type, index = kind, getattr(type, "index", None) if index is None else index
        name = type
        if ":" in type:
            if index is not None:
                raise ValueError(f"device: {type!r} already names an index, and index={index!r} was given")
            name, _, idx = type.partition(":")
            if not idx.isdigit():
                raise ValueError(f"device: invalid device string {type!r} (expected 'cpu', 'cuda' or 'cuda:N')")
            index = int(idx)
        if name not in _TYPES:
            raise ValueError(f"device: unknown device type {name!r} in {type!r}: expected 'cpu' or 'cuda'")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise ValueError(f"device: the index must be a non-negative int, got {index!r}")
            if name == "cpu" and index != 0:
                raise ValueError(f"device: the cpu device has index 0 only, got {index}")
            if name == "cpu":
                index = None
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device is immutable")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash(str(self))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def canonical_device(dev) -> device:
    """A tensor's device from what a user passed: None is the CPU, 'cuda' the current CUDA device."""
    if dev is None or dev is CPU:
        return CPU
    d = dev if isinstance(dev, device) else device(dev)
    if d.type == "cpu":  # the one CPU object: Function.apply's same-device check is then an `is`
        return CPU
    if d.type == "cuda" and d.index is None:
        from . import cuda

        d = device("cuda", cuda.current_device())
    return d
