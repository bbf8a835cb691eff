"""Training steps of real networks at batch 64 (LeNet-5 also at batch 1): pycnn against PyTorch's
CPU build in one process, the same weights (torch loads pycnn's state_dict) and data, the same
threads, timed in turn so a slow spell hits both.  One step = zero_grad + forward + cross_entropy
+ backward + SGD with momentum (bench/models.py).  Reports ms per step, images/s and the ratio
(>1: pycnn faster), and checks the two first losses agree.

Note: pycnn's import tunes glibc malloc for the whole process (csrc/bind/module.cpp), which
also speeds up torch in the same process; bench_step_ab.py times one library per process.

Usage: python bench/bench_train.py [--quick] [--threads N] [--models lenet5,resnet8,...]
"""
import os
import sys

import numpy as np

import pycnn

sys.path.insert(0, os.path.dirname(__file__))
from common import bench_arguments, median_ms, table, torch_or_none  # noqa: E402
from models import MODELS, build, train_step  # noqa: E402


def best_of_rounds(steps, repeat, rounds=3):
    """Times each step in turn, `rounds` times over, and keeps each one's lowest median (ms)."""
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            best[i] = min(best[i], median_ms(step, repeat=repeat))
    return best


def twins(torch, kind):
    """(pycnn model, torch model with the same weights and buffers, or None)."""
    pycnn.manual_seed(0)
    ours = build(pycnn, kind)
    if torch is None:
        return ours, None
    theirs = build(torch, kind)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()},
                           strict=True)
    return ours, theirs


def first_losses(torch, ours, theirs, kind, batch):
    from models import input_shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape(kind, batch)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    a = pycnn.nn.functional.cross_entropy(ours(pycnn.tensor(x)), pycnn.tensor(y)).item()
    b = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).item()
    return a, b


def main():
    def configure(ap):
        ap.add_argument("--models", default=",".join(MODELS), help="comma-separated, of " + ", ".join(MODELS))
    args = bench_arguments(__doc__.splitlines()[0], configure)
    torch = torch_or_none(args.threads)
    rows = []
    cases = [("lenet5", 1)] + [(kind, 64) for kind in args.models.split(",")]
    for kind, batch in cases:
        if kind not in MODELS:
            raise SystemExit(f"unknown model {kind!r} (expected one of {', '.join(MODELS)})")
        if kind == "lenet5" and batch == 1 and "lenet5" not in args.models.split(","):
            continue
        ours, theirs = twins(torch, kind)
        steps = [train_step(pycnn, ours, batch, kind)]
        if theirs is not None:
            la, lb = first_losses(torch, ours, theirs, kind, batch)
            if abs(la - lb) > 1e-3 * max(1.0, abs(lb)):
                raise SystemExit(f"{kind}: first losses differ: pycnn {la} torch {lb}")
            steps.append(train_step(torch, theirs, batch, kind))
        heavy = kind in ("resnet20", "mobile", "inception")
        repeat = 3 if args.quick else (8 if heavy else 20)
        ms, *peer = best_of_rounds(steps, repeat)
        row = [kind, str(batch), f"{ms:.2f}", f"{batch / ms * 1e3:.0f}"]
        row += [f"{peer[0]:.2f}", f"{batch / peer[0] * 1e3:.0f}", f"{peer[0] / ms:.2f}"] if peer else ["-"] * 3
        rows.append(row)
        print("  ".join(row), flush=True)
    print(f"\nthreads={pycnn.get_num_threads()} simd={pycnn.build_info()['simd']}; each time is the lowest of "
          "3 medians, the two libraries timed in turn, same weights\n")
    print(table(rows, ["model", "batch", "pycnn ms", "pycnn img/s", "torch ms", "torch img/s",
                       "torch/pycnn (>1: pycnn faster)"]))


if __name__ == "__main__":
    main()
