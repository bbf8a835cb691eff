"""Feature visualization of a trained LeNet-5: the first layer's filters as an image grid, and
activation maximization (gradient ascent on the input with L2 decay, jitter and blur) for chosen
channels of each conv layer and for each class."""
from __future__ import annotations

import numpy as np

import pycnn
from pycnn import filters as flt
from pycnn import models

from ._common import accuracy, digits, plt, savefig, train

DESCRIPTION = "What do a trained LeNet-5's filters look for, and what input maximizes each channel and class?"


def objective(model, x, layer):
    """(N, units) to maximize: for a conv layer its channels' centre units (whose receptive field,
    5x5 for conv1 and 14x14 for conv2, is what the ascent can shape), for 'class' the logits."""
    if layer == "conv1":
        a = model.conv1(x)
    elif layer == "conv2":
        a = model.conv2(model.pool(model.conv1(x).relu()))
    else:
        return model(x)  # logits
    return a[:, :, a.shape[2] // 2, a.shape[3] // 2]  # the unit at the centre of each channel


def maximize(ctx, model, layer, units, steps, rng, lr=0.05, decay=2e-3, jitter=2, blur_every=4):
    """Gradient ascent on x (units, 1, 32, 32) for sum_i objective[i, units[i]]."""
    x = (0.1 * rng.standard_normal((len(units), 1, 32, 32))).astype(np.float32)
    onehot = np.zeros((len(units), 10 if layer == "class" else 16 if layer == "conv2" else 6), np.float32)
    onehot[np.arange(len(units)), units] = 1
    blur = flt.gaussian(3, 0.5)
    model.eval()
    for step in range(steps):
        dy, dx = rng.integers(-jitter, jitter + 1, 2)
        xt = ctx.tensor(np.roll(x, (dy, dx), (2, 3)), requires_grad=True)
        (objective(model, xt, layer) * ctx.tensor(onehot)).sum().backward()
        g = np.roll(xt.grad.cpu().numpy(), (-dy, -dx), (2, 3))
        x = np.clip(x + lr * g / (np.abs(g).mean() + 1e-12) - decay * x, -0.5, 1.5)  # normalized step + L2 decay
        if blur_every and step % blur_every == 0:
            x = flt.filter2d(ctx.tensor(x), blur, padding="same", padding_mode="replicate").cpu().numpy()
    return x


def run(ctx):
    Xtr, ytr, Xte, yte = digits(32)
    pycnn.manual_seed(ctx.seed)
    model = models.get("lenet5", num_classes=10, in_channels=1).to(ctx.device)
    train(ctx, model, Xtr, ytr, steps=ctx.pick(20, 250), lr=2e-3, batch_size=64, rng=np.random.default_rng(ctx.seed))
    acc = accuracy(ctx, model, Xte, yte)
    ctx.say(f"LeNet-5 on 32x32 digits: test accuracy {acc:.3f}")
    rng = np.random.default_rng(ctx.seed)
    steps = ctx.pick(6, 120)
    imgs = {"conv1": maximize(ctx, model, "conv1", list(range(6)), steps, rng),
            "conv2": maximize(ctx, model, "conv2", list(range(8)), steps, rng),
            "class": maximize(ctx, model, "class", list(range(10)), steps, rng)}
    with pycnn.no_grad():
        model.eval()
        probs = pycnn.functional.softmax(model(ctx.tensor(imgs["class"])), 1).cpu().numpy()
        start = pycnn.functional.softmax(model(ctx.tensor((0.1 * np.random.default_rng(7).standard_normal(
            (10, 1, 32, 32))).astype(np.float32))), 1).cpu().numpy()
    p_target = probs[np.arange(10), np.arange(10)]
    ctx.say(f"class visualizations: softmax probability of their own class {p_target.mean():.3f} on average "
            f"(min {p_target.min():.3f}), against {start[np.arange(10), np.arange(10)].mean():.3f} for noise")
    w = model.conv1.weight.detach().cpu().numpy()[:, 0]
    p = plt()
    if p is not None:
        fig, ax = p.subplots(1, 6, figsize=(8, 1.8))
        for i, a in enumerate(ax):
            a.imshow(w[i], cmap="gray"), a.set_title(f"conv1 #{i}", fontsize=8), a.axis("off")
        savefig(ctx, fig, "filters")
        rows = [("conv1", 6), ("conv2", 8), ("class", 10)]
        fig, ax = p.subplots(3, 10, figsize=(12, 4.2))
        for r, (name, n) in enumerate(rows):
            for c in range(10):
                a = ax[r, c]
                a.axis("off")
                if c < n:
                    a.imshow(imgs[name][c, 0], cmap="gray")
                    a.set_title(f"{name} {c}" if name != "class" else f"class {c} p={p_target[c]:.2f}", fontsize=7)
        savefig(ctx, fig, "maximization")
    return {"test_accuracy": acc, "ascent_steps": steps, "class_target_probability": p_target,
            "noise_target_probability": start[np.arange(10), np.arange(10)],
            "conv1_filters": w,
            "headline": f"LeNet-5 test accuracy {acc:.3f}; class visualizations reach p(own class) "
                        f"{p_target.mean():.2f} on average"}
