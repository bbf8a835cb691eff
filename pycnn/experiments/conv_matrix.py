"""Convolution as a matrix: y = M x with the unrolled M of conv2d_matrix, conv_transpose2d = M^T,
and the weight sharing of M (every nonzero is one of the kernel's values)."""
from __future__ import annotations

import numpy as np

from pycnn import functional as F

from ._common import draw_figures, savefig

DESCRIPTION = "Is conv2d a (sparse, weight-shared) matrix M with y = Mx, and is conv_transpose2d exactly M^T?"


def run(ctx):
    rng = np.random.default_rng(ctx.seed)
    cases = [dict(C_in=1, C_out=1, H=5, W=5, k=3, stride=1, padding=0),
             dict(C_in=3, C_out=4, H=ctx.pick(6, 9), W=ctx.pick(6, 9), k=3, stride=2, padding=1)]
    rows = []
    for c in cases:
        w = rng.standard_normal((c["C_out"], c["C_in"], c["k"], c["k"])).astype(np.float32)
        x = rng.standard_normal((1, c["C_in"], c["H"], c["W"])).astype(np.float32)
        M = F.conv2d_matrix((c["C_in"], c["H"], c["W"]), w, c["stride"], c["padding"], sparse=False)
        y = F.conv2d(ctx.tensor(x), ctx.tensor(w), None, c["stride"], c["padding"]).cpu().numpy()
        err_y = float(np.abs(M @ x.ravel() - y.ravel()).max())
        g = rng.standard_normal(y.shape).astype(np.float32)
        xt = F.conv_transpose2d(ctx.tensor(g), ctx.tensor(w), None, c["stride"], c["padding"],
                                output_padding=_output_padding(c, y.shape)).cpu().numpy()
        err_t = float(np.abs(M.T @ g.ravel() - xt.ravel()).max())
        nz = M[M != 0]
        shared = bool(np.isin(nz, w.ravel()).all())
        rows.append(dict(case=c, M_shape=list(M.shape), nnz=int(nz.size), density=nz.size / M.size,
                         distinct_values=int(np.unique(nz).size), kernel_values=int(w.size),
                         max_err_y_eq_Mx=err_y, max_err_transpose_eq_MT=err_t, nonzeros_are_kernel_values=shared))
        ctx.say(f"{c['C_in']}x{c['H']}x{c['W']} * {c['C_out']}x{c['C_in']}x{c['k']}x{c['k']} s{c['stride']} "
                f"p{c['padding']}: M {M.shape}, {nz.size} nonzeros ({100 * nz.size / M.size:.1f}%), "
                f"{np.unique(nz).size} distinct = kernel's {w.size}; |Mx - y| = {err_y:.1e}, "
                f"|M^T g - conv_transpose(g)| = {err_t:.1e}")
    draw_figures(ctx, _figure, cases[0])
    worst = max(max(r["max_err_y_eq_Mx"], r["max_err_transpose_eq_MT"]) for r in rows)
    return {"cases": rows, "max_error": worst,
            "headline": f"y = Mx and conv_transpose2d = M^T to {worst:.1e}; every nonzero of M is a kernel value"}


def _figure(p, ctx, c):
    """The kernel and its conv matrix M side by side, each kernel tap in its own colour."""
    w = np.arange(1, c["k"] ** 2 + 1, dtype=np.float32).reshape(1, 1, c["k"], c["k"])  # taps 1..9
    M = F.conv2d_matrix((1, c["H"], c["W"]), w, 1, 0, sparse=False)
    fig, ax = p.subplots(1, 2, figsize=(10, 3.8), gridspec_kw=dict(width_ratios=[1, 5]))
    cmap = p.get_cmap("tab10", c["k"] ** 2 + 1)
    ax[0].imshow(w[0, 0], cmap=cmap, vmin=-0.5, vmax=c["k"] ** 2 + 0.5)
    for (i, j), v in np.ndenumerate(w[0, 0]):
        ax[0].text(j, i, f"w{int(v)}", ha="center", va="center", fontsize=8)
    ax[0].set_title("3x3 kernel"), ax[0].axis("off")
    ax[1].imshow(np.where(M == 0, np.nan, M), cmap=cmap, vmin=-0.5, vmax=c["k"] ** 2 + 0.5)
    ax[1].set_title(f"M ({M.shape[0]}x{M.shape[1]}) of a 5x5 input: each colour is one kernel tap")
    ax[1].set_xlabel("input pixel"), ax[1].set_ylabel("output pixel")
    savefig(ctx, fig)


def _output_padding(c, y_shape):
    """output_padding that makes conv_transpose2d come back to the input's H, W."""
    return tuple(c[d] - ((n - 1) * c["stride"] - 2 * c["padding"] + c["k"]) for d, n in zip("HW", y_shape[2:]))
