"""Classical filters on a digit: finite differences, Sobel, Gaussian, Laplacian; the derivative
as an edge detector (large where the intensity changes, zero on flat regions)."""
from __future__ import annotations

import numpy as np

from pycnn import filters as flt

from ._common import digits, plt, savefig

DESCRIPTION = "Do derivative filters find a digit's edges (zero on flat regions, large across strokes)?"


def run(ctx):
    Xtr, ytr, _, _ = digits(ctx.pick(16, 32))
    img = Xtr[int(np.flatnonzero(ytr == 0)[0]), 0]
    x = ctx.tensor(img)
    kernels = {"forward diff x": flt.forward_diff_x(), "central diff x": flt.central_diff_x(),
               "sobel x": flt.sobel_x(), "sobel y": flt.sobel_y(), "gaussian 5 s=1": flt.gaussian(5, 1.0),
               "laplacian": flt.laplacian()}
    resp = {k: flt.filter2d(x, v, padding="same", padding_mode="replicate").cpu().numpy() for k, v in kernels.items()}
    resp["|sobel|"] = np.hypot(resp["sobel x"], resp["sobel y"])
    resp["LoG"] = flt.filter2d(ctx.tensor(resp["gaussian 5 s=1"]), flt.laplacian(), padding="same",
                               padding_mode="replicate").cpu().numpy()
    # edge pixels: where a 3x3 neighbourhood of the binarized digit is not constant
    mask = img > 0.5
    pad = np.pad(mask, 1, mode="edge")
    neigh = np.stack([pad[i:i + mask.shape[0], j:j + mask.shape[1]] for i in range(3) for j in range(3)])
    edge = neigh.any(0) & ~neigh.all(0)
    mag = resp["|sobel|"]
    ratio = float(mag[edge].mean() / max(mag[~edge].mean(), 1e-12))
    # exactness: derivative filters are zero on a constant image and give the slope on a ramp
    H = img.shape[0]
    ramp = np.tile(np.arange(H, dtype=np.float32) * 0.5, (H, 1))
    const = np.full_like(ramp, 0.7)
    checks = {}
    for k in ("forward diff x", "central diff x", "sobel x", "laplacian"):
        on_const = flt.filter2d(ctx.tensor(const), kernels[k], padding="valid").cpu().numpy()
        on_ramp = flt.filter2d(ctx.tensor(ramp), kernels[k], padding="valid").cpu().numpy()
        checks[k] = dict(kernel_sum=float(kernels[k].cpu().numpy().sum()),
                         max_abs_on_constant=float(np.abs(on_const).max()),
                         on_ramp_slope_0_5=float(np.median(on_ramp)))
    ctx.say(f"mean |Sobel| on the digit's edge pixels is {ratio:.1f}x that elsewhere")
    for k, v in checks.items():
        ctx.say(f"{k}: sum {v['kernel_sum']:+.2f}, max |response| on a constant {v['max_abs_on_constant']:.1e}, "
                f"on a ramp of slope 0.5 {v['on_ramp_slope_0_5']:+.3f}")
    p = plt()
    if p is not None:
        names = ["input"] + list(resp)
        fig, axes = p.subplots(2, 5, figsize=(12, 5))
        for ax, n in zip(axes.ravel(), names + ["edge pixels"]):
            a = img if n == "input" else edge if n == "edge pixels" else resp[n]
            signed = n in ("forward diff x", "central diff x", "sobel x", "sobel y", "laplacian", "LoG")
            lim = np.abs(a).max() or 1
            ax.imshow(a, cmap="RdBu_r" if signed else "gray", vmin=-lim if signed else None, vmax=lim if signed else None)
            ax.set_title(n, fontsize=9), ax.axis("off")
        savefig(ctx, fig)
    return {"edge_to_nonedge_sobel_ratio": ratio, "exactness": checks,
            "headline": f"|Sobel| is {ratio:.1f}x larger on edge pixels than elsewhere; derivative kernels sum to 0"}
