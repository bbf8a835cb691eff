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

from . import _elementwise_xp as _ew

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

    # ---------------------------------------------------------------- elementwise (glue on CuPy)
    # csrc/elementwise.h's formulas on the device array module (pycnn/_elementwise_xp.py)
    def _float(self, a, op, arg):
        if a.dtype not in _ew.NATIVE_DTYPES:
            raise TypeError(f"{op}: {arg} must be float32 or float64, got dtype {a.dtype} with shape {tuple(a.shape)}")

    def activation_forward(self, x, activation, negative_slope=0.0):
        _ew.check_activation(activation)
        self._float(x, activation, "input")
        return _ew.activation_forward(self.xp, x, activation, negative_slope)

    def activation_backward(self, grad_output, saved, activation, negative_slope=0.0):
        _ew.check_activation(activation)
        self._float(saved, activation, "input" if activation == "leaky_relu" else "output")
        return _ew.activation_backward(self.xp, grad_output, saved, activation, negative_slope)

    def binary(self, op, a, b, inplace=False):
        self._float(a, op, "a")
        return _ew.binary(self.xp, op, a, b, inplace)

    def binary_broadcast(self, op, big, small, outer, channels, inner, small_first=False):
        self._float(big, op, "big")
        return _ew.binary_broadcast(self.xp, op, big, small, outer, channels, inner, small_first)

    def broadcast_sum(self, grad, outer, channels, inner, other=None):
        self._float(grad, "broadcast_sum", "grad")
        return _ew.broadcast_sum(self.xp, grad, outer, channels, inner, other)

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

    def upsample_forward(self, x, p):
        return self._unary(self.m.upsample_forward, "interpolate", "input", x, p.in_shape, p.out_shape, p)

    def upsample_backward(self, dy, p):
        return self._unary(self.m.upsample_backward, "interpolate", "grad_output", dy, p.out_shape, p.in_shape, p)

    def bed_of_nails_forward(self, x, p):
        return self._unary(self.m.bed_of_nails_forward, "upsample_bed_of_nails", "input", x, p.in_shape, p.out_shape, p)

    def bed_of_nails_backward(self, dy, p):
        return self._unary(self.m.bed_of_nails_backward, "upsample_bed_of_nails", "grad_output", dy, p.out_shape,
                           p.in_shape, p)

    def pad_forward(self, x, p):
        return self._unary(self.m.pad_forward, "pad", "input", x, p.in_shape, p.out_shape, p)

    def pad_backward(self, dy, p):
        return self._unary(self.m.pad_backward, "pad", "grad_output", dy, p.out_shape, p.in_shape, p)

    # ---------------------------------------------------------------- conv
    # The im2col buffer of a chunk of images stays under this many bytes (larger batches run in
    # chunks of images; every chunk's weight gradient is added in order: deterministic).
    COL_BUDGET = 256 << 20

    def _null(self, a):
        return 0 if a is None else self._ptr(a)

    def _conv_arrays(self, op, x, x_shape, w, p, b=None, b_len=None):
        x = self._input(x, x_shape, op, "input")
        w = self._input(w, (p.C_out, p.C_in // p.groups, p.kH, p.kW), op, "weight", dtype=x.dtype)
        if b is not None:
            b = self._input(b, (b_len,), op, "bias", dtype=x.dtype)
        return x, w, b

    def _chunks(self, p, itemsize):
        """(first image, images) chunks whose im2col buffer fits COL_BUDGET."""
        per_image = max(1, p.C_in * p.kH * p.kW * p.H_out * p.W_out * itemsize)
        step = max(1, min(p.N, self.COL_BUDGET // per_image))
        return [(n0, min(step, p.N - n0)) for n0 in range(0, p.N, step)]

    def _col(self, x, n0, nb, p):
        """The im2col matrix of images [n0, n0 + nb) as (nb, G, C_in/G * kH * kW, H_out * W_out);
        a 1x1 stride-1 unpadded conv reads x itself."""
        G, hw = p.groups, p.H_out * p.W_out
        shape = (nb, G, (p.C_in // G) * p.kH * p.kW, hw)
        if p.is_pointwise:
            return x[n0:n0 + nb].reshape(shape)
        col = self._empty(shape, x.dtype)
        self.m.im2col(self._ptr(col), self._ptr(x[n0:n0 + nb]), nb, x.dtype.name, p, self._stream())
        return col

    def _conv_y(self, x, w, p):
        """conv2d of x (p.in_shape) without bias: (N, C_out, H_out, W_out)."""
        G = p.groups
        wg = w.reshape(G, p.C_out // G, (p.C_in // G) * p.kH * p.kW)
        y = self._empty(p.out_shape, x.dtype)
        yv = y.reshape(p.N, G, p.C_out // G, p.H_out * p.W_out)
        for n0, nb in self._chunks(p, x.dtype.itemsize):
            yv[n0:n0 + nb] = self.xp.matmul(wg, self._col(x, n0, nb, p))
        return y

    def _conv_dx(self, dy, w, p):
        """The input-gradient of conv2d for dy (p.out_shape): (N, C_in, H, W); also the transposed
        conv's forward."""
        G, xp = p.groups, self.xp
        wt = w.reshape(G, p.C_out // G, (p.C_in // G) * p.kH * p.kW).swapaxes(1, 2)  # (G, Kg, Cout_g)
        dyv = dy.reshape(p.N, G, p.C_out // G, p.H_out * p.W_out)
        dx = self._empty(p.in_shape, dy.dtype)
        for n0, nb in self._chunks(p, dy.dtype.itemsize):
            dcol = xp.ascontiguousarray(xp.matmul(wt, dyv[n0:n0 + nb]))
            if p.is_pointwise:
                dx[n0:n0 + nb] = dcol.reshape((nb,) + tuple(p.in_shape[1:]))
            else:
                self.m.col2im(self._ptr(dx[n0:n0 + nb]), self._ptr(dcol), nb, dy.dtype.name, p, self._stream())
        return dx

    def _conv_dw(self, dy, x, p):
        """The weight-gradient of conv2d: sum over images of dy @ col^T, chunk by chunk in order."""
        G, xp = p.groups, self.xp
        dyv = dy.reshape(p.N, G, p.C_out // G, p.H_out * p.W_out)
        dw = xp.zeros((G, p.C_out // G, (p.C_in // G) * p.kH * p.kW), dtype=x.dtype)  # an empty batch: 0
        for n0, nb in self._chunks(p, x.dtype.itemsize):
            dw += xp.matmul(dyv[n0:n0 + nb], self._col(x, n0, nb, p).swapaxes(2, 3)).sum(axis=0)
        return dw.reshape(p.C_out, p.C_in // G, p.kH, p.kW)

    def _bias_grad(self, dy, C, HW):
        db = self._empty((C,), dy.dtype)
        self.m.conv_bias_grad(self._ptr(db), self._ptr(dy), dy.shape[0], C, HW, dy.dtype.name, self._stream())
        return db

    @staticmethod
    def _plus_bias(y, b):
        """y (N, C, H, W) + b (C,) per channel, in place; y alone when b is None."""
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    def conv2d_forward(self, x, w, b, p, relu=False):
        x, w, b = self._conv_arrays("conv2d", x, p.in_shape, w, p, b, p.C_out)
        if p.is_depthwise:
            y = self._empty(p.out_shape, x.dtype)
            self.m.depthwise_conv2d_forward(self._ptr(y), self._ptr(x), self._ptr(w), self._null(b), x.dtype.name, p,
                                            self._stream())
        else:
            y = self._plus_bias(self._conv_y(x, w, p), b)
        # the inference-time conv + ReLU: on CUDA the ReLU is the glue formula after the conv, not fused
        return _ew.activation_forward(self.xp, y, "relu") if relu else y

    def conv2d_backward(self, dy, x, w, p, input_grad=True, weight_grad=True, bias_grad=True):
        x, w, _ = self._conv_arrays("conv2d", x, p.in_shape, w, p)
        dy = self._input(dy, p.out_shape, "conv2d", "grad_output", dtype=x.dtype)
        if p.is_depthwise:
            dx = self._empty(p.in_shape, x.dtype) if input_grad else None
            dw = self._empty(w.shape, x.dtype) if weight_grad else None
            db = self._empty((p.C_out,), x.dtype) if bias_grad else None
            self.m.depthwise_conv2d_backward(self._null(dx), self._null(dw), self._null(db), self._ptr(dy),
                                             self._ptr(x), self._ptr(w), x.dtype.name, p, self._stream())
            return dx, dw, db
        dx = self._conv_dx(dy, w, p) if input_grad else None
        dw = self._conv_dw(dy, x, p) if weight_grad else None
        db = self._bias_grad(dy, p.C_out, p.H_out * p.W_out) if bias_grad else None
        return dx, dw, db

    # conv_transpose2d: p describes the forward conv whose input-gradient it is (conv.h): its input
    # has p.out_shape and its output p.in_shape; the weight is the conv's (C_out, C_in/g, kH, kW).
    def conv_transpose2d_forward(self, x, w, b, p):
        x, w, b = self._conv_arrays("conv_transpose2d", x, p.out_shape, w, p, b, p.C_in)
        return self._plus_bias(self._conv_dx(x, w, p), b)

    def conv_transpose2d_backward(self, dy, x, w, p, input_grad=True, weight_grad=True, bias_grad=True):
        x, w, _ = self._conv_arrays("conv_transpose2d", x, p.out_shape, w, p)
        dy = self._input(dy, p.in_shape, "conv_transpose2d", "grad_output", dtype=x.dtype)
        dx = self._conv_y(dy, w, p) if input_grad else None
        dw = self._conv_dw(x, dy, p) if weight_grad else None
        db = self._bias_grad(dy, p.C_in, p.H * p.W) if bias_grad else None
        return dx, dw, db

    # ---------------------------------------------------------------- norm
    def _stat(self, n):
        return self._empty((n,), np.float64)

    def _affine(self, a, n, op, name, dtype):
        return None if a is None else self._input(a, (n,), op, name, dtype=dtype)

    def batch_norm_forward(self, x, running_mean, running_var, weight, bias, p, training, momentum, relu=False):
        op, xp = "batch_norm", self.xp
        if x.size != p.N * p.C * p.S:
            raise ValueError(f"{op}: input {tuple(x.shape)} does not match its params' (N, C, S) view {p.view}")
        x = xp.ascontiguousarray(x)
        w, b = self._affine(weight, p.C, op, "weight", x.dtype), self._affine(bias, p.C, op, "bias", x.dtype)
        rm, rv = (self._affine(r, p.C, op, n, x.dtype) for r, n in ((running_mean, "running_mean"),
                                                                   (running_var, "running_var")))
        for given, used in ((running_mean, rm), (running_var, rv)):
            if given is not None and used is not given:  # a converted copy would drop the update
                raise ValueError(f"{op}: running statistics must be contiguous {x.dtype} device arrays of {p.C} values")
        y, mean, rstd = self._empty(x.shape, x.dtype), self._stat(p.C), self._stat(p.C)
        if not training:
            if rm is None or rv is None:
                raise ValueError(f"{op}: running_mean and running_var must be given in eval mode")
            mean[...] = rm.astype(np.float64)
            rstd[...] = 1.0 / xp.sqrt(rv.astype(np.float64) + p.eps)
        self.m.batch_norm_forward(self._ptr(y), self._ptr(mean), self._ptr(rstd), self._null(rm if training else None),
                                  self._null(rv if training else None), self._ptr(x), self._null(w), self._null(b),
                                  x.dtype.name, p, training, float(momentum), bool(relu), self._stream())
        return y, mean, rstd

    def batch_norm_backward(self, dy, x, mean, rstd, weight, p, training, relu_output=None):
        op = "batch_norm_backward"
        x = self.xp.ascontiguousarray(x)
        dy = self._input(dy, x.shape, op, "grad_output", dtype=x.dtype)
        if relu_output is not None:
            relu_output = self._input(relu_output, x.shape, op, "relu_output", dtype=x.dtype)
        w = self._affine(weight, p.C, op, "weight", x.dtype)
        dx, dw, db = self._empty(x.shape, x.dtype), self._empty((p.C,), x.dtype), self._empty((p.C,), x.dtype)
        work = self.xp.zeros((2 * p.C,), dtype=np.float64)  # stays 0 for an empty batch
        self.m.batch_norm_backward(self._ptr(dx), self._ptr(dw), self._ptr(db), self._ptr(work), self._ptr(dy),
                                   self._ptr(x), self._ptr(mean), self._ptr(rstd), self._null(w), x.dtype.name, p,
                                   training, self._null(relu_output), self._stream())
        return dx, dw, db

    def group_norm_forward(self, x, weight, bias, p):
        op = "group_norm"
        if x.size != p.N * p.C * p.S:
            raise ValueError(f"{op}: input {tuple(x.shape)} does not match its params' (N, C, S) view {p.view}")
        x = self.xp.ascontiguousarray(x)
        w, b = self._affine(weight, p.C, op, "weight", x.dtype), self._affine(bias, p.C, op, "bias", x.dtype)
        y = self._empty(x.shape, x.dtype)
        mean, rstd = self._empty((p.N, p.G), np.float64), self._empty((p.N, p.G), np.float64)
        self.m.group_norm_forward(self._ptr(y), self._ptr(mean), self._ptr(rstd), self._ptr(x), self._null(w),
                                  self._null(b), x.dtype.name, p, self._stream())
        return y, mean, rstd

    def group_norm_backward(self, dy, x, mean, rstd, weight, p):
        op = "group_norm_backward"
        x = self.xp.ascontiguousarray(x)
        dy = self._input(dy, x.shape, op, "grad_output", dtype=x.dtype)
        w = self._affine(weight, p.C, op, "weight", x.dtype)
        dx, dw, db = self._empty(x.shape, x.dtype), self._empty((p.C,), x.dtype), self._empty((p.C,), x.dtype)
        work = self._stat(2 * p.N * p.G + 2 * p.N * p.C)
        self.m.group_norm_backward(self._ptr(dx), self._ptr(dw), self._ptr(db), self._ptr(work), self._ptr(dy),
                                   self._ptr(x), self._ptr(mean), self._ptr(rstd), self._null(w), x.dtype.name, p,
                                   self._stream())
        return dx, dw, db

    def pixel_norm_forward(self, x, p):
        x = self.xp.ascontiguousarray(x)
        y, rstd = self._empty(x.shape, x.dtype), self._empty((p.N, p.S), np.float64)
        self.m.pixel_norm_forward(self._ptr(y), self._ptr(rstd), self._ptr(x), x.dtype.name, p, self._stream())
        return y, rstd

    def pixel_norm_backward(self, dy, x, rstd, p):
        x = self.xp.ascontiguousarray(x)
        dy = self._input(dy, x.shape, "pixel_norm_backward", "grad_output", dtype=x.dtype)
        dx = self._empty(x.shape, x.dtype)
        self.m.pixel_norm_backward(self._ptr(dx), self._ptr(dy), self._ptr(x), self._ptr(rstd), x.dtype.name, p,
                                   self._stream())
        return dx
