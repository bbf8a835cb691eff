"""The four ways back up of the notes, applied to one pooled feature map: nearest neighbour,
bed of nails, max-unpooling with the encoder's indices, and transposed convolution."""
from __future__ import annotations

import numpy as np

from pycnn import functional as F

from ._common import digits, plt, savefig

DESCRIPTION = "What do nearest, bed-of-nails, max-unpooling and transposed convolution each put back?"


def bilinear_kernel(s):
    """(1, 1, 2s, 2s) kernel of bilinear upsampling by s as a transposed conv (stride s, padding s/2)."""
    k = 2 * s
    c = (k - 1) / 2
    f = 1 - np.abs(np.arange(k) - c) / s
    return np.outer(f, f)[None, None].astype(np.float32)


def run(ctx):
    Xtr = digits(32)[0]
    imgs = Xtr[:ctx.pick(8, 64)]
    x = ctx.tensor(imgs)
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    ups = {"nearest": F.interpolate(pooled, scale_factor=2, mode="nearest"),
           "bed of nails": F.upsample_bed_of_nails(pooled, 2),
           "max-unpool": F.max_unpool2d(pooled, idx, 2),
           "transposed conv (bilinear)": F.conv_transpose2d(pooled, ctx.tensor(bilinear_kernel(2)), None, 2, 1)}
    ups = {k: v.cpu().numpy() for k, v in ups.items()}
    res = {}
    for k, u in ups.items():
        res[k] = dict(shape=list(u.shape), mse_to_input=float(((u - imgs) ** 2).mean()),
                      nonzero_fraction=float((u != 0).mean()),
                      sum_ratio=float(u.sum() / imgs.sum()))
        ctx.say(f"{k:27s} -> {u.shape[2]}x{u.shape[3]}: MSE to the input {res[k]['mse_to_input']:.4f}, "
                f"nonzero {100 * res[k]['nonzero_fraction']:.0f}%")
    # max-unpool returns each max exactly at the place the pool took it from
    u = ups["max-unpool"]
    exact = float(np.abs(u[u != 0] - imgs[u != 0]).max()) if (u != 0).any() else 0.0
    ctx.say(f"max-unpool: every nonzero equals the input pixel at its position (max |diff| {exact:.1e})")
    p = plt()
    if p is not None:
        fig, ax = p.subplots(1, 6, figsize=(14, 2.8))
        panels = [("input 32x32", imgs[0, 0]), ("max-pooled 16x16", pooled.cpu().numpy()[0, 0])] + \
                 [(k, v[0, 0]) for k, v in ups.items()]
        for a, (t, im) in zip(ax, panels):
            a.imshow(im, cmap="gray", vmin=0, vmax=1), a.set_title(t, fontsize=9), a.axis("off")
        savefig(ctx, fig)
    best = min(res, key=lambda k: res[k]["mse_to_input"])
    return {"methods": res, "max_unpool_exact_at_indices": exact,
            "headline": f"lowest reconstruction MSE: {best} ({res[best]['mse_to_input']:.4f}); "
                        f"bed of nails keeps {100 * res['bed of nails']['nonzero_fraction']:.0f}% nonzero"}
