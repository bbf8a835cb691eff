"""pycnn: train small convolutional networks on a native C++/OpenMP (and CUDA) core.

The API follows PyTorch's names, argument orders, defaults and semantics.
"""
import builtins as _builtins
import os as _os

import numpy as _np

# libgomp reads its wait policy once, when it loads (with _C below).  Its default spins at every
# barrier, and on a busy machine a spinning thread holds a core the other thread needs: with one
# competing busy process on the 2-core development machine a ResNet-8 step took 186 ms spinning
# and 132 ms passive, a MobileNet-style step 408 vs 289 ms, while idle the two were within noise
# (bench/README.md).  So pycnn asks for the passive policy unless the user chose one.
_OMP_WAIT_POLICY_DEFAULTED = "OMP_WAIT_POLICY" not in _os.environ
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _C  # noqa: E402
from ._device import device
from .tensor import (Function, Tensor, bool_, enable_grad, float32, float64, int64,
                     is_grad_enabled, no_grad)
from .creation import (arange, as_tensor, default_generator, empty, empty_like, eye, from_numpy, full,
                       full_like, linspace, manual_seed, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .ops import (amax, argmax, cat, flatten, log_softmax, matmul, max, mean, min, permute,
                  reshape, softmax, squeeze, stack, sum, transpose, unsqueeze, where)
from .ops_extra import (allclose, argsort, bmm, chunk, clamp, clip, cumsum, einsum, flip, isclose,  # noqa: E402
                        isfinite, isnan, masked_fill, maximum, minimum, mm, narrow, norm, prod, remainder,
                        repeat, roll, sort, split, std, tile, topk, unflatten, var)
from .tensor import set_grad_enabled  # noqa: E402
from . import ops_extra  # noqa: E402
from . import cuda, functional, nn, ops, optim, data, utils, filters, datasets, models, distributed  # noqa: E402
from .serialization import load, save  # noqa: E402
from ._dlpack import from_dlpack  # noqa: E402
from .summary import summary  # noqa: E402

float = float32  # noqa: A001  (torch.float)
double = float64
long = int64

__version__ = _C.build_info()["version"]


def exp(x): return x.exp()
def log(x): return x.log()
def sqrt(x): return x.sqrt()
def abs(x): return x.abs()  # noqa: A001
def neg(x): return -x
def pow(x, exponent): return ops.pow(x, exponent)  # noqa: A001
def relu(x): return x.relu()
def floor_divide(a, b): return ops_extra.floor_divide(a, b)
def sign(x): return x.sign()
def floor(x): return x.floor()
def ceil(x): return x.ceil()
def round(x): return x.round()  # noqa: A001
def log1p(x): return x.log1p()
def rsqrt(x): return x.rsqrt()
def any(x, dim=None, keepdim=False): return ops_extra.any(x, dim, keepdim)  # noqa: A001
def all(x, dim=None, keepdim=False): return ops_extra.all(x, dim, keepdim)  # noqa: A001
def is_tensor(obj) -> bool: return isinstance(obj, Tensor)
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()


def build_info() -> dict:
    """Compiler, OpenMP threads, the SIMD level in use, and CUDA: built (the GPU module), the
    emulated device built, available, and which device 'cuda' means here (or why it cannot run)."""
    info = dict(_C.build_info())
    info["omp_wait_policy"] = _os.environ.get("OMP_WAIT_POLICY", "") + (" (pycnn's default)" if
                                                                       _OMP_WAIT_POLICY_DEFAULTED else "")
    info["cuda_available"] = cuda.is_available()
    info["cuda_device_count"] = cuda.device_count()
    reason = cuda.unavailable_reason()
    if reason is None:
        info["cuda_device"] = ("emulated: " if cuda.is_emulated() else "") + cuda.get_device_name(0)
    else:
        info["cuda_device"] = f"unavailable: {reason}"
    return info


def get_num_threads() -> int:
    return _C.get_num_threads()


def _thread_limit() -> int:
    """The most threads set_num_threads accepts: 4 per hardware thread, at least 64 (libgomp
    aborts the process when it cannot start the threads it was asked for)."""
    return _builtins.max(64, 4 * (_os.cpu_count() or 1))


_forked_child = False  # set in a child forked from this process: see _after_fork_in_child


def set_num_threads(n: int):
    """Threads for the native kernels (OpenMP), 1 <= n <= 4 x the hardware threads (at least 64).

    After ``os.fork()`` (or a ``multiprocessing`` pool with the 'fork' start method) the child
    runs the kernels on one thread: libgomp's thread pool does not survive a fork, and a
    parallel region in the child would wait forever for it.  Asking such a child for more
    threads raises; use the 'spawn' or 'forkserver' start method for parallel workers."""
    if isinstance(n, (bool, _np.bool_)) or not isinstance(n, (int, _np.integer)):
        raise TypeError(f"set_num_threads(): argument 'n' must be int, not {type(n).__name__}")
    n = int(n)
    limit = _thread_limit()
    if not 1 <= n <= limit:
        raise ValueError(f"set_num_threads(): n must be in [1, {limit}] (4 per hardware thread, at "
                         f"least 64), got {n}")
    if _forked_child and n > 1:
        raise RuntimeError("set_num_threads(): this process was forked from one that had started "
                           "OpenMP threads, and libgomp cannot run threads in a forked child; the "
                           "kernels run on one thread here. Use the 'spawn' or 'forkserver' start "
                           "method for multithreaded workers")
    _C.set_num_threads(n)


def _after_fork_in_child():
    """A forked child runs the kernels on one thread (see set_num_threads)."""
    global _forked_child
    _forked_child = True
    _C.set_num_threads(1)


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)
