"""DistributedDataParallel: one model replica per MPI rank, gradients averaged after backward.

torch.nn.parallel.DistributedDataParallel's contract: at wrap time the ranks check that they
hold the same parameters (names, shapes, dtypes) and take rank 0's parameters and buffers; each
forward takes rank 0's buffers (BatchNorm running stats) again; after ``backward()`` every
parameter's ``.grad`` is the mean over the ranks of the local grads, so ``optimizer.step()`` makes
the same update everywhere, and N ranks on batches of B equal one process on their concatenated
N*B batch (for losses that are means over the batch, and no BatchNorm in train mode).

How the all-reduce runs after backward: pycnn's tape has no post-accumulate-grad hooks, so the
forward threads its floating Tensor inputs through one identity node (_GradSync) that also takes
every parameter.  Backward reaches that node last, after every layer has added its grads to
``.grad``; its backward all-reduces them, bucket by bucket (fewer, larger messages).  Limits of
that: a parameter used through ops that do not depend on the inputs (``w2 = self.w * 2`` before
use) may get its grad after the reduction, and so may the parameters of a second forward feeding
the same backward (run one forward per backward, as torch asks).  Lifting both, and overlapping the
messages with backward, needs a post-accumulate-grad hook per parameter and an end-of-backward
callback in the tape (bench/README.md has the numbers).
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .. import distributed as dist
from .._backend import backend
from .._device import canonical_device
from ..tensor import Function, Tensor, is_grad_enabled
from .module import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters of one dtype whose grads travel in one message: flat = [grads..., one flag per
    parameter], so the same Allreduce also counts on how many ranks each parameter had a grad."""

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params])
        self.numel = int(self.offsets[-1])
        self.flat = np.empty(self.numel + len(params), dtype=dtype)

    def all_reduce_grads(self, world: int):
        flat, n = self.flat, self.numel
        for i, p in enumerate(self.params):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            if p.grad is None:
                flat[lo:hi] = 0
                flat[n + i] = 0
            else:
                flat[lo:hi] = p.grad._host().reshape(-1)
                flat[n + i] = 1
        dist._all_reduce_array(flat, dist.ReduceOp.SUM, what="DistributedDataParallel gradient all_reduce")
        flat[:n] /= world
        for i, p in enumerate(self.params):
            if flat[n + i] == 0:  # no rank had a grad: leave it None, as one process would
                continue
            g = flat[self.offsets[i]:self.offsets[i + 1]].reshape(p.shape)
            if p.grad is None:
                p.grad = Tensor._wrap(backend(p.device).from_host(np.array(g)), p.device)
            else:
                p.grad._copy_from_host(g)


class _GradSync(Function):
    """Identity on the inputs; its backward runs after every parameter's grad is in (the inputs
    feed every layer), and reduces them.  Positional args: the n inputs, then the parameters."""

    def forward(self, *arrays, ddp=None, n_inputs=0):
        self.ddp, self.n_inputs = ddp, n_inputs
        out = arrays[:n_inputs]
        return out if n_inputs > 1 else out[0]

    def backward(self, *grads):
        self.ddp._reduce_gradients()
        return tuple(grads) + (None,) * (len(self.inputs) - self.n_inputs)


class DistributedDataParallel(Module):
    """Wraps `module` for data-parallel training over the ranks of pycnn.distributed (init() first).

    bucket_cap_mb: the largest gradient message, in MiB (torch's default 25).  broadcast_buffers:
    rank 0's buffers at every forward.  device_ids / output_device: None, or the one device the
    module is on.  find_unused_parameters is accepted: a parameter without a grad on some ranks
    counts as zero there, and stays None only when no rank has a grad for it.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel: only dim=0 (the batch dimension) is supported, got {dim}")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: only the default process group is supported")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = bucket_cap_mb
        self.require_backward_grad_sync = True  # torch's flag; no_sync() clears it
        self.world_size = dist.world_size()
        self.rank = dist.rank()
        self.reduce_seconds = 0.0    # wall time spent in gradient all-reduces (bench/bench_distributed.py)
        self.reduce_calls = 0        # backward passes that reduced
        params = [p for p in module.parameters() if p.requires_grad]
        devices = {p.device for p in module.parameters()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel: the module's parameters are on several devices "
                             f"{sorted(map(str, devices))}; put it on one")
        for name, ids in (("device_ids", None if device_ids is None else list(device_ids)),
                          ("output_device", None if output_device is None else [output_device])):
            # torch: None for CPU modules, [i] (or [device]) for a module on one CUDA device
            wanted = None if ids is None or len(ids) != 1 else \
                canonical_device(f"cuda:{ids[0]}" if isinstance(ids[0], int) else ids[0])
            if ids is not None and (wanted is None or {wanted} != devices):
                given = device_ids if name == "device_ids" else output_device
                raise ValueError(f"DistributedDataParallel: {name} must be None or name the one device the "
                                 f"module is on ({', '.join(sorted(map(str, devices)))}), got {given!r}")
        self._check_same_model()
        self._params = params
        self._buckets = self._make_buckets(params, int(bucket_cap_mb * 2**20))
        if init_sync and self.world_size > 1:
            _broadcast_coalesced(list(module.parameters()) + [b for _, b in module.named_buffers()],
                                 "DistributedDataParallel parameter broadcast")

    # ---------------------------------------------------------------- construction
    def _check_same_model(self):
        """Every rank holds the same parameters and buffers, or every rank raises the same error."""
        mine = [("parameter", n, p.shape, p.dtype.name) for n, p in self.module.named_parameters()]
        mine += [("buffer", n, b.shape, b.dtype.name) for n, b in self.module.named_buffers()]
        every = dist.all_gather_object(mine)
        problems = []
        for r, theirs in enumerate(every[1:], 1):
            ref = every[0]
            if len(theirs) != len(ref):
                problems.append(f"rank {r} has {len(theirs)} parameters and buffers where rank 0 has {len(ref)}")
            for a, b in zip(ref, theirs):
                if a != b:
                    problems.append(f"rank {r} has {b[0]} '{b[1]}' of shape {b[2]} ({b[3]}) where rank 0 has "
                                    f"{a[0]} '{a[1]}' of shape {a[2]} ({a[3]})")
                    break
        if problems:
            raise RuntimeError("DistributedDataParallel: the model differs between ranks: " + "; ".join(problems))

    @staticmethod
    def _make_buckets(params, cap_bytes):
        """Buckets in reverse parameter order (torch's: the last layers' grads are ready first)."""
        buckets, current, size, dtype = [], [], 0, None
        for p in reversed(params):
            nbytes = p.numel() * p.dtype.itemsize
            if current and (p.dtype != dtype or size + nbytes > cap_bytes):
                buckets.append(_Bucket(current, dtype))
                current, size = [], 0
            current.append(p)
            size += nbytes
            dtype = p.dtype
        if current:
            buckets.append(_Bucket(current, dtype))
        return buckets

    @property
    def bucket_sizes(self) -> list:
        """Elements per gradient message (each bucket's grads, without its flags)."""
        return [b.numel for b in self._buckets]

    # ---------------------------------------------------------------- forward / backward
    @contextlib.contextmanager
    def no_sync(self):
        """Forwards inside accumulate grads locally; the first backward of a forward outside
        reduces the accumulated sum (torch's gradient-accumulation recipe)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.world_size > 1:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers:
                _broadcast_coalesced(buffers, "DistributedDataParallel buffer broadcast")
        if self.require_backward_grad_sync and is_grad_enabled() and self._params:
            slots = [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.dtype.kind == "f"]
            if not slots:
                raise RuntimeError(
                    "DistributedDataParallel: forward needs a floating-point Tensor positional input to run the "
                    "gradient all-reduce after backward, got " + ", ".join(type(a).__name__ for a in inputs))
            synced = _GradSync.apply(*(inputs[i] for i in slots), *self._params, ddp=self, n_inputs=len(slots))
            synced = synced if isinstance(synced, tuple) else (synced,)
            inputs = list(inputs)
            for i, t in zip(slots, synced):
                inputs[i] = t
        return self.module(*inputs, **kwargs)

    def _reduce_gradients(self):
        if self.world_size == 1:
            return
        start = time.perf_counter()
        for bucket in self._buckets:
            bucket.all_reduce_grads(self.world_size)
        self.reduce_seconds += time.perf_counter() - start
        self.reduce_calls += 1

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={self.bucket_sizes}"


def _broadcast_coalesced(tensors, what):
    """Rank 0's values into `tensors`, one message per dtype."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([t._host().reshape(-1) for t in group]) if group else np.empty(0, dtype)
        flat = np.ascontiguousarray(flat, dtype=dtype)
        dist._broadcast_array(flat, 0, what=what)
        offset = 0
        for t in group:
            n = t.numel()
            t._copy_from_host(flat[offset:offset + n].reshape(t.shape))
            offset += n
