"""Benchmark of the elementwise family (csrc/elementwise.h): each activation's forward and backward
kernel, the same-shape add (out of place and in place: the autodiff engine's gradient
accumulation), the broadcast mul and add (a per-channel and a scalar operand) and the per-channel
sums that are their operand's gradient, on a ResNet-8 activation, (64, 16, 32, 32) float32
(4 MiB), as a markdown table.

GB/s counts the compulsory traffic (forward: read x, write y; backward: read dy and the saved
tensor, write dx; add: read a and b, write out; broadcast: read x, write out; sums: read dy, and
x for mul's).  Ratios are to PyTorch's CPU op (when torch is
importable) and to the bandwidth of a large numpy copy, both measured in the same run with the
same thread count; the numpy column times the same op as numpy writes it (one thread).

    python bench/bench_elementwise.py [--quick] [--threads N]
"""
from __future__ import annotations

import os
import sys

import numpy as np

from pycnn import _C

sys.path.insert(0, os.path.dirname(__file__))
from common import (bandwidth_header, bench_arguments, copy_bandwidth, median_ms,  # noqa: E402
                    print_bandwidth_table, torch_or_none)

SHAPE = (64, 16, 32, 32)


def cases(x, dy, torch):
    """(op, pass, bytes, pycnn fn, torch fn or None, numpy fn) per measured kernel."""
    n4 = x.nbytes
    y = {a: _C.activation_forward(x, a, 0.01) for a in ("relu", "leaky_relu", "sigmoid", "tanh")}
    acc = dy.copy()
    numpy_fwd = {"relu": lambda: np.maximum(x, 0), "leaky_relu": lambda: np.where(x > 0, x, 0.01 * x),
                 "sigmoid": lambda: 1 / (1 + np.exp(-x)), "tanh": lambda: np.tanh(x)}
    numpy_bwd = {"relu": lambda: np.where(y["relu"] <= 0, 0, dy), "leaky_relu": lambda: np.where(x > 0, dy, 0.01 * dy),
                 "sigmoid": lambda: dy * y["sigmoid"] * (1 - y["sigmoid"]), "tanh": lambda: dy * (1 - y["tanh"] ** 2)}
    rows = []
    tx = tdy = None
    if torch is not None:
        tx, tdy, tacc = torch.from_numpy(x), torch.from_numpy(dy), torch.from_numpy(acc.copy())
        ty = {a: torch.from_numpy(v) for a, v in y.items()}
        F = torch.nn.functional
        tfwd = {"relu": lambda: torch.relu(tx), "leaky_relu": lambda: F.leaky_relu(tx, 0.01),
                "sigmoid": lambda: torch.sigmoid(tx), "tanh": lambda: torch.tanh(tx)}
        # autograd's backward kernels themselves (threshold_backward, sigmoid/tanh_backward)
        tbwd = {"relu": lambda: torch.ops.aten.threshold_backward(tdy, ty["relu"], 0),
                "leaky_relu": lambda: torch.ops.aten.leaky_relu_backward(tdy, tx, 0.01, False),
                "sigmoid": lambda: torch.ops.aten.sigmoid_backward(tdy, ty["sigmoid"]),
                "tanh": lambda: torch.ops.aten.tanh_backward(tdy, ty["tanh"])}
    for a in ("relu", "leaky_relu", "sigmoid", "tanh"):
        saved = x if a == "leaky_relu" else y[a]
        rows.append((a, "forward", 2 * n4, lambda a=a: _C.activation_forward(x, a, 0.01),
                     tfwd[a] if torch is not None else None, numpy_fwd[a]))
        rows.append((a, "backward", 3 * n4, lambda a=a, s=saved: _C.activation_backward(dy, s, a, 0.01),
                     tbwd[a] if torch is not None else None, numpy_bwd[a]))
    rows.append(("add", "a + b", 3 * n4, lambda: _C.binary("add", x, dy),
                 (lambda: torch.add(tx, tdy)) if torch is not None else None, lambda: x + dy))
    rows.append(("add", "a += b (accumulate)", 3 * n4, lambda: _C.binary("add", acc, dy, True),
                 (lambda: tacc.add_(tdy)) if torch is not None else None, lambda: np.add(acc, dy, out=acc)))
    # broadcast operands (per channel, scalar) and the adjoint sum that is their gradient;
    # torch's autograd does mul's as two passes too (g * x, then sum_to_size)
    v = np.random.default_rng(1).standard_normal((1, x.shape[1], 1, 1)).astype(np.float32)
    two = np.asarray(2.0, np.float32)
    form, scalar = (x.shape[0], x.shape[1], x[0, 0].size), (1, 1, x.size)
    tv = torch.from_numpy(v) if torch is not None else None
    rows.append(("mul", "x * v, v per channel", 2 * n4, lambda: _C.binary_broadcast("mul", x, v, *form),
                 (lambda: tx * tv) if torch is not None else None, lambda: x * v))
    rows.append(("add", "x + 2 (scalar)", 2 * n4, lambda: _C.binary_broadcast("add", x, two, *scalar),
                 (lambda: tx + 2.0) if torch is not None else None, lambda: x + two))
    rows.append(("grad v of x + v", "sum per channel", n4, lambda: _C.broadcast_sum(dy, *form),
                 (lambda: tdy.sum((0, 2, 3))) if torch is not None else None, lambda: dy.sum(axis=(0, 2, 3))))
    rows.append(("grad v of x * v", "sum of dy * x per channel", 2 * n4, lambda: _C.broadcast_sum(dy, *form, other=x),
                 (lambda: (tdy * tx).sum((0, 2, 3))) if torch is not None else None,
                 lambda: (dy * x).sum(axis=(0, 2, 3))))
    return rows


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    repeat = 3 if args.quick else 30
    torch = torch_or_none(args.threads)
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal(SHAPE).astype(np.float32), rng.standard_normal(SHAPE).astype(np.float32)
    copy_gbs = copy_bandwidth()
    rows = cases(x, dy, torch)
    print(bandwidth_header(f"{SHAPE} float32", args.threads, copy_gbs))
    print()
    print_bandwidth_table([((op, kind, f"{median_ms(np_fn, repeat):.3f}"), nbytes, fn, tfn)
                           for op, kind, nbytes, fn, tfn, np_fn in rows],
                          ("op", "pass", "numpy ms"), copy_gbs, repeat,
                          ": forward x + y, backward dy + saved + dx, add a + b + out.")


if __name__ == "__main__":
    main()
