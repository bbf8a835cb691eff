"""Benchmark of the upsample family: nearest x2, bilinear x2 and bed of nails x2, forward and
backward, on (32, 64, 32, 32) float32 -> (32, 64, 64, 64), as a markdown table.

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


def cases(x, dy):
    """(op, pass, pycnn fn, torch fn or None) for each measured kernel."""
    out = [SHAPE[2] * S, SHAPE[3] * S]
    none2 = [None, None]
    sc = [float(S), float(S)]
    near, bil, bil_ac = (_C.upsample2d_params("interpolate", x.shape, out, mode, ac, scales)
                         for mode, ac, scales in (("nearest", False, sc), ("bilinear", False, sc),
                                                  ("bilinear", True, none2)))
    nails = _C.bed_of_nails_params("upsample_bed_of_nails", x.shape, (S, S))
    ours = [
        ("nearest x2", "forward", lambda: _C.upsample2d_forward(x, near)),
        ("nearest x2", "backward", lambda: _C.upsample2d_backward(dy, near)),
        ("bilinear x2", "forward", lambda: _C.upsample2d_forward(x, bil)),
        ("bilinear x2", "backward", lambda: _C.upsample2d_backward(dy, bil)),
        ("bilinear x2 align_corners", "forward", lambda: _C.upsample2d_forward(x, bil_ac)),
        ("bilinear x2 align_corners", "backward", lambda: _C.upsample2d_backward(dy, bil_ac)),
        ("bed of nails x2", "forward", lambda: _C.bed_of_nails_forward(x, nails)),
        ("bed of nails x2", "backward", lambda: _C.bed_of_nails_backward(dy, nails)),
    ]
    theirs = [None] * len(ours)
    if torch is not None:
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        fwd = {
            0: lambda t: TF.interpolate(t, scale_factor=S, mode="nearest"),
            2: lambda t: TF.interpolate(t, scale_factor=S, mode="bilinear", align_corners=False),
            4: lambda t: TF.interpolate(t, scale_factor=S, mode="bilinear", align_corners=True),
        }
        for i, f in fwd.items():
            theirs[i] = torch_forward(f, tx)
            theirs[i + 1] = torch_backward(f, tx, tdy)
        theirs[6] = lambda: _torch_bed_of_nails(tx)
        theirs[7] = lambda: tdy[:, :, ::S, ::S].contiguous()
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
    copy_gbs = copy_bandwidth(repeat)
    floor_ms = fresh_write_ms(dy.shape, repeat)
    print(bandwidth_header(f"{SHAPE} float32 -> x{S}", args.threads, copy_gbs,
                           f", fresh {dy.nbytes / 1e6:.0f} MB array + fill {floor_ms:.3f} ms"))
    print()
    rows = (((op, which), x.nbytes + (dy.nbytes // S if (op, which) == ("bed of nails x2", "backward") else dy.nbytes),
             fn, tfn) for op, which, fn, tfn in cases(x, dy))
    print_bandwidth_table(rows, ("op", "pass"), copy_gbs, repeat,
                          ": x + y forward, dy + dx backward (bed of nails backward: the nail rows of dy + dx).")


if __name__ == "__main__":
    main()
