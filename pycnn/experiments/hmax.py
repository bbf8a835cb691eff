"""HMAX (Serre et al. 2007: fixed Gabor S1, max-pooled C1, prototype-matching S2, global-max C2,
linear classifier) against LeNet-5 trained end to end, on the digits at several training-set sizes."""
from __future__ import annotations

import numpy as np

import pycnn
from pycnn import models, nn

from ._common import accuracy, digits, per_class_subset, plt, savefig, train

DESCRIPTION = "With few training images, do HMAX's fixed, biologically-motivated features beat a LeNet-5 trained end to end?"


def c2_features(ctx, model, X, batch=128):
    out = []
    with pycnn.no_grad():
        for i in range(0, len(X), batch):
            out.append(model.features(ctx.tensor(X[i:i + batch])).cpu().numpy())
    return np.concatenate(out)


def run(ctx):
    Xtr, ytr, Xte, yte = digits(32)
    rng = np.random.default_rng(ctx.seed)
    if ctx.quick:
        te = rng.choice(len(Xte), 80, replace=False)
        Xte, yte = Xte[te], yte[te]
    ks = ctx.pick((5, 20), (5, 20, 50, None))
    pycnn.manual_seed(ctx.seed)
    hm = models.get("hmax", num_classes=10, in_channels=1, num_prototypes=ctx.pick(16, 96)).to(ctx.device)
    hm.sample_prototypes(ctx.tensor(Xtr[rng.choice(len(Xtr), ctx.pick(32, 64), replace=False)]), seed=ctx.seed)  # no labels
    res = {"hmax": {}, "lenet5": {}}
    for k in ks:
        kname = "all" if k is None else str(k)
        Xk, yk = per_class_subset(Xtr, ytr, k, range(10), np.random.default_rng(ctx.seed + 10))
        # HMAX: only the linear classifier on the fixed C2 features learns
        ftr, fte = c2_features(ctx, hm, Xk), c2_features(ctx, hm, Xte)
        pycnn.manual_seed(ctx.seed)
        clf = nn.Linear(ftr.shape[1], 10).to(ctx.device)
        train(ctx, clf, ftr, yk, ctx.pick(100, 300), lr=1e-2, batch_size=min(64, len(ftr)),
              rng=np.random.default_rng(ctx.seed))
        res["hmax"][kname] = accuracy(ctx, clf, fte, yte)
        pycnn.manual_seed(ctx.seed)
        le = models.get("lenet5", num_classes=10, in_channels=1).to(ctx.device)
        train(ctx, le, Xk, yk, ctx.pick(15, 200), lr=2e-3, batch_size=min(64, len(Xk)),
              rng=np.random.default_rng(ctx.seed))
        res["lenet5"][kname] = accuracy(ctx, le, Xte, yte)
        ctx.say(f"{kname:>3s} images per class: HMAX {res['hmax'][kname]:.3f}, LeNet-5 {res['lenet5'][kname]:.3f}")
    p = plt()
    if p is not None:
        fig, ax = p.subplots(figsize=(5.5, 3.8))
        labels = list(res["hmax"])
        for k, st in (("hmax", "o-"), ("lenet5", "s-")):
            ax.plot(range(len(labels)), [res[k][l] for l in labels], st,
                    label={"hmax": "HMAX (fixed features + linear)", "lenet5": "LeNet-5 (end to end)"}[k])
        ax.set_xticks(range(len(labels))), ax.set_xticklabels(labels)
        ax.set_xlabel("training images per class"), ax.set_ylabel("test accuracy"), ax.legend()
        ax.set_title("digits at 32x32", fontsize=9)
        savefig(ctx, fig)
    first, last = list(res["hmax"])[0], list(res["hmax"])[-1]
    return {"accuracy": res, "num_prototypes": hm.s2[0].num_prototypes * len(hm.s2),
            "headline": f"{first}/class: HMAX {res['hmax'][first]:.3f} vs LeNet-5 {res['lenet5'][first]:.3f}; "
                        f"{last}/class: HMAX {res['hmax'][last]:.3f} vs LeNet-5 {res['lenet5'][last]:.3f}"}
