"""Transfer learning: features learned on digits 0-4, reused for 5-9 with k labelled images per
class, three ways: from scratch, frozen features with a new head, full fine-tuning at a lower lr."""
from __future__ import annotations

import copy

import numpy as np

import pycnn

from ._common import accuracy, digits, per_class_subset, plt, savefig, train
from ._nets import SmallCNN

DESCRIPTION = "With few labelled images of new classes, do features pretrained on other classes beat training from scratch?"


def run(ctx):
    Xtr, ytr, Xte, yte = digits(8)
    old, new = range(5), range(5, 10)
    Xo, yo = per_class_subset(Xtr, ytr, None, old, None)
    pycnn.manual_seed(ctx.seed)
    base = SmallCNN(5).to(ctx.device)
    train(ctx, base, Xo, yo, steps=ctx.pick(100, 300), lr=2e-3, batch_size=32, rng=np.random.default_rng(ctx.seed))
    mo, mo_y = per_class_subset(Xte, yte, None, old, None)
    pre_acc = accuracy(ctx, base, mo, mo_y)
    ctx.say(f"pretrained on digits 0-4: test accuracy {pre_acc:.3f}")
    Xn_te, yn_te = per_class_subset(Xte, yte, None, new, None)
    yn_te = yn_te - 5
    ks = ctx.pick((5, 50), (5, 10, 50, None))
    seeds = ctx.pick((0, 1), (0, 1, 2))
    steps = ctx.pick(60, 150)
    acc = {"scratch": {}, "frozen": {}, "finetune": {}}
    for k in ks:
        kname = "all" if k is None else str(k)
        vals = {m: [] for m in acc}
        for s in seeds:
            rng = np.random.default_rng(100 + s)
            Xk, yk = per_class_subset(Xtr, ytr, k, new, rng)
            yk = yk - 5
            bs = min(32, len(Xk))
            for how in acc:
                pycnn.manual_seed(1000 + s)
                model = SmallCNN(5).to(ctx.device)
                if how == "scratch":
                    params, lr = model.parameters(), 2e-3
                else:
                    model.features = copy.deepcopy(base.features)
                    if how == "frozen":
                        model.features.requires_grad_(False)
                        params, lr = model.head.parameters(), 2e-3
                    else:
                        params, lr = model.parameters(), 5e-4
                train(ctx, model, Xk, yk, steps, lr=lr, batch_size=bs, rng=rng, params=params)
                if how == "frozen":
                    model.features.eval()
                vals[how].append(accuracy(ctx, model, Xn_te, yn_te))
        for how in acc:
            acc[how][kname] = float(np.mean(vals[how]))
        ctx.say(f"k={kname:>3s} per class: accuracy on 5-9 scratch {acc['scratch'][kname]:.3f}, frozen "
                f"{acc['frozen'][kname]:.3f}, fine-tuned {acc['finetune'][kname]:.3f}")
    p = plt()
    if p is not None:
        fig, ax = p.subplots(figsize=(5.5, 3.8))
        labels = list(acc["scratch"])
        for how, style in (("scratch", "o-"), ("frozen", "s-"), ("finetune", "^-")):
            ax.plot(range(len(labels)), [acc[how][l] for l in labels], style,
                    label={"scratch": "from scratch", "frozen": "frozen features + new head",
                           "finetune": "fine-tuned (lr / 4)"}[how])
        ax.set_xticks(range(len(labels))), ax.set_xticklabels(labels)
        ax.set_xlabel("labelled images per class of digits 5-9"), ax.set_ylabel("test accuracy on 5-9")
        ax.set_title("features pretrained on digits 0-4", fontsize=9), ax.legend()
        savefig(ctx, fig)
    holds = acc["frozen"]["5"] > acc["scratch"]["5"]
    ctx.say(f"the notes' claim (frozen features beat scratch at k=5) {'shows' if holds else 'does NOT show'} here: "
            f"frozen {acc['frozen']['5']:.3f} vs scratch {acc['scratch']['5']:.3f}"
            + ("" if holds else "; the 8x8 digits are easy enough that a small CNN learns them from 5 images per class"))
    return {"pretrain_accuracy_0_4": pre_acc, "claim_frozen_beats_scratch_at_k5": holds, "accuracy": acc, "seeds": list(seeds), "steps": steps,
            "headline": f"k=5: frozen {acc['frozen']['5']:.3f} / fine-tuned {acc['finetune']['5']:.3f} vs scratch "
                        f"{acc['scratch']['5']:.3f}"}
