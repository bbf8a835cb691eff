"""The CUDA backend's ``native``: the interface of pycnn._C (the same function names, arguments and
results) over the CUDA kernels of pycnn._cuda (a GPU, arrays from CuPy) or pycnn._cuda_emu (the
emulated device, arrays from pycnn._emulated_xp).

Each kernel call: check the arrays against their Params (built by the module's own
``<family>_params``, the same C++ rules as the CPU's), allocate the outputs with ``xp`` (CuPy's
memory pool on a GPU, so no cudaMalloc per call), and launch on the current stream.  No host
synchronization is added, except where an op must report bad user input found on the device
(max_unpool2d's indices: one small copy back).  The GEMM behind matmul, linear and the
convolutions is ``xp.matmul`` (cuBLAS through CuPy on a GPU).
"""
from __future__ import annotations

import numpy as np

_NO_BAD_INDEX = np.uint64(2 ** 64 - 1)


class CudaNative:
    def __init__(self, module, xp, pointer, stream):
        self.m = module
        self.xp = xp
        self._ptr = pointer
        self._stream = stream

    def __getattr__(self, name):
        if name.endswith("_params"):  # the params constructors are the module's own
            return getattr(self.m, name)
        raise AttributeError(f"the CUDA backend has no kernel {name!r}")

    # ---------------------------------------------------------------- helpers
    def _input(self, a, shape, op, arg, dtype=None):
        """a as a C-contiguous device array of `shape` (and dtype); ValueError/TypeError otherwise."""
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{op}: {arg} {tuple(a.shape)} does not match the shape {tuple(shape)} its params describe")
        if dtype is not None and a.dtype != dtype:
            raise TypeError(f"{op}: {arg} dtype {a.dtype} differs from {np.dtype(dtype)} (shape {tuple(a.shape)})")
        if a.dtype.kind == "f" and a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{op}: {arg} must be float32 or float64, got dtype {a.dtype} with shape {tuple(a.shape)}")
        return self.xp.ascontiguousarray(a)

    def _indices(self, a, shape, op):
        if a.dtype != np.int64:
            raise TypeError(f"{op}: indices must be int64, got dtype {a.dtype} with shape {tuple(a.shape)}")
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{op}: indices {tuple(a.shape)} must have the shape {tuple(shape)} of the pooled values")
        return self.xp.ascontiguousarray(a)

    def _empty(self, shape, dtype):
        return self.xp.empty(tuple(shape), dtype=dtype)

    def _bad_index_flag(self):
        return self.xp.full((1,), _NO_BAD_INDEX, dtype=np.uint64)

    def _raise_bad_index(self, flag, idx, plane, plane_shape, op):
        bad = int(flag.get()[0]) if hasattr(flag, "get") else int(flag[0])
        if bad != int(_NO_BAD_INDEX):
            value = int(idx.reshape(-1)[bad].item())
            raise ValueError(f"{op}: found an invalid max index {value} at flat position {bad} (each (n, c) plane "
                             f"has {plane} elements, shape {plane_shape})")

    # ---------------------------------------------------------------- GEMM
    def gemm(self, a, b, trans_a=False, trans_b=False):
        if a.dtype != b.dtype:
            raise TypeError(f"matmul: dtypes differ: a {tuple(a.shape)} {a.dtype} vs b {tuple(b.shape)} {b.dtype}")
        return self.xp.matmul(a.T if trans_a else a, b.T if trans_b else b)

    # ---------------------------------------------------------------- pool
    def max_pool2d_forward(self, x, p):
        x = self._input(x, p.in_shape, "max_pool2d", "input")
        y, idx = self._empty(p.out_shape, x.dtype), self._empty(p.out_shape, np.int64)
        self.m.max_pool2d_forward(self._ptr(y), self._ptr(idx), self._ptr(x), x.dtype.name, p, self._stream())
        return y, idx

    adaptive_max_pool2d_forward = max_pool2d_forward  # p.adaptive selects the windows

    def max_pool2d_backward(self, dy, indices, p):
        op = "max_pool2d_backward"
        dy = self._input(dy, p.out_shape, op, "grad_output")
        indices = self._indices(indices, p.out_shape, op)
        dx = self._empty(p.in_shape, dy.dtype)
        self.m.max_pool2d_backward(self._ptr(dx), self._ptr(dy), self._ptr(indices), dy.dtype.name, p, self._stream())
        return dx

    def avg_pool2d_forward(self, x, p):
        x = self._input(x, p.in_shape, "avg_pool2d", "input")
        y = self._empty(p.out_shape, x.dtype)
        self.m.avg_pool2d_forward(self._ptr(y), self._ptr(x), x.dtype.name, p, self._stream())
        return y

    def avg_pool2d_backward(self, dy, p):
        dy = self._input(dy, p.out_shape, "avg_pool2d_backward", "grad_output")
        dx = self._empty(p.in_shape, dy.dtype)
        self.m.avg_pool2d_backward(self._ptr(dx), self._ptr(dy), dy.dtype.name, p, self._stream())
        return dx

    adaptive_avg_pool2d_forward = avg_pool2d_forward
    adaptive_avg_pool2d_backward = avg_pool2d_backward

    def max_unpool2d_forward(self, x, indices, p, op="max_unpool2d"):
        x = self._input(x, p.in_shape, op, "input")
        indices = self._indices(indices, p.in_shape, op)
        y, flag = self._empty(p.out_shape, x.dtype), self._bad_index_flag()
        self.m.max_unpool2d_forward(self._ptr(y), self._ptr(flag), self._ptr(x), self._ptr(indices), x.dtype.name, p,
                                    self._stream())
        self._raise_bad_index(flag, indices, p.H_out * p.W_out, (p.H_out, p.W_out), op)
        return y

    def max_unpool2d_backward(self, dy, indices, p, op="max_unpool2d_backward"):
        dy = self._input(dy, p.out_shape, op, "grad_output")
        indices = self._indices(indices, p.in_shape, op)
        dx, flag = self._empty(p.in_shape, dy.dtype), self._bad_index_flag()
        self.m.max_unpool2d_backward(self._ptr(dx), self._ptr(flag), self._ptr(dy), self._ptr(indices), dy.dtype.name,
                                     p, self._stream())
        self._raise_bad_index(flag, indices, p.H_out * p.W_out, (p.H_out, p.W_out), op)
        return dx

    # ---------------------------------------------------------------- upsample, bed of nails, pad
    def _unary(self, kernel, op, arg, a, in_shape, out_shape, p):
        a = self._input(a, in_shape, op, arg)
        out = self._empty(out_shape, a.dtype)
        kernel(self._ptr(out), self._ptr(a), a.dtype.name, p, self._stream())
        return out

    def upsample2d_forward(self, x, p):
        return self._unary(self.m.upsample2d_forward, "interpolate", "input", x, p.in_shape, p.out_shape, p)

    def upsample2d_backward(self, dy, p):
        return self._unary(self.m.upsample2d_backward, "interpolate", "grad_output", dy, p.out_shape, p.in_shape, p)

    def bed_of_nails_forward(self, x, p):
        return self._unary(self.m.bed_of_nails_forward, "upsample_bed_of_nails", "input", x, p.in_shape, p.out_shape, p)

    def bed_of_nails_backward(self, dy, p):
        return self._unary(self.m.bed_of_nails_backward, "upsample_bed_of_nails", "grad_output", dy, p.out_shape,
                           p.in_shape, p)

    def pad2d_forward(self, x, p):
        return self._unary(self.m.pad2d_forward, "pad", "input", x, p.in_shape, p.out_shape, p)

    def pad2d_backward(self, dy, p):
        return self._unary(self.m.pad2d_backward, "pad", "grad_output", dy, p.out_shape, p.in_shape, p)
