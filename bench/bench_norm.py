"""Benchmark of the norm family: each layer's fused forward and backward kernel on
(32, 64, 32, 32) float32 (LayerNorm(256) and LayerNorm(64): the same data as (8192, 256) and
(32768, 64), the short-row path),
as a markdown table.

GB/s counts the compulsory traffic only (forward: read x, write y; backward: read dy and x,
write dx); "passes" is what the kernel actually sweeps (R = a read of x, or of x and dy;
W = a write), the second read of each normalized set mostly hitting cache.  Ratios are to
PyTorch's CPU op (when torch is importable) and to the bandwidth of a large numpy copy, both
measured in the same run with the same thread count.

    python bench/bench_norm.py [--quick] [--threads N]
"""
from __future__ import annotations

import os
import sys

import numpy as np

from pycnn import _C

sys.path.insert(0, os.path.dirname(__file__))
from common import (bandwidth_header, bench_arguments, copy_bandwidth, print_bandwidth_table,  # noqa: E402
                    torch_backward, torch_forward)

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # torch is optional: the torch column then reads "-"
    torch = None

SHAPE = (32, 64, 32, 32)
EPS = 1e-5


def cases(x, dy):
    """(layer, pass, kernel passes, pycnn fn, torch fn or None) for each measured kernel."""
    N, C = x.shape[:2]
    rng = np.random.default_rng(0)
    w, b = (1 + 0.1 * rng.standard_normal(C)).astype(np.float32), rng.standard_normal(C).astype(np.float32)
    rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
    D = x[0].size
    wl, bl = np.ones(x.shape[1:], np.float32), np.zeros(x.shape[1:], np.float32)
    x2, dy2 = x.reshape(N, D), dy.reshape(N, D)
    xi, dyi = x.reshape(1, N * C, -1), dy.reshape(1, N * C, -1)
    wi, bi = np.tile(w, N), np.tile(b, N)
    x256, dy256 = x.reshape(-1, 256), dy.reshape(-1, 256)  # LayerNorm over a short last dim
    w256, b256 = (1 + 0.1 * rng.standard_normal(256)).astype(np.float32), rng.standard_normal(256).astype(np.float32)
    x64, dy64 = x.reshape(-1, 64), dy.reshape(-1, 64)  # and a shorter one
    w64, b64 = w256[:64].copy(), b256[:64].copy()

    # the params, built as pycnn.functional builds them (instance norm: batch norm of (1, N*C, H*W))
    p_bn = _C.batch_norm_params("batch_norm", x.shape, w.shape, b.shape, rm.shape, rv.shape, True, EPS)
    p_bn_eval = _C.batch_norm_params("batch_norm", x.shape, w.shape, b.shape, rm.shape, rv.shape, False, EPS)
    p_gn = _C.group_norm_params("group_norm", x.shape, 32, w.shape, b.shape, EPS)
    p_ln = _C.layer_norm_params("layer_norm", x.shape, x.shape[1:], wl.shape, bl.shape, EPS)
    p_in = _C.batch_norm_params("instance_norm", xi.shape, wi.shape, bi.shape, None, None, True, EPS)
    p_pn = _C.pixel_norm_params("pixel_norm", x.shape, 1e-8)
    p_ln256 = _C.layer_norm_params("layer_norm", x256.shape, (256,), w256.shape, b256.shape, EPS)
    p_ln64 = _C.layer_norm_params("layer_norm", x64.shape, (64,), w64.shape, b64.shape, EPS)
    wl1, bl1 = wl.reshape(-1), bl.reshape(-1)  # the (M, D) view's affine

    bn = _C.batch_norm_forward(x, rm, rv, w, b, p_bn, True, 0.1)
    bn_eval = _C.batch_norm_forward(x, rm, rv, w, b, p_bn_eval, False, 0.1)
    gn = _C.group_norm_forward(x, w, b, p_gn)
    ln = _C.group_norm_forward(x2, wl1, bl1, p_ln)
    inn = _C.batch_norm_forward(xi, None, None, wi, bi, p_in, True, 0.1)
    pn = _C.pixel_norm_forward(x, p_pn)
    ln256 = _C.group_norm_forward(x256, w256, b256, p_ln256)
    ln64 = _C.group_norm_forward(x64, w64, b64, p_ln64)

    ours = [
        ("BatchNorm2d train", "forward", "2R+1W", lambda: _C.batch_norm_forward(x, rm, rv, w, b, p_bn, True, 0.1)),
        ("BatchNorm2d train", "backward", "2R+1W", lambda: _C.batch_norm_backward(dy, x, bn[1], bn[2], w, p_bn, True)),
        ("BatchNorm2d eval", "forward", "1R+1W", lambda: _C.batch_norm_forward(x, rm, rv, w, b, p_bn_eval, False, 0.1)),
        ("BatchNorm2d eval", "backward", "1R+1W",
         lambda: _C.batch_norm_backward(dy, x, bn_eval[1], bn_eval[2], w, p_bn_eval, False)),
        ("LayerNorm(C,H,W)", "forward", "2R+1W", lambda: _C.group_norm_forward(x2, wl1, bl1, p_ln)),
        ("LayerNorm(C,H,W)", "backward", "2R+1W", lambda: _C.group_norm_backward(dy2, x2, ln[1], ln[2], wl1, p_ln)),
        ("InstanceNorm2d", "forward", "2R+1W", lambda: _C.batch_norm_forward(xi, None, None, wi, bi, p_in, True, 0.1)),
        ("InstanceNorm2d", "backward", "2R+1W", lambda: _C.batch_norm_backward(dyi, xi, inn[1], inn[2], wi, p_in, True)),
        ("GroupNorm(32)", "forward", "2R+1W", lambda: _C.group_norm_forward(x, w, b, p_gn)),
        ("GroupNorm(32)", "backward", "2R+1W", lambda: _C.group_norm_backward(dy, x, gn[1], gn[2], w, p_gn)),
        ("PixelNorm", "forward", "2R+1W", lambda: _C.pixel_norm_forward(x, p_pn)),
        ("PixelNorm", "backward", "2R+1W", lambda: _C.pixel_norm_backward(dy, x, pn[1], p_pn)),
        ("LayerNorm(256)", "forward", "2R+1W", lambda: _C.group_norm_forward(x256, w256, b256, p_ln256)),
        ("LayerNorm(256)", "backward", "2R+1W",
         lambda: _C.group_norm_backward(dy256, x256, ln256[1], ln256[2], w256, p_ln256)),
        ("LayerNorm(64)", "forward", "2R+1W", lambda: _C.group_norm_forward(x64, w64, b64, p_ln64)),
        ("LayerNorm(64)", "backward", "2R+1W",
         lambda: _C.group_norm_backward(dy64, x64, ln64[1], ln64[2], w64, p_ln64)),
    ]
    theirs = [None] * len(ours)
    if torch is not None:
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        trm, trv = map(torch.from_numpy, (rm.copy(), rv.copy()))
        # the affine parameters require grad, as in training: torch's backward then computes
        # dgamma and dbeta too, as pycnn's kernels always do (without it torch's rows skip them)
        tw, tb, twl, tbl, tw256, tb256, tw64, tb64 = (torch.from_numpy(a.copy()).requires_grad_(True)
                                                      for a in (w, b, wl, bl, w256, b256, w64, b64))
        fwd = {
            0: lambda t: TF.batch_norm(t, trm, trv, tw, tb, True, 0.1, EPS),
            2: lambda t: TF.batch_norm(t, trm, trv, tw, tb, False, 0.1, EPS),
            4: lambda t: TF.layer_norm(t, tuple(SHAPE[1:]), twl, tbl, EPS),
            6: lambda t: TF.instance_norm(t, weight=tw, bias=tb, eps=EPS),
            8: lambda t: TF.group_norm(t, 32, tw, tb, EPS),
            10: lambda t: t * torch.rsqrt(t.pow(2).mean(dim=1, keepdim=True) + 1e-8),
            12: lambda t: TF.layer_norm(t.reshape(-1, 256), (256,), tw256, tb256, EPS).reshape(t.shape),
            14: lambda t: TF.layer_norm(t.reshape(-1, 64), (64,), tw64, tb64, EPS).reshape(t.shape),
        }
        for i, f in fwd.items():
            theirs[i] = torch_forward(f, tx)
            theirs[i + 1] = torch_backward(f, tx, tdy)
    return [(*o, t) for o, t in zip(ours, theirs)]


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    repeat = 3 if args.quick else 20

    rng = np.random.default_rng(0)
    x = (0.5 + rng.standard_normal(SHAPE)).astype(np.float32)
    dy = rng.standard_normal(SHAPE).astype(np.float32)
    copy_gbs = copy_bandwidth(repeat)
    print(bandwidth_header(f"shape {SHAPE} float32", args.threads, copy_gbs))
    print()
    rows = (((layer, which, passes), (2 if which == "forward" else 3) * x.nbytes, fn, tfn)
            for layer, which, passes, fn, tfn in cases(x, dy))
    print_bandwidth_table(rows, ("layer", "pass", "kernel passes"), copy_gbs, repeat,
                          ": forward x + y, backward dy + x + dx.")


if __name__ == "__main__":
    main()
