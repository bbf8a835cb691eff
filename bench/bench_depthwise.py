"""Benchmark of the depthwise conv kernels (float32) on MobileNet-style's five depthwise layers.

Batch 64, 3x3, padding 1: forward, grad input alone and grad weight alone (_C.conv2d_forward /
_C.conv2d_backward) against torch's aten.convolution / aten.convolution_backward with the same
output mask, each the lowest of --repeat runs, pycnn timed again after torch (a slow spell hits
both).  Cells are "pycnn ms / torch ms = torch over pycnn" (> 1: pycnn is faster).

    python bench/bench_depthwise.py [--threads N] [--repeat R]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import pycnn  # noqa: E402
from pycnn import _C  # noqa: E402

from common import bench_arguments, times_ms, torch_or_none  # noqa: E402

# channels, input size, stride: MobileNet-style's depthwise layers (bench/models.py, "mobile")
LAYERS = [(32, 32, 1), (64, 32, 2), (128, 16, 1), (128, 16, 2), (256, 8, 1)]


def lowest_ms(fn, repeat):
    return min(times_ms(fn, repeat, warmup=1))


def main():
    args = bench_arguments(__doc__.splitlines()[0],
                           lambda ap: ap.add_argument("--repeat", type=int, default=7, help="runs per timing"))
    torch = torch_or_none(args.threads)
    rng = np.random.default_rng(0)
    print(f"pycnn {pycnn.build_info()['version']}, threads={pycnn.get_num_threads()}, "
          f"simd={pycnn.build_info()['simd']}, torch={torch.__version__ if torch else 'not importable'}\n")
    print("| layer | forward | grad input | grad weight |\n|---|---|---|---|")
    for c, h, s in LAYERS:
        xs, ws = (64, c, h, h), (c, 1, 3, 3)
        x, w = rng.standard_normal(xs, dtype=np.float32), rng.standard_normal(ws, dtype=np.float32)
        p = _C.conv2d_params("conv2d", 2, xs, ws, (c,), (s, s), (1, 1, 1, 1), (1, 1), c)
        dy = rng.standard_normal(_C.conv2d_forward(x, w, None, p).shape, dtype=np.float32)
        ours = [lambda: _C.conv2d_forward(x, w, None, p),
                lambda: _C.conv2d_backward(dy, x, w, p, True, False, False),
                lambda: _C.conv2d_backward(dy, x, w, p, False, True, False)]
        peers = [None] * 3
        if torch is not None:
            tx, tw, tdy = (torch.from_numpy(a) for a in (x, w, dy))
            conv = ([s, s], [1, 1], [1, 1], False, [0, 0], c)
            peers = [lambda: torch.ops.aten.convolution(tx, tw, None, *conv),
                     lambda: torch.ops.aten.convolution_backward(tdy, tx, tw, None, *conv, [True, False, False]),
                     lambda: torch.ops.aten.convolution_backward(tdy, tx, tw, None, *conv, [False, True, False])]
        cells = []
        for mine, peer in zip(ours, peers):
            ms = lowest_ms(mine, args.repeat)
            if peer is None:
                cells.append(f"{ms:.2f}")
                continue
            with torch.no_grad():
                ref = lowest_ms(peer, args.repeat)
            ms = min(ms, lowest_ms(mine, args.repeat))
            cells.append(f"{ms:.2f} / {ref:.2f} = {ref / ms:.2f}")
        print(f"| {c} ch {h}x{h} s{s} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
