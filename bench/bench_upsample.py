"""Benchmark of the upsample family: nearest x2, bilinear x2, bicubic x2 and bed of nails x2,
forward and backward, on (32, 64, 32, 32) float32 -> (32, 64, 64, 64), and trilinear x2 on
(4, 16, 16, 32, 32) -> (4, 16, 32, 64, 64), as a markdown table.

GB/s counts the compulsory traffic: forward reads x and writes y (5 x |x|), backward reads dy
and writes dx (the same 5 x |x|), except bed-of-nails backward, which only needs the rows of dy
holding nails (|dy| / s + |dx|).  Every output is a fresh array, so the first touch of its
pages is part of each time: the header gives that floor (np.empty + fill of the output size).  Ratios are to PyTorch's CPU op (when torch is importable;
for bed of nails, torch has no op: zeros + a strided copy forward, a strided slice backward)
and to the bandwidth of a large numpy copy, both measured in the same run with the same
thread count.

    python bench/bench_upsample.py [--quick] [--threads N]
"""
from __future__ import annotations


import numpy as np

from pycnn import _C

# bench/ is on sys.path when this runs as a script.
from common import (bandwidth_header, bench_arguments, copy_bandwidth, median_ms, print_bandwidth_table,
                    torch_backward, torch_forward)

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # torch is optional: the torch column then reads "-"
    torch = None

SHAPE = (32, 64, 32, 32)
S = 2


def fresh_write_ms(shape, repeat):
    """ms to allocate and fill a fresh float32 array (page faults included): a floor for any op
    that returns a new array of this shape."""
    return median_ms(lambda: np.empty(shape, np.float32).fill(1.0), repeat)


VOLUME = (4, 16, 16, 32, 32)


def cases(x, dy, v, dv):
    """(op, pass, pycnn fn, torch fn or None) for each measured kernel; x, dy are 4-D, v, dv 5-D
    (the native kernels see 4-D input as (N, C, 1, H, W))."""
    x5, dy5 = x[:, :, None], dy[:, :, None]
    sc = [None, float(S), float(S)]

    def params(a, mode, ac, scales):  # every resampled axis (a stand-in depth of 1 stays 1) grows by S
        return _C.upsample_params("interpolate", a.shape, [n * S if n > 1 else 1 for n in a.shape[2:]], mode, ac,
                                  scales)
    near, bil, bil_ac, cub = (params(x5, mode, ac, scales) for mode, ac, scales in (
        ("nearest", False, sc), ("bilinear", False, sc), ("bilinear", True, [None] * 3), ("bicubic", False, sc)))
    tri = params(v, "trilinear", False, [float(S)] * 3)
    nails = _C.bed_of_nails_params("upsample_bed_of_nails", x.shape, (S, S))
    def passes(name, p, a, g):  # the forward and backward rows of one interpolate case
        return [(name, "forward", lambda: _C.upsample_forward(a, p)),
                (name, "backward", lambda: _C.upsample_backward(g, p))]
    ours = [
        *passes("nearest x2", near, x5, dy5),
        *passes("bilinear x2", bil, x5, dy5),
        *passes("bilinear x2 align_corners", bil_ac, x5, dy5),
        *passes("bicubic x2", cub, x5, dy5),
        *passes("trilinear x2 (5-D)", tri, v, dv),
        ("bed of nails x2", "forward", lambda: _C.bed_of_nails_forward(x, nails)),
        ("bed of nails x2", "backward", lambda: _C.bed_of_nails_backward(dy, nails)),
    ]
    theirs = [None] * len(ours)
    if torch is not None:
        tx, tdy, tv, tdv = (torch.from_numpy(a) for a in (x, dy, v, dv))
        fwd = {
            0: lambda t: TF.interpolate(t, scale_factor=S, mode="nearest"),
            2: lambda t: TF.interpolate(t, scale_factor=S, mode="bilinear", align_corners=False),
            4: lambda t: TF.interpolate(t, scale_factor=S, mode="bilinear", align_corners=True),
            6: lambda t: TF.interpolate(t, scale_factor=S, mode="bicubic", align_corners=False),
        }
        for i, f in fwd.items():
            theirs[i] = torch_forward(f, tx)
            theirs[i + 1] = torch_backward(f, tx, tdy)
        trilinear = lambda t: TF.interpolate(t, scale_factor=S, mode="trilinear", align_corners=False)  # noqa: E731
        theirs[8], theirs[9] = torch_forward(trilinear, tv), torch_backward(trilinear, tv, tdv)
        theirs[10] = lambda: _torch_bed_of_nails(tx)
        theirs[11] = lambda: tdy[:, :, ::S, ::S].contiguous()
    return [(*o, t) for o, t in zip(ours, theirs)]


def _torch_bed_of_nails(t):
    y = t.new_zeros(t.shape[:2] + (t.shape[2] * S, t.shape[3] * S))
    y[:, :, ::S, ::S] = t
    return y


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    repeat = 3 if args.quick else 20

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    dy = rng.standard_normal(SHAPE[:2] + (SHAPE[2] * S, SHAPE[3] * S)).astype(np.float32)
    v = rng.standard_normal(VOLUME).astype(np.float32)
    dv = rng.standard_normal(VOLUME[:2] + tuple(n * S for n in VOLUME[2:])).astype(np.float32)
    copy_gbs = copy_bandwidth(repeat)
    floor_ms = fresh_write_ms(dy.shape, repeat)
    print(bandwidth_header(f"{SHAPE} float32 -> x{S}", args.threads, copy_gbs,
                           f", fresh {dy.nbytes / 1e6:.0f} MB array + fill {floor_ms:.3f} ms"))
    print()
    def traffic(op, which):
        if op.startswith("trilinear"):
            return v.nbytes + dv.nbytes
        return x.nbytes + (dy.nbytes // S if (op, which) == ("bed of nails x2", "backward") else dy.nbytes)
    rows = (((op, which), traffic(op, which), fn, tfn) for op, which, fn, tfn in cases(x, dy, v, dv))
    print_bandwidth_table(rows, ("op", "pass"), copy_gbs, repeat,
                          ": x + y forward, dy + dx backward (bed of nails backward: the nail rows of dy + dx).")


if __name__ == "__main__":
    main()
