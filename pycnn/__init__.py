"""pycnn: train small convolutional networks on a native C++/OpenMP (and CUDA) core.

The API follows PyTorch's names, argument orders, defaults and semantics.
"""
from . import _C
from ._device import device
from .tensor import (Function, Tensor, bool_, enable_grad, float32, float64, int64,
                     is_grad_enabled, no_grad)
from .creation import (arange, default_generator, from_numpy, full, manual_seed, ones, ones_like,
                       rand, randint, randn, randperm, tensor, zeros, zeros_like)
from .ops import (amax, argmax, cat, flatten, log_softmax, matmul, max, mean, min, permute,
                  reshape, softmax, squeeze, stack, sum, transpose, unsqueeze, where)
from . import cuda, functional, nn, ops, optim, data, utils, filters, datasets, models  # noqa: E402
from .serialization import load, save  # noqa: E402

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
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()


def build_info() -> dict:
    """Compiler, OpenMP threads, the SIMD level in use, and CUDA: built (the GPU module), the
    emulated device built, available, and which device 'cuda' means here (or why it cannot run)."""
    info = dict(_C.build_info())
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


def set_num_threads(n: int):
    """Threads for the native kernels (OpenMP). libgomp is not fork-safe: in
    DataLoader-style worker processes use the 'spawn' start method."""
    _C.set_num_threads(int(n))
