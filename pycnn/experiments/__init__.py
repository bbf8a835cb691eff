"""The lecture notes' claims as experiments: ``pycnn experiment NAME [--quick] [--out DIR] [--device D]``.

Each experiment module has ``DESCRIPTION`` (the question it asks) and ``run(ctx) -> dict`` (its
numbers, with a ``headline``).  ``run(name, ...)`` prints a summary, writes DIR/NAME.json and, when
matplotlib is installed, DIR/NAME*.png.
"""
from __future__ import annotations

import importlib
import json
import os
import time

from ._common import PLOT_HINT, Context, plt, to_py

# name -> module, in the order of the issue
EXPERIMENTS = {
    "gradient-flow": "gradient_flow",
    "transfer": "transfer",
    "visualize": "visualize",
    "shift-equivariance": "shift_equivariance",
    "conv-matrix": "conv_matrix",
    "filters": "filters",
    "upsampling": "upsampling",
    "normalization": "normalization",
    "hmax": "hmax",
    "loss-landscape": "loss_landscape",
}


def list_experiments():
    """[(name, one-line description)] of all experiments."""
    return [(n, importlib.import_module(f".{m}", __name__).DESCRIPTION) for n, m in EXPERIMENTS.items()]


def run(name, quick=False, out="experiments_out", device="cpu", seed=0, verbose=True):
    """Runs one experiment; returns the dict written to OUT/NAME.json."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment: unknown name {name!r}; available: {', '.join(EXPERIMENTS)}")
    import numpy as np

    import pycnn

    os.makedirs(out, exist_ok=True)
    mod = importlib.import_module(f".{EXPERIMENTS[name]}", __name__)
    ctx = Context(name=name, quick=quick, out=out, device=device, seed=seed)
    np.random.seed(seed)
    pycnn.manual_seed(seed)
    if verbose:
        print(f"{name}{' (quick)' if quick else ''}: {mod.DESCRIPTION}")
    t0, c0 = time.perf_counter(), time.process_time()
    results = mod.run(ctx)
    record = {"experiment": name, "question": mod.DESCRIPTION, "quick": quick, "device": device, "seed": seed,
              "seconds": round(time.perf_counter() - t0, 2),
              "cpu_seconds": round(time.process_time() - c0, 2), "results": to_py(results),
              "summary": ctx.messages, "figures": [os.path.basename(f) for f in ctx.figures]}
    path = os.path.join(out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    if verbose:
        print(f"  => {results.get('headline', '')}")
        if plt() is None:
            print(f"  {PLOT_HINT}")
        print(f"  wrote {path}" + "".join(f", {f}" for f in ctx.figures)
              + f" in {record['seconds']} s ({record['cpu_seconds']} s CPU)")
    return record
