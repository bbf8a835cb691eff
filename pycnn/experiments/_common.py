"""Shared plumbing of the experiments: the run context, the digits as numpy arrays, a small
training loop, accuracy, and figure saving that degrades to JSON only without matplotlib."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

import pycnn
from pycnn import functional as F

PLOT_HINT = "matplotlib is not installed: wrote the JSON only; pip install \"pycnn[plot]\" for the figures"


@dataclass
class Context:
    name: str
    quick: bool = False
    out: str = "experiments_out"
    device: str = "cpu"
    seed: int = 0
    figures: list = field(default_factory=list)
    messages: list = field(default_factory=list)

    def tensor(self, a, dtype="float32", requires_grad=False):
        a = np.asarray(a)
        if a.dtype.kind in "iu":
            dtype = "int64"
        return pycnn.tensor(a, dtype=dtype, device=self.device, requires_grad=requires_grad)

    def pick(self, quick, full):
        """quick-mode value or full-mode value."""
        return quick if self.quick else full

    def say(self, line):
        print(f"  {line}")
        self.messages.append(line)


_DIGITS = {}


def digits(image_size=8):
    """(X_train (N,1,S,S) float32, y_train int64, X_test, y_test) numpy arrays of the bundled digits."""
    if image_size not in _DIGITS:
        split = pycnn.datasets.digits(image_size=image_size)
        Xtr, ytr = (t.cpu().numpy() for t in split.train.tensors)
        Xte, yte = (t.cpu().numpy() for t in split.test.tensors)
        _DIGITS[image_size] = (Xtr, ytr.astype(np.int64), Xte, yte.astype(np.int64))
    return _DIGITS[image_size]


def per_class_subset(X, y, k, classes, rng):
    """k random images of each class in `classes` (k=None: all of them)."""
    idx = []
    for c in classes:
        members = np.flatnonzero(y == c)
        idx.extend(members if k is None else rng.choice(members, size=min(k, len(members)), replace=False))
    idx = np.array(sorted(idx))
    return X[idx], y[idx]


def train(ctx, model, X, y, steps, lr=1e-3, batch_size=32, rng=None, params=None, optimizer="adam",
          log_every=1):
    """Minibatch training with cross-entropy; returns the loss of every log_every-th step."""
    rng = rng if rng is not None else np.random.default_rng(ctx.seed)
    params = list(params if params is not None else model.parameters())
    opt = (pycnn.optim.Adam(params, lr=lr) if optimizer == "adam"
           else pycnn.optim.SGD(params, lr=lr, momentum=0.9))
    model.train()
    losses, n = [], len(X)
    order, pos = rng.permutation(n), 0
    for step in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        b = order[pos:pos + batch_size]
        pos += batch_size
        opt.zero_grad()
        loss = F.cross_entropy(model(ctx.tensor(X[b])), ctx.tensor(y[b]))
        loss.backward()
        opt.step()
        if step % log_every == 0:
            losses.append(float(loss.item()))
    return losses


def predict(ctx, model, X, batch_size=256):
    model.eval()
    out = []
    with pycnn.no_grad():
        for i in range(0, len(X), batch_size):
            out.append(model(ctx.tensor(X[i:i + batch_size])).cpu().numpy())
    return np.concatenate(out)


def accuracy(ctx, model, X, y):
    return float((predict(ctx, model, X).argmax(1) == y).mean())


def plt():
    """matplotlib.pyplot on the Agg backend, or None when matplotlib is not installed."""
    if os.environ.get("PYCNN_NO_PLOT"):
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        return None
    return pyplot


def draw_figures(ctx, draw, *args):
    """draw(pyplot, ctx, *args) when matplotlib is installed (each figure goes through savefig);
    without it nothing is drawn and the experiment's JSON alone carries the numbers."""
    p = plt()
    if p is not None:
        draw(p, ctx, *args)


def savefig(ctx, fig, suffix=""):
    """Writes DIR/NAME[-suffix].png and records it."""
    p = plt()
    path = os.path.join(ctx.out, ctx.name + (f"-{suffix}" if suffix else "") + ".png")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    p.close(fig)
    ctx.figures.append(path)
    return path


def to_py(o):
    """JSON-able copy: numpy scalars/arrays to Python numbers/lists."""
    if isinstance(o, dict):
        return {str(k): to_py(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_py(v) for v in o]
    if isinstance(o, np.ndarray):
        return to_py(o.tolist())
    if isinstance(o, (np.floating, float)):
        return float(o) if np.isfinite(o) else str(float(o))
    if isinstance(o, np.integer):
        return int(o)
    return o
