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

import pycnn
from common import bench_arguments, copy_bandwidth, median_ms, torch_backward, torch_forward  # bench/ is on sys.path
from pycnn import _C

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # torch is optional: the torch columns then read "-"
    torch = None

SHAPE = (32, 64, 32, 32)
CONFIGS = {"2x2 s2": ((2, 2), (2, 2), (0, 0)), "3x3 s2 p1": ((3, 3), (2, 2), (1, 1))}
LENET_SHAPES = ((64, 6, 28, 28), (64, 16, 10, 10))  # batch 64: the pools after conv1 and conv2


def cases(x):
    """(op, config, pass, bytes moved, pycnn fn, torch fn or None) for each measured kernel."""
    rng = np.random.default_rng(1)
    rows = []
    for name, (k, s, p) in CONFIGS.items():
        y, idx = _C.max_pool2d_forward(x, k, s, p, (1, 1), False)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        ya = _C.avg_pool2d_forward(x, k, s, p, False, True, None)
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
            ("max_pool2d", name, "forward", fwd_max,
             lambda k=k, s=s, p=p: _C.max_pool2d_forward(x, k, s, p, (1, 1), False), t_max),
            ("max_pool2d", name, "backward", bwd_max,
             lambda dy=dy, idx=idx: _C.max_pool2d_backward(dy, idx, x.shape), t_max_b),
            ("avg_pool2d", name, "forward", x.nbytes + ya.nbytes,
             lambda k=k, s=s, p=p: _C.avg_pool2d_forward(x, k, s, p, False, True, None), t_avg),
            ("avg_pool2d", name, "backward", dy.nbytes + x.nbytes,
             lambda dy=dy, k=k, s=s, p=p: _C.avg_pool2d_backward(dy, x.shape, k, s, p, False, True, None), t_avg_b),
        ]
    # max_unpool2d of a 2x2 stride-2 max pool back to 32x32
    y, idx = _C.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    dx = rng.standard_normal(x.shape).astype(np.float32)
    t_un = t_un_b = None
    if torch is not None:
        ty, ti, tdx = torch.from_numpy(y), torch.from_numpy(idx), torch.from_numpy(dx)

        def tunpool(t):
            return TF.max_unpool2d(t, ti, 2)

        t_un, t_un_b = torch_forward(tunpool, ty), torch_backward(tunpool, ty, tdx)
    rows += [
        ("max_unpool2d", "2x2 s2", "forward", y.nbytes + idx.nbytes + x.nbytes,
         lambda: _C.max_unpool2d_forward(y, idx, (32, 32)), t_un),
        ("max_unpool2d", "2x2 s2", "backward", dx.nbytes + idx.nbytes + y.nbytes,
         lambda: _C.max_unpool2d_backward(dx, idx), t_un_b),
    ]
    return rows


def lenet_cases():
    """max_pool2d 2x2 stride 2, forward and backward, on LeNet-5's activations (same row format)."""
    rng = np.random.default_rng(2)
    rows = []
    for shape in LENET_SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        y, idx = _C.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
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
             lambda x=x: _C.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False), t_fwd),
            ("max_pool2d", window, "backward", dy.nbytes + idx.nbytes + x.nbytes,
             lambda dy=dy, idx=idx, x=x: _C.max_pool2d_backward(dy, idx, x.shape), t_bwd),
        ]
    return rows


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    threads = args.threads
    repeat = 3 if args.quick else 30

    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    copy_gbs = copy_bandwidth(repeat)
    print(f"pycnn {pycnn.__version__}, {threads} threads, input {SHAPE} float32, "
          f"numpy copy {copy_gbs:.1f} GB/s" + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    print()
    print("| op | window | pass | MB moved | ms | GB/s | of copy BW | torch ms | vs torch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for op, window, which, nbytes, fn, tfn in cases(x) + lenet_cases():
        ms = median_ms(fn, repeat)
        gbs = nbytes / ms / 1e6
        tms = median_ms(tfn, repeat) if tfn else None
        print(f"| {op} | {window} | {which} | {nbytes / 1e6:.1f} | {ms:.3f} | {gbs:.1f} | {gbs / copy_gbs:.0%} | "
              f"{f'{tms:.3f}' if tms else '-'} | {f'{tms / ms:.2f}x' if tms else '-'} |")
    print()
    print("vs torch > 1 means pycnn is faster.  GB/s counts compulsory traffic (see the docstring).")


if __name__ == "__main__":
    main()
