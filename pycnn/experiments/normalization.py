"""BatchNorm against LayerNorm, InstanceNorm, GroupNorm and no normalization at batch sizes 2, 8
and 32: the notes' table says only BatchNorm depends on the batch size."""
from __future__ import annotations

import numpy as np

import pycnn

from ._common import accuracy, digits, plt, savefig, train
from ._nets import NORMS, SmallCNN

DESCRIPTION = "Does BatchNorm's accuracy depend on the batch size while Layer/Instance/Group norm's do not?"


def batch_dependence(ctx, factory, X, batch_sizes, draws, rng):
    """How much one sample's training-mode output moves when the rest of its batch changes:
    mean over draws of |f(x0 | batch) - mean f(x0)| / |mean f(x0)|, per batch size.  Exactly 0 up
    to rounding for per-sample statistics (Layer/Instance/Group norm, none); not for BatchNorm."""
    pycnn.manual_seed(ctx.seed)
    model = SmallCNN(10, factory).to(ctx.device)
    model.train()
    out = {}
    with pycnn.no_grad():
        for bs in batch_sizes:
            ys = []
            for _ in range(draws):
                b = np.concatenate([X[:1], X[1 + rng.choice(len(X) - 1, bs - 1, replace=False)]])
                ys.append(model(ctx.tensor(b)).cpu().numpy()[0])
            ys = np.array(ys)
            out[bs] = float(np.abs(ys - ys.mean(0)).mean() / (np.abs(ys.mean(0)).mean() + 1e-12))
    return out


def run(ctx):
    Xtr, ytr, Xte, yte = digits(8)
    batch_sizes = (2, 8, 32)
    dep = {n: batch_dependence(ctx, f, Xtr, batch_sizes, 5, np.random.default_rng(ctx.seed)) for n, f in NORMS.items()}
    for n, d in dep.items():
        ctx.say(f"{n:8s}: one sample's output changes with its batch companions by (relative) "
                + " / ".join(f"{d[b]:.1e}" for b in batch_sizes) + " at batch 2/8/32")
    samples = ctx.pick(64, 1024)  # every run sees the same number of training images
    seeds = ctx.pick((0,), (0, 1))
    acc = {n: {} for n in NORMS}
    for n, factory in NORMS.items():
        for bs in batch_sizes:
            vals = []
            for s in seeds:
                pycnn.manual_seed(s)
                model = SmallCNN(10, factory).to(ctx.device)
                train(ctx, model, Xtr, ytr, steps=samples // bs, lr=2e-3, batch_size=bs,
                      rng=np.random.default_rng(s))
                vals.append(accuracy(ctx, model, Xte, yte))
            acc[n][bs] = float(np.mean(vals))
        ctx.say(f"{n:8s}: test accuracy at batch 2/8/32: " + " / ".join(f"{acc[n][b]:.3f}" for b in batch_sizes))
    spread = {n: max(a.values()) - min(a.values()) for n, a in acc.items()}
    gap = {b: acc["batch"][b] - np.mean([acc[n][b] for n in ("layer", "group")]) for b in batch_sizes}
    ctx.say(f"BatchNorm minus the mean of Layer/GroupNorm: {gap[2]:+.3f} at batch 2, {gap[32]:+.3f} at batch 32 "
            f"({'BatchNorm loses more at the small batch, as the notes say' if gap[2] < gap[32] else 'no extra penalty for BatchNorm at batch 2 in accuracy here'}); "
            f"every run sees {samples} images, so batch 2 takes 16x the steps of batch 32")
    p = plt()
    if p is not None:
        fig, ax = p.subplots(figsize=(6.5, 3.8))
        for i, n in enumerate(NORMS):
            ax.bar(np.arange(3) + (i - 2) * 0.16, [acc[n][b] for b in batch_sizes], 0.16, label=n)
        ax.set_xticks(range(3)), ax.set_xticklabels([f"batch {b}" for b in batch_sizes])
        ax.set_ylabel("test accuracy (eval mode)"), ax.set_ylim(0, 1), ax.legend(ncol=5, fontsize=8, loc="lower center")
        ax.set_title(f"same net, same {samples} training images, different normalization", fontsize=9)
        savefig(ctx, fig)
    return {"batch_dependence": dep, "accuracy": acc, "batchnorm_gap_to_layer_group": gap, "spread_over_batch_sizes": spread, "samples_seen": samples, "seeds": list(seeds),
            "headline": f"a sample's output depends on its batch only under BatchNorm ({dep['batch'][2]:.2g} at "
                        f"batch 2, {dep['batch'][32]:.2g} at 32; others <= {max(max(d.values()) for n, d in dep.items() if n != 'batch'):.1g}); "
                        f"BatchNorm accuracy at batch 2 vs 32: {acc['batch'][2]:.3f} vs {acc['batch'][32]:.3f} "
                        f"(spread {spread['batch']:.3f}); GroupNorm spread {spread['group']:.3f}, "
                        f"LayerNorm {spread['layer']:.3f}"}
