"""Processes that train together over MPI (mpi4py): torch.distributed's collectives on Tensors.

    mpiexec -n 4 python train.py        # in train.py:
    import pycnn.distributed as dist
    dist.init()                          # torch: dist.init_process_group("mpi")
    dist.all_reduce(t)                   # in place, sum over the ranks (op=ReduceOp.AVG: the mean)

The optional extra ``pycnn[mpi]`` brings mpi4py and the mpich wheel (an MPI library and its
``mpiexec``).  Without mpiexec, one process is a world of size 1 (MPI's singleton init).
Collectives run on host arrays: a CUDA tensor is staged through host memory for now.

Faults: MPI itself waits forever for a rank that raised or exited.  So ``init`` installs an
excepthook that prints the traceback and calls MPI_Abort (mpiexec then stops every rank), and
with ``timeout`` a watchdog thread aborts the job when one collective waits longer than that
(a rank died, hangs, or took another path through the code).
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback

import numpy as np

from .tensor import Tensor

__all__ = ["ReduceOp", "is_available", "init", "init_process_group", "is_initialized",
           "destroy_process_group", "rank", "get_rank", "world_size", "get_world_size", "barrier",
           "all_reduce", "broadcast", "all_gather", "all_gather_object", "broadcast_object"]


class ReduceOp:
    """torch.distributed.ReduceOp's names.  AVG is SUM then a division by the world size."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_ENV_TIMEOUT = "PYCNN_DIST_TIMEOUT"  # seconds; the default timeout of init()


class _Watchdog:
    """One daemon thread; a collective arms a deadline before it blocks and disarms it after.
    Past the deadline the whole job is aborted (MPI_Abort needs MPI_THREAD_MULTIPLE, mpi4py's
    default thread level)."""

    def __init__(self, comm, timeout: float):
        self.comm, self.timeout = comm, float(timeout)
        self.cond = threading.Condition()
        self.deadline = None
        self.what = ""
        threading.Thread(target=self._run, name="pycnn-dist-watchdog", daemon=True).start()

    def _run(self):
        with self.cond:
            while True:
                if self.deadline is None:
                    self.cond.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                _report_and_abort(
                    self.comm,
                    f"pycnn.distributed: rank {self.comm.Get_rank()}/{self.comm.Get_size()}: {self.what} did not "
                    f"complete within {self.timeout:g} s (another rank raised, died or skipped it); "
                    "aborting the job\n")

    def __call__(self, what: str):
        return _Armed(self, what)


class _Armed:
    def __init__(self, dog, what):
        self.dog, self.what = dog, what

    def __enter__(self):
        with self.dog.cond:
            self.dog.deadline, self.dog.what = time.monotonic() + self.dog.timeout, self.what
            self.dog.cond.notify()

    def __exit__(self, *exc):
        with self.dog.cond:
            self.dog.deadline = None


class _Unarmed:
    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


class _State:
    comm = None
    MPI = None
    watchdog = None
    previous_excepthook = None


_state = _State()


def is_available() -> bool:
    """True when mpi4py can be imported (``pip install "pycnn[mpi]"``)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"pycnn.distributed needs mpi4py and an MPI library: pip install \"pycnn[mpi]\" "
                           f"(mpi4py and mpich) ({e})") from None
    return MPI


def init(timeout: "float | None" = None, abort_on_exception: bool = True):
    """Joins the MPI job (COMM_WORLD); a second call does nothing.

    timeout: seconds one collective may wait before the job is aborted (None: the environment
    variable PYCNN_DIST_TIMEOUT, else no limit).  abort_on_exception: an uncaught exception on
    any rank prints its traceback and aborts every rank (with more than one rank)."""
    if _state.comm is not None:
        return
    MPI = _mpi()
    _state.MPI, _state.comm = MPI, MPI.COMM_WORLD
    if timeout is None and os.environ.get(_ENV_TIMEOUT):
        timeout = float(os.environ[_ENV_TIMEOUT])
    if timeout is not None:
        if not timeout > 0:
            raise ValueError(f"pycnn.distributed.init: timeout must be > 0 seconds, got {timeout}")
        _state.watchdog = _Watchdog(_state.comm, timeout)
    if abort_on_exception and _state.comm.Get_size() > 1:
        _state.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_excepthook


def init_process_group(backend: str = "mpi", timeout=None, **kwargs):
    """torch's name for init(); only the 'mpi' backend exists.  timeout: seconds or a timedelta."""
    if backend not in ("mpi", None):
        raise ValueError(f"init_process_group: backend {backend!r} is not supported; pycnn runs on 'mpi'")
    if kwargs.get("rank", -1) not in (-1, None) or kwargs.get("world_size", -1) not in (-1, None):
        raise ValueError("init_process_group: rank and world_size come from mpiexec with the mpi backend")
    if timeout is not None and hasattr(timeout, "total_seconds"):
        timeout = timeout.total_seconds()
    init(timeout=timeout)


# How long a rank that aborts the job waits after writing its message: MPI_Abort makes mpiexec
# tear the job down, and the last bytes a rank wrote to stderr can be lost in that race (seen in
# CI: the watchdog's message missing, the job's stderr empty, 2 runs of 3 in the full test suite).
_ABORT_GRACE_S = 0.5


def _report_and_abort(comm, message: str):
    """Writes message to stderr, gives mpiexec time to forward it, then aborts every rank."""
    sys.stderr.write(message)
    sys.stderr.flush()
    time.sleep(_ABORT_GRACE_S)
    comm.Abort(1)  # asks mpiexec to stop every rank; it may return before this one dies
    os._exit(1)


def _abort_excepthook(kind, value, tb):
    r = _state.comm.Get_rank()
    text = "".join(traceback.format_exception(kind, value, tb))
    _report_and_abort(_state.comm, f"pycnn.distributed: rank {r} raised; aborting every rank\n{text}")


def is_initialized() -> bool:
    return _state.comm is not None


def destroy_process_group():
    """Forgets the group (MPI itself is finalized at exit by mpi4py)."""
    if _state.previous_excepthook is not None:
        sys.excepthook = _state.previous_excepthook
    if _state.watchdog is not None:
        _state.watchdog.timeout = float("inf")
    _state.comm = _state.watchdog = _state.previous_excepthook = None


def _comm():
    if _state.comm is None:
        raise RuntimeError("pycnn.distributed: the process group is not initialized; call "
                           "pycnn.distributed.init() first (under mpiexec -n N)")
    return _state.comm


def _guard(what: str):
    return _state.watchdog(what) if _state.watchdog is not None else _Unarmed()


def rank() -> int:
    return _comm().Get_rank()


def world_size() -> int:
    return _comm().Get_size()


get_rank = rank
get_world_size = world_size


def barrier():
    with _guard("barrier"):
        _comm().Barrier()


# ---------------------------------------------------------------- on host arrays (used by nn.parallel)
def _mpi_op(op):
    MPI = _state.MPI
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
             ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
    if op not in table:
        raise ValueError(f"all_reduce: unknown op {op!r}; expected one of ReduceOp.SUM, AVG, PRODUCT, MIN, MAX")
    return table[op]


def _all_reduce_array(a: np.ndarray, op=ReduceOp.SUM, what="all_reduce"):
    """a (C-contiguous host array) = the reduction of every rank's a, in place."""
    comm = _comm()
    mpi_op = _mpi_op(op)
    with _guard(f"{what} of {a.size} {a.dtype} elements"):
        comm.Allreduce(_state.MPI.IN_PLACE, a, op=mpi_op)
    if op == ReduceOp.AVG:
        a /= comm.Get_size()


def _broadcast_array(a: np.ndarray, src=0, what="broadcast"):
    with _guard(f"{what} of {a.size} {a.dtype} elements from rank {src}"):
        _comm().Bcast(a, root=src)


def _sum_over_ranks(*values):
    """Python numbers summed over the ranks (float64; one message)."""
    a = np.array(values, dtype=np.float64)
    _all_reduce_array(a, ReduceOp.SUM, what="sum of metrics")
    return tuple(a.tolist())


def all_gather_object(obj) -> list:
    """Every rank's obj (pickled), in rank order.  (torch fills a list argument instead.)"""
    with _guard("all_gather_object"):
        return _comm().allgather(obj)


def broadcast_object(obj, src=0):
    """src's obj on every rank (pickled)."""
    with _guard(f"broadcast_object from rank {src}"):
        return _comm().bcast(obj, root=src)


# ---------------------------------------------------------------- on Tensors
def _check_tensor(fn, tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind not in "fi":
        raise TypeError(f"{fn}: tensors of dtype {tensor.dtype} cannot be reduced; use float32, float64 or int64")


def _staged(tensor):
    """A C-contiguous host array holding tensor's data: the array itself when it already is one."""
    if tensor.device.type == "cpu" and tensor._array.flags.c_contiguous:
        return tensor._array, False
    return np.ascontiguousarray(tensor._host()), True


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """tensor = op over every rank's tensor, in place (same shape and dtype on every rank)."""
    _check_tensor("all_reduce", tensor)
    _check_group("all_reduce", group, async_op)
    if op == ReduceOp.AVG and tensor.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {tensor.dtype}")
    host, copied = _staged(tensor)
    _all_reduce_array(host, op)
    if copied:
        tensor._copy_from_host(host)


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op=False):
    """tensor = src's tensor, in place on every rank."""
    _check_tensor("broadcast", tensor)
    _check_group("broadcast", group, async_op)
    _check_src("broadcast", src)
    host, copied = _staged(tensor)
    _broadcast_array(host, src)
    if copied:
        tensor._copy_from_host(host)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op=False):
    """tensor_list[r] = rank r's tensor (torch's argument order: the output list first)."""
    _check_tensor("all_gather", tensor)
    _check_group("all_gather", group, async_op)
    n = world_size()
    if not isinstance(tensor_list, list) or len(tensor_list) != n:
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of world_size={n} tensors, got {got}")
    for i, t in enumerate(tensor_list):
        if not isinstance(t, Tensor) or t.shape != tensor.shape or t.dtype != tensor.dtype:
            desc = f"{t.shape} {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"all_gather: tensor_list[{i}] is {desc}, expected {tensor.shape} {tensor.dtype}")
    send, _ = _staged(tensor)
    out = np.empty((n,) + send.shape, dtype=send.dtype)
    with _guard(f"all_gather of {send.size} {send.dtype} elements"):
        _comm().Allgather(send, out)
    for t, part in zip(tensor_list, out):
        t._copy_from_host(part)


def _check_group(fn, group, async_op):
    if group is not None:
        raise ValueError(f"{fn}: only the default group (COMM_WORLD) is supported, got group={group!r}")
    if async_op:
        raise ValueError(f"{fn}: async_op=True is not supported; collectives are blocking")


def _check_src(fn, src):
    n = world_size()
    if not 0 <= int(src) < n:
        raise ValueError(f"{fn}: src must be a rank in [0, {n}), got {src}")
