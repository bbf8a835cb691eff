"""Loss landscapes of a trained plain net and a trained residual net of the same depth, along one
and two random filter-normalized directions (Li et al. 2018), and a sharpness number: the dominant (largest |lambda|)
Hessian eigenvalue by power iteration on Hessian-vector products from finite differences of
gradients, Hv ~ (g(w + eps v) - g(w - eps v)) / (2 eps)."""
from __future__ import annotations

import numpy as np

import pycnn
from pycnn import functional as F
from pycnn import models

from ._common import digits, plt, savefig, train

DESCRIPTION = "Do residual connections make the loss surface around a trained net smoother?"


def _weights(model):
    return [p for p in model.parameters()]


def _get(params):
    return [p.detach().cpu().numpy().copy() for p in params]


def _set(params, values):
    with pycnn.no_grad():
        for p, v in zip(params, values):
            p.copy_(pycnn.tensor(v.astype(np.float32), device=p.device))


def filter_normalized_direction(values, rng):
    """Gaussian direction with each filter (slice along dim 0) rescaled to that filter's norm;
    zero for biases and normalization parameters (1-D), as Li et al. do."""
    out = []
    for w in values:
        if w.ndim <= 1:
            out.append(np.zeros_like(w))
            continue
        d = rng.standard_normal(w.shape)
        axes = tuple(range(1, w.ndim))
        d *= np.sqrt((w ** 2).sum(axes, keepdims=True)) / (np.sqrt((d ** 2).sum(axes, keepdims=True)) + 1e-12)
        out.append(d)
    return out


def loss_at(ctx, model, X, y):
    with pycnn.no_grad():
        return float(F.cross_entropy(model(ctx.tensor(X)), ctx.tensor(y)).item())


def grad_at(ctx, model, params, X, y):
    model.zero_grad()
    F.cross_entropy(model(ctx.tensor(X)), ctx.tensor(y)).backward()
    return [p.grad.cpu().numpy().astype(np.float64) if p.grad is not None else np.zeros(p.shape) for p in params]


def dominant_hessian_eigenvalue(ctx, model, X, y, iters, rng, eps=1e-3):
    params = _weights(model)
    w0 = [w.astype(np.float64) for w in _get(params)]
    v = [rng.standard_normal(w.shape) for w in w0]
    lam = 0.0
    for _ in range(iters):
        n = np.sqrt(sum((a ** 2).sum() for a in v))
        v = [a / n for a in v]
        _set(params, [w + eps * a for w, a in zip(w0, v)])
        gp = grad_at(ctx, model, params, X, y)
        _set(params, [w - eps * a for w, a in zip(w0, v)])
        gm = grad_at(ctx, model, params, X, y)
        hv = [(a - b) / (2 * eps) for a, b in zip(gp, gm)]
        lam = float(sum((a * b).sum() for a, b in zip(v, hv)))  # Rayleigh quotient v.Hv
        v = hv
    _set(params, w0)
    return lam


def run(ctx):
    Xtr, ytr, _, _ = digits(8)
    depth = ctx.pick(8, 20)
    rng = np.random.default_rng(ctx.seed)
    sub = rng.choice(len(Xtr), ctx.pick(32, 256), replace=False)
    Xs, ys = Xtr[sub], ytr[sub]
    n1, n2 = ctx.pick(5, 17), ctx.pick(3, 9)
    a1 = np.linspace(-1, 1, n1)
    a2 = np.linspace(-1, 1, n2)
    res = {}
    for plain in (True, False):
        key = f"{'plain' if plain else 'resnet'}-{depth}"
        pycnn.manual_seed(ctx.seed)
        model = models.CifarResNet((depth - 2) // 6, num_classes=10, in_channels=1, plain=plain).to(ctx.device)
        losses = train(ctx, model, Xtr, ytr, ctx.pick(4, 60), lr=2e-3, batch_size=32,
                       rng=np.random.default_rng(ctx.seed))
        model.eval()  # BatchNorm with its running statistics: the loss is a function of the weights only
        params = _weights(model)
        w0 = _get(params)
        drng = np.random.default_rng(ctx.seed + 1)
        d1, d2 = filter_normalized_direction(w0, drng), filter_normalized_direction(w0, drng)
        curve = []
        for a in a1:
            _set(params, [w + a * d for w, d in zip(w0, d1)])
            curve.append(loss_at(ctx, model, Xs, ys))
        grid = np.zeros((n2, n2))
        for i, a in enumerate(a2):
            for j, b in enumerate(a2):
                _set(params, [w + a * d + b * e for w, d, e in zip(w0, d1, d2)])
                grid[i, j] = loss_at(ctx, model, Xs, ys)
        _set(params, w0)
        lam = dominant_hessian_eigenvalue(ctx, model, Xs, ys, ctx.pick(2, 8), np.random.default_rng(ctx.seed + 2))
        curve = np.array(curve)
        res[key] = dict(train_loss_end=float(np.mean(losses[-5:])), loss_at_minimum=curve[n1 // 2],
                        curve=curve, grid=grid, top_hessian_eigenvalue=lam,
                        curve_rise_at_1=float((curve[0] + curve[-1]) / 2 - curve[n1 // 2]))
        ctx.say(f"{key}: loss at the trained weights {curve[n1 // 2]:.3f}, mean rise at +-1 filter-normalized step "
                f"{res[key]['curve_rise_at_1']:.3f}, dominant Hessian eigenvalue {lam:.3g}")
    plot(ctx, a1, a2, res)
    kp, kr = f"plain-{depth}", f"resnet-{depth}"
    return {"depth": depth, "alphas_1d": a1, "alphas_2d": a2, "nets": res,
            "headline": f"dominant Hessian eigenvalue plain-{depth} {res[kp]['top_hessian_eigenvalue']:.3g} vs "
                        f"resnet-{depth} {res[kr]['top_hessian_eigenvalue']:.3g}; loss rise at +-1 step "
                        f"{res[kp]['curve_rise_at_1']:.2f} vs {res[kr]['curve_rise_at_1']:.2f}"}


def plot(ctx, a1, a2, res):
    """The 1-D curves (log scale) and the 2-D maps of log10(loss) side by side, same levels."""
    p = plt()
    if p is None:
        return
    fig, ax = p.subplots(1, 3, figsize=(13, 3.8))
    for k, r in res.items():
        ax[0].semilogy(a1, r["curve"], "o-", label=k)
    ax[0].set_xlabel("alpha (filter-normalized direction)"), ax[0].set_ylabel("training loss (log)")
    ax[0].set_title("1-D slice", fontsize=9), ax[0].legend()
    logs = {k: np.log10(np.asarray(r["grid"], dtype=float)) for k, r in res.items()}
    levels = np.linspace(min(g.min() for g in logs.values()), max(g.max() for g in logs.values()), 16)
    for a, (k, g) in zip(ax[1:], logs.items()):
        cs = a.contourf(a2, a2, g, levels=levels, cmap="viridis")
        a.contour(a2, a2, g, levels=levels, colors="k", linewidths=0.4)
        a.set_title(f"{k}: log10(loss), 2-D slice (same levels)", fontsize=9)
        a.set_xlabel("beta"), a.set_ylabel("alpha")
    fig.colorbar(cs, ax=ax[2], fraction=0.046)
    savefig(ctx, fig)
