"""Benchmark of the pool family: max_pool2d / avg_pool2d (2x2 stride 2, and 3x3 stride 2
padding 1) and max_unpool2d (2x2 stride 2), forward and backward, on (32, 64, 32, 32)
float32, and LeNet-5's two max pools (2x2 stride 2 on (64, 6, 28, 28) and (64, 16, 10, 10):
short rows, many planes), as a markdown table.

GB/s counts the compulsory traffic (bytes read + written once):
  max_pool2d   forward: x, y, indices (int64)    backward: dy, indices, dx
  avg_pool2d   forward: x, y                     backward: dy, dx
  max_unpool2d forward: x, indices, y            backward: dy (every line is touched), indices, dx
Ratios are to PyTorch's CPU op (torch.nn.functional, max_pool2d with return_indices=True as
ours always computes them; backward timed alone on a retained graph) and to the bandwidth of a
large numpy copy (256 MB, beyond any cache), both measured in the same run with the same thread
count.  The working sets here (about 15 MB) can sit in the last-level cache, so "of copy BW"
may exceed 100%.

    python bench/bench_pool.py [--quick] [--threads N]
"""
from __future__ import annotations

import numpy as np

from common import (bandwidth_header, bench_arguments, copy_bandwidth,  # bench/ is on sys.path
                    print_bandwidth_table, torch_backward, torch_forward)
from pycnn import _C

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # torch is optional: the torch columns then read "-"
    torch = None

SHAPE = (32, 64, 32, 32)
CONFIGS = {"2x2 s2": ((2, 2), (2, 2), (0, 0)), "3x3 s2 p1": ((3, 3), (2, 2), (1, 1))}
LENET_SHAPES = ((64, 6, 28, 28), (64, 16, 10, 10))  # batch 64: the pools after conv1 and conv2


def max_params(shape, k, s, p):
    """max_pool2d's params (dilation 1, floor mode), as pycnn.functional builds them."""
    return _C.pool2d_params("max_pool2d", 2, shape, k, s, p, (1, 1), False, True)


def avg_params(shape, k, s, p):
    """avg_pool2d's params (floor mode, padding counted, no divisor override)."""
    return _C.pool2d_params("avg_pool2d", 2, shape, k, s, p, (1, 1), False, False, True, None)


def cases(x):
    """(op, config, pass, bytes moved, pycnn fn, torch fn or None) for each measured kernel."""
    rng = np.random.default_rng(1)
    rows = []
    for name, (k, s, p) in CONFIGS.items():
        pm, pa = max_params(x.shape, k, s, p), avg_params(x.shape, k, s, p)
        y, idx = _C.max_pool2d_forward(x, pm)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        ya = _C.avg_pool2d_forward(x, pa)
        fwd_max = x.nbytes + y.nbytes + idx.nbytes
        bwd_max = dy.nbytes + idx.nbytes + x.nbytes
        t_max = t_max_b = t_avg = t_avg_b = None
        if torch is not None:
            tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)

            def tmax(t, k=k, s=s, p=p):
                return TF.max_pool2d(t, k, s, p, return_indices=True)

            def tavg(t, k=k, s=s, p=p):
                return TF.avg_pool2d(t, k, s, p)

            t_max, t_max_b = torch_forward(tmax, tx), torch_backward(tmax, tx, tdy)
            t_avg, t_avg_b = torch_forward(tavg, tx), torch_backward(tavg, tx, tdy)
        rows += [
            ("max_pool2d", name, "forward", fwd_max, lambda pm=pm: _C.max_pool2d_forward(x, pm), t_max),
            ("max_pool2d", name, "backward", bwd_max,
             lambda dy=dy, idx=idx, pm=pm: _C.max_pool2d_backward(dy, idx, pm), t_max_b),
            ("avg_pool2d", name, "forward", x.nbytes + ya.nbytes, lambda pa=pa: _C.avg_pool2d_forward(x, pa), t_avg),
            ("avg_pool2d", name, "backward", dy.nbytes + x.nbytes,
             lambda dy=dy, pa=pa: _C.avg_pool2d_backward(dy, pa), t_avg_b),
        ]
    # max_unpool2d of a 2x2 stride-2 max pool back to 32x32
    y, idx = _C.max_pool2d_forward(x, max_params(x.shape, (2, 2), (2, 2), (0, 0)))
    pu = _C.max_unpool2d_params("max_unpool2d", 2, y.shape, (2, 2), (2, 2), (0, 0), (32, 32))
    dx = rng.standard_normal(x.shape).astype(np.float32)
    t_un = t_un_b = None
    if torch is not None:
        ty, ti, tdx = torch.from_numpy(y), torch.from_numpy(idx), torch.from_numpy(dx)

        def tunpool(t):
            return TF.max_unpool2d(t, ti, 2)

        t_un, t_un_b = torch_forward(tunpool, ty), torch_backward(tunpool, ty, tdx)
    rows += [
        ("max_unpool2d", "2x2 s2", "forward", y.nbytes + idx.nbytes + x.nbytes,
         lambda: _C.max_unpool2d_forward(y, idx, pu), t_un),
        ("max_unpool2d", "2x2 s2", "backward", dx.nbytes + idx.nbytes + y.nbytes,
         lambda: _C.max_unpool2d_backward(dx, idx, pu), t_un_b),
    ]
    return rows


def lenet_cases():
    """max_pool2d 2x2 stride 2, forward and backward, on LeNet-5's activations (same row format)."""
    rng = np.random.default_rng(2)
    rows = []
    for shape in LENET_SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        pm = max_params(shape, (2, 2), (2, 2), (0, 0))
        y, idx = _C.max_pool2d_forward(x, pm)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        t_fwd = t_bwd = None
        if torch is not None:
            def tmax(t):
                return TF.max_pool2d(t, 2, 2, return_indices=True)

            t_fwd = torch_forward(tmax, torch.from_numpy(x))
            t_bwd = torch_backward(tmax, torch.from_numpy(x), torch.from_numpy(dy))
        window = "2x2 s2 on " + "x".join(map(str, shape))
        rows += [
            ("max_pool2d", window, "forward", x.nbytes + y.nbytes + idx.nbytes,
             lambda x=x, pm=pm: _C.max_pool2d_forward(x, pm), t_fwd),
            ("max_pool2d", window, "backward", dy.nbytes + idx.nbytes + x.nbytes,
             lambda dy=dy, idx=idx, pm=pm: _C.max_pool2d_backward(dy, idx, pm), t_bwd),
        ]
    return rows


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    repeat = 3 if args.quick else 30

    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    copy_gbs = copy_bandwidth(repeat)
    print(bandwidth_header(f"input {SHAPE} float32", args.threads, copy_gbs))
    print()
    rows = (((op, window, which, f"{nbytes / 1e6:.1f}"), nbytes, fn, tfn)
            for op, window, which, nbytes, fn, tfn in cases(x) + lenet_cases())
    print_bandwidth_table(rows, ("op", "window", "pass", "MB moved"), copy_gbs, repeat, " (see the docstring).")


if __name__ == "__main__":
    main()
