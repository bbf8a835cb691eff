"""End-to-end LeNet-5 training step (forward, backward, SGD update) at batch 1 and 64.

Reports median ms per step and images/s for pycnn, and the ratio to the same
network and step in PyTorch's CPU build when torch is importable (same threads).
Usage: python bench/bench_train.py [--quick]
"""
import os
import sys

import numpy as np

import pycnn
from pycnn import functional as F
from pycnn import optim
from pycnn.models import LeNet5

sys.path.insert(0, os.path.dirname(__file__))
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))  # torch_zoo
from common import bench_arguments, median_ms, table, torch_or_none  # noqa: E402


def pycnn_step(batch):
    pycnn.manual_seed(0)
    model = LeNet5()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = pycnn.randn(batch, 1, 32, 32)
    y = pycnn.tensor(np.arange(batch) % 10)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def torch_step(torch, batch):
    from torch_zoo import LeNet5 as TorchLeNet5  # tests/torch_zoo.py: the zoo's torch twins
    model = TorchLeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 1, 32, 32)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def best_of_rounds(steps, repeat, rounds=3):
    """Times each step in turn, `rounds` times over (so a slow spell hits both libraries alike),
    and keeps each one's lowest median: ms per step, in the order given."""
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            best[i] = min(best[i], median_ms(step, repeat=repeat))
    return best


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    repeat = 5 if args.quick else 30
    torch = torch_or_none()
    rows = []
    for batch in (1, 64):
        steps = [pycnn_step(batch)] + ([torch_step(torch, batch)] if torch is not None else [])
        ms, *peer = best_of_rounds(steps, repeat)
        row = [f"LeNet-5 train step, batch {batch}", f"{ms:.3f}", f"{batch / ms * 1e3:.0f}"]
        row += [f"{peer[0]:.3f}", f"{peer[0] / ms:.2f}"] if peer else ["-", "-"]
        rows.append(row)
    print(f"threads={pycnn.get_num_threads()} simd={pycnn.build_info()['simd']}; each time is the lowest of "
          "3 medians, the two libraries timed in turn")
    print(table(rows, ["op", "pycnn ms", "pycnn img/s", "torch ms", "torch/pycnn (>1: pycnn faster)"]))


if __name__ == "__main__":
    main()
