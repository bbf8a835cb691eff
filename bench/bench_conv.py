"""Benchmark of the conv family's native kernels (float32), as a markdown table.

Rows: conv2d forward and backward (grad input + weight + bias) on LeNet-5 and ResNet
layers, plus conv1d, conv_transpose2d, depthwise 3x3 and pointwise 1x1.  GFLOP/s counts
2 * MACs of the direct convolution (the backward does twice the forward's work).
"x torch" is torch's time over pycnn's for the same CPU op (aten.convolution /
aten.convolution_backward) measured in the same run with the same thread count
(> 1: pycnn is faster); "-" when torch is not importable.  With --winograd-ab, layers the CPU
runs as Winograd F(2x2, 3x3) are also timed with that path switched off (_C.set_conv_winograd),
in turn with the Winograd timing: "x im2col" is that time over the Winograd one.

    python bench/bench_conv.py [--quick] [--threads N] [--only SUBSTRING] [--winograd-ab]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import pycnn  # noqa: E402
from pycnn import _C  # noqa: E402

from common import bench_arguments, median_ms  # noqa: E402

try:
    import torch
except ImportError:  # optional peer
    torch = None

# name, x shape, w shape, stride, padding, groups, transposed (output_padding 0, dilation 1)
LAYERS = [
    ("LeNet C1 1->6 5x5", (64, 1, 32, 32), (6, 1, 5, 5), 1, 0, 1, False),
    ("LeNet C3 6->16 5x5", (64, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, False),
    ("ResNet 64->64 3x3", (16, 64, 32, 32), (64, 64, 3, 3), 1, 1, 1, False),
    # the layers of bench/models.py's ResNet-8 at batch 64 (the small-channel 3x3 case of issue 13)
    ("ResNet-8 3->16 3x3", (64, 3, 32, 32), (16, 3, 3, 3), 1, 1, 1, False),
    ("ResNet-8 16->16 3x3", (64, 16, 32, 32), (16, 16, 3, 3), 1, 1, 1, False),
    ("ResNet-8 16->32 3x3 s2", (64, 16, 32, 32), (32, 16, 3, 3), 2, 1, 1, False),
    ("ResNet-8 32->32 3x3", (64, 32, 16, 16), (32, 32, 3, 3), 1, 1, 1, False),
    ("ResNet-8 64->64 3x3", (64, 64, 8, 8), (64, 64, 3, 3), 1, 1, 1, False),
    ("conv1d 64->128 k3 L512", (32, 64, 1, 512), (128, 64, 1, 3), 1, (0, 1), 1, False),
    ("transpose 64->32 4x4 s2", (32, 64, 16, 16), (64, 32, 4, 4), 2, 1, 1, True),
    ("depthwise 128 3x3", (32, 128, 32, 32), (128, 1, 3, 3), 1, 1, 128, False),
    ("pointwise 128->256 1x1", (32, 128, 16, 16), (256, 128, 1, 1), 1, 0, 1, False),
]
QUICK = {"LeNet C1 1->6 5x5", "ResNet 64->64 3x3", "depthwise 128 3x3"}


def pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def flops(xs, ws, stride, padding, groups, transposed):
    """2 * MACs of the direct conv (for a transposed conv, of the conv it is the adjoint of)."""
    if transposed:  # every input element meets every tap of C_out/groups channels
        return 2.0 * np.prod(xs) * ws[1] * ws[2] * ws[3]
    s, p = pair(stride), pair(padding)
    Ho = (xs[2] + 2 * p[0] - ws[2]) // s[0] + 1
    Wo = (xs[3] + 2 * p[1] - ws[3]) // s[1] + 1
    return 2.0 * xs[0] * ws[0] * Ho * Wo * (xs[1] // groups) * ws[2] * ws[3]


def main():
    def configure(ap):
        ap.add_argument("--only", default=None, help="only the layers whose name contains this")
        ap.add_argument("--winograd-ab", action="store_true",
                        help="also time Winograd layers with the Winograd path off")
    args = bench_arguments(__doc__.splitlines()[0], configure)
    repeat = 3 if args.quick else 10
    rng = np.random.default_rng(0)
    print(f"pycnn {pycnn.build_info()['version']}, threads={pycnn.get_num_threads()}, "
          f"simd={pycnn.build_info()['simd']}, torch={torch.__version__ if torch else 'not importable'}\n")
    ab = args.winograd_ab
    print("| layer | input | pass | median ms | GFLOP/s | x torch |" + (" x im2col |" if ab else ""))
    print("|---|---|---|---|---|---|" + ("---|" if ab else ""))
    for name, xs, ws, stride, padding, groups, transposed in LAYERS:
        if (args.quick and name not in QUICK) or (args.only and args.only not in name):
            continue
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        c_out = ws[1] * groups if transposed else ws[0]
        b = rng.standard_normal(c_out, dtype=np.float32)
        s, p = pair(stride), pair(padding)
        if transposed:  # the params as pycnn.functional builds them (conv2d's padding: top, bottom, left, right)
            params = _C.conv_transpose2d_params("conv_transpose2d", 2, xs, ws, (c_out,), s, p, (0, 0), groups, (1, 1))
            kernels = _C.conv_transpose2d_forward, _C.conv_transpose2d_backward
        else:
            params = _C.conv2d_params("conv2d", 2, xs, ws, (c_out,), s, (p[0], p[0], p[1], p[1]), (1, 1), groups)
            kernels = _C.conv2d_forward, _C.conv2d_backward
        fwd = lambda: kernels[0](x, w, b, params)  # noqa: E731
        y = fwd()
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        bwd = lambda: kernels[1](dy, x, w, params)  # noqa: E731
        f = flops(xs, ws, stride, padding, groups, transposed)
        peers = {}
        if torch is not None:
            tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))
            conv = torch.ops.aten.convolution
            cargs = (list(s), list(p), [1, 1], transposed, [0, 0], groups)
            with torch.no_grad():
                peers["forward"] = lambda: conv(tx, tw, tb, *cargs)  # noqa: E731
                peers["backward"] = lambda: torch.ops.aten.convolution_backward(  # noqa: E731
                    tdy, tx, tw, [c_out], *cargs, [True, True, True])
        winograd = ws[2:] == (3, 3) and stride == 1 and not transposed and groups == 1 and min(xs[1], ws[0]) >= 16
        for pass_, fn, work in (("forward", fwd, f), ("backward", bwd, 2 * f)):
            ms = median_ms(fn, repeat=repeat)
            ratio = "-"
            if pass_ in peers:
                with torch.no_grad():
                    ratio = f"{median_ms(peers[pass_], repeat=repeat) / ms:.2f}"
            shape = "x".join(map(str, xs if xs[2] != 1 else xs[:2] + xs[3:]))
            row = f"| {name} | {shape} | {pass_} | {ms:.2f} | {work / ms / 1e6:.1f} | {ratio} |"
            if ab:
                other = "-"
                if winograd:  # the same op with the path off, then on again (in turn: a slow spell hits both)
                    _C.set_conv_winograd(False)
                    try:
                        off = median_ms(fn, repeat=repeat)
                    finally:
                        _C.set_conv_winograd(True)
                    other = f"{off / min(ms, median_ms(fn, repeat=repeat)):.2f}"
                row += f" {other} |"
            print(row)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
