"""Gradient flow through plain and residual nets: the notes' dL/dx = dL/dy (s'(Wx+b) W^T + I) for a
residual block.  Per-block gradient norms at initialization (depth 8, 20, 56), the shattered-
gradients correlation (Balduzzi et al. 2017), and plain-56 against ResNet-56 training curves."""
from __future__ import annotations

import numpy as np

import pycnn
from pycnn import functional as F
from pycnn import models, nn

from ._common import digits, draw_figures, savefig, train
from ._nets import SigmoidStack, cifar_forward

DESCRIPTION = "Do residual connections keep gradients alive and correlated where plain nets lose them?"


def block_grad_norms(ctx, forward, X, y):
    keep = []
    loss = F.cross_entropy(forward(ctx.tensor(X), keep), ctx.tensor(y))
    loss.backward()
    return [float(np.linalg.norm(k.grad.cpu().numpy()) / np.sqrt(k.grad.cpu().numpy()[0].size)) for k in keep]


def calibrate_bn(ctx, model, X):
    """BatchNorm running statistics from one batch (momentum 1), then eval mode: a deterministic
    per-sample function, so the gradients at different inputs are independent."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 1.0
    model.train()
    with pycnn.no_grad():
        model(ctx.tensor(X))
    model.eval()


def line_correlations(ctx, model, X0, y0, dists, rng):
    """Mean Pearson correlation of the input gradient at x0 with the one at x0 + t d (|d| = |x0|)."""
    d = rng.standard_normal(X0.shape).astype(np.float32)
    d *= (np.linalg.norm(X0.reshape(len(X0), -1), axis=1) / np.linalg.norm(d.reshape(len(d), -1), axis=1))[:, None, None, None]
    pts = np.concatenate([X0 + t * d for t in dists])  # (len(dists) * n, 1, H, W), distance-major
    x = ctx.tensor(pts, requires_grad=True)
    F.cross_entropy(model(x), ctx.tensor(np.tile(y0, len(dists))), reduction="sum").backward()
    g = x.grad.cpu().numpy().reshape(len(dists), len(X0), -1)
    g = g - g.mean(2, keepdims=True)
    g /= np.linalg.norm(g, axis=2, keepdims=True) + 1e-30
    return (g * g[:1]).sum(2).mean(1)  # per distance, averaged over the starting digits


def run(ctx):
    Xtr, ytr, _, _ = digits(8)
    rng = np.random.default_rng(ctx.seed)
    b = rng.choice(len(Xtr), 32, replace=False)
    Xb, yb = Xtr[b], ytr[b]
    depths = ctx.pick((8, 20), (8, 20, 56))
    norms = {}
    for depth in depths:
        n = (depth - 2) // 6
        for plain in (True, False):
            pycnn.manual_seed(ctx.seed)
            m = models.CifarResNet(n, num_classes=10, in_channels=1, plain=plain).to(ctx.device)
            m.train()
            norms[f"{'plain' if plain else 'resnet'}-{depth} (He init + BN)"] = block_grad_norms(
                ctx, lambda x, keep: cifar_forward(m, x, keep), Xb, yb)
        for residual in (False, True):
            pycnn.manual_seed(ctx.seed)
            s = SigmoidStack(depth, residual).to(ctx.device)
            norms[f"{'residual' if residual else 'plain'}-{depth} (sigmoid, no norm)"] = block_grad_norms(ctx, s, Xb, yb)
    ratios = {k: v[0] / v[-1] for k, v in norms.items()}
    for k, r in ratios.items():
        ctx.say(f"{k:32s}: |dL/dx| at block 1 / at the last block = {r:.3g}")
    # shattered gradients at the deepest depth
    D = depths[-1]
    dists = np.array(ctx.pick([0, 0.003, 0.01, 0.03, 0.1], [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3]))
    idx = rng.choice(len(Xtr), ctx.pick(8, 16), replace=False)
    corr = {}
    for plain in (True, False):
        pycnn.manual_seed(ctx.seed)
        m = models.CifarResNet((D - 2) // 6, num_classes=10, in_channels=1, plain=plain).to(ctx.device)
        calibrate_bn(ctx, m, Xtr[rng.choice(len(Xtr), 128, replace=False)])
        corr[f"{'plain' if plain else 'resnet'}-{D}"] = line_correlations(ctx, m, Xtr[idx], ytr[idx], dists,
                                                                         np.random.default_rng(ctx.seed + 1))
    for k, c in corr.items():
        ctx.say(f"{k}: gradient correlation at distances {', '.join(f'{t:g}' for t in dists)} x|x|: "
                + ", ".join(f"{v:.2f}" for v in c))
    # training curves of plain-D against ResNet-D (D = 56 in full mode)
    steps = ctx.pick(3, 50)
    curves = {}
    for plain in (True, False):
        pycnn.manual_seed(ctx.seed)
        m = models.CifarResNet((D - 2) // 6, num_classes=10, in_channels=1, plain=plain).to(ctx.device)
        curves[f"{'plain' if plain else 'resnet'}-{D}"] = train(ctx, m, Xtr, ytr, steps, lr=1e-3, batch_size=32,
                                                               rng=np.random.default_rng(ctx.seed))
    tail = max(1, steps // 5)
    final = {k: float(np.mean(v[-tail:])) for k, v in curves.items()}
    ctx.say(f"training loss after {steps} steps (mean of the last {tail}): "
            + ", ".join(f"{k} {v:.3f}" for k, v in final.items()))
    modern = ratios[f"plain-{D} (He init + BN)"]
    ctx.say(f"note: with He init + BatchNorm the plain-{D} gradient does not vanish toward the input, it "
            f"{'grows' if modern > 1 else 'shrinks'} (block 1 / last = {modern:.3g}); with sigmoid and no normalization it does "
            f"({ratios[f'plain-{D} (sigmoid, no norm)']:.3g}) and the residual version keeps it "
            f"({ratios[f'residual-{D} (sigmoid, no norm)']:.3g})")
    draw_figures(ctx, _figures, norms, corr, dists, curves, D)
    cp, cr = corr[f"plain-{D}"], corr[f"resnet-{D}"]
    near = (dists > 0) & (dists <= 0.03)
    mean_near = {k: float(np.mean(c[near])) for k, c in corr.items()}
    ctx.say(f"mean correlation at distances in (0, 0.03]|x|: " + ", ".join(f"{k} {v:.2f}" for k, v in mean_near.items()))
    return {"mean_correlation_near": mean_near, "grad_norms": norms, "first_over_last": ratios, "distances": dists, "correlation": corr,
            "loss_curves": curves, "final_loss": final, "depth_for_correlation": D,
            "headline": f"gradient correlation at distance 0.01|x|: resnet-{D} {cr[dists == 0.01][0]:.2f} vs plain-{D} "
                        f"{cp[dists == 0.01][0]:.2f}; plain-{D} grad norm block1/last {ratios[f'plain-{D} (He init + BN)']:.3g} "
                        f"(BN: explodes, not vanishes), sigmoid plain-{D} {ratios[f'plain-{D} (sigmoid, no norm)']:.2g} vs "
                        f"residual {ratios[f'residual-{D} (sigmoid, no norm)']:.2g}; final loss resnet-{D} "
                        f"{final[f'resnet-{D}']:.2f} vs plain-{D} {final[f'plain-{D}']:.2f}"}


def _figures(p, ctx, norms, corr, dists, curves, D):
    """Gradient norms per block, the shattered-gradient correlations and the training curves."""
    fig, ax = p.subplots(1, 2, figsize=(11, 3.8))
    for k, v in norms.items():
        a = ax[0] if "BN" in k else ax[1]
        a.semilogy(range(1, len(v) + 1), v, ("--" if k.startswith("plain") else "-"), label=k)
    ax[0].set_title("He init + BatchNorm (modern)", fontsize=9)
    ax[1].set_title("sigmoid, no normalization (the notes' setting)", fontsize=9)
    for a in ax:
        a.set_xlabel("block l (input side = 1)"), a.set_ylabel("RMS of dL/dx_l"), a.legend(fontsize=7)
    savefig(ctx, fig, "norms")
    fig, ax = p.subplots(figsize=(5.5, 3.8))
    for k, c in corr.items():
        ax.semilogx(dists[1:], c[1:], "o-", label=k)
    ax.set_xlabel("distance along a random line (x |x0|), log scale"), ax.set_ylabel("corr(grad at x0, grad at x)")
    ax.set_title("shattered gradients (Balduzzi et al. 2017)", fontsize=9), ax.legend()
    savefig(ctx, fig, "correlation")
    fig, ax = p.subplots(figsize=(5.5, 3.8))
    for k, v in curves.items():
        ax.plot(v, label=k)
    ax.set_xlabel("step (batch 32, Adam 1e-3)"), ax.set_ylabel("training loss"), ax.legend()
    ax.set_title(f"plain-{D} against ResNet-{D} on the digits", fontsize=9)
    savefig(ctx, fig, "loss")
