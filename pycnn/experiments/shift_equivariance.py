"""Shift-equivariance of convolution, conv(shift(x)) = shift(conv(x)) away from the borders,
and the approximate shift-invariance that max-pooling adds."""
from __future__ import annotations

import numpy as np

from pycnn import functional as F

from ._common import digits, plt, savefig

DESCRIPTION = "Does conv commute with shifts (away from the borders), and how shift-invariant does max-pooling make it?"


def shift(a, dy, dx):
    """Shift the last two axes by (dy, dx) pixels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(a)
    H, W = a.shape[-2:]
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = a[..., max(-dy, 0):H - max(dy, 0),
                                                                        max(-dx, 0):W - max(dx, 0)]
    return out


def run(ctx):
    rng = np.random.default_rng(ctx.seed)
    k, C = 5, 8
    w = rng.standard_normal((C, 1, k, k)).astype(np.float32) / k
    b = rng.standard_normal(C).astype(np.float32)
    Xtr = digits(32)[0][:ctx.pick(16, 128)]

    def conv(a):
        return F.conv2d(ctx.tensor(a), ctx.tensor(w), ctx.tensor(b), 1, k // 2).cpu().numpy()

    shifts = [(1, 0), (0, 3), (2, -1), (-3, 2)]
    eq = []
    for dy, dx in shifts:
        x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
        diff = np.abs(conv(shift(x, dy, dx)) - shift(conv(x), dy, dx))
        m = k // 2 + max(abs(dy), abs(dx))  # pixels within this of the border see the padding
        eq.append(dict(shift=[dy, dx], interior_max_err=float(diff[..., m:-m, m:-m].max()),
                       border_max_err=float(diff.max())))
    worst = max(e["interior_max_err"] for e in eq)
    ctx.say(f"conv(shift x) vs shift(conv x): max |diff| away from the borders {worst:.1e}, "
            f"at the borders up to {max(e['border_max_err'] for e in eq):.2f}")
    # invariance: relative change of the (pooled) feature maps of digits under a shift by s pixels
    feats = np.maximum(conv(Xtr), 0)
    inv = {}
    for pool in (1, 2, 4):
        rel = []
        for s in range(0, 5):
            f0 = feats if pool == 1 else F.max_pool2d(ctx.tensor(feats), pool).cpu().numpy()
            f1 = shift(feats, s, 0) if pool == 1 else F.max_pool2d(ctx.tensor(shift(feats, s, 0)), pool).cpu().numpy()
            rel.append(float(np.linalg.norm(f1 - f0) / np.linalg.norm(f0)))
        inv[f"maxpool{pool}" if pool > 1 else "no pooling"] = rel
    for n, r in inv.items():
        ctx.say(f"{n}: relative change of the feature maps for shifts 0..4 px: " + ", ".join(f"{v:.2f}" for v in r))
    p = plt()
    if p is not None:
        x = Xtr[:1]
        dy, dx = 2, 3
        d = np.abs(conv(shift(x, dy, dx)) - shift(conv(x), dy, dx))[0, 0]
        fig, ax = p.subplots(1, 3, figsize=(12, 3.6))
        ax[0].imshow(x[0, 0], cmap="gray"), ax[0].set_title("digit x"), ax[0].axis("off")
        im = ax[1].imshow(d, cmap="magma")
        ax[1].set_title(f"|conv(shift x) - shift(conv x)|, shift ({dy},{dx})\nnonzero only at the borders", fontsize=9)
        ax[1].axis("off"), fig.colorbar(im, ax=ax[1], fraction=0.046)
        for n, r in inv.items():
            ax[2].plot(range(len(r)), r, "o-", label=n)
        ax[2].set_xlabel("vertical shift (pixels)"), ax[2].set_ylabel("relative change of feature maps")
        ax[2].set_title("max-pooling: approximate invariance", fontsize=9), ax[2].legend()
        savefig(ctx, fig)
    return {"equivariance": eq, "interior_max_err": worst, "invariance_relative_change": inv,
            "headline": f"equivariance error {worst:.1e} away from borders; 1-px shift changes features by "
                        f"{inv['no pooling'][1]:.2f} unpooled vs {inv['maxpool4'][1]:.2f} after 4x4 max-pool"}
