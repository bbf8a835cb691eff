"""Per-op Python overhead of the autodiff core: one op on a tiny tensor (4 floats, so the
arithmetic is nothing and the bookkeeping is everything), in microseconds, pycnn against
PyTorch's CPU eager mode in the same process, as a markdown table.

Rows: an op's forward with nothing recorded (no input requires grad), the same op recorded (an
input requires grad: the node, the saved versions, the output's grad_fn), and the backward per
node of a chain of 64 recorded ops (the engine's walk, one backward call and one gradient
accumulation per node).  Ratios above 1 mean pycnn is faster.

    python bench/bench_overhead.py [--quick] [--threads N]
"""
from __future__ import annotations

import time

import numpy as np

import pycnn
from common import bench_arguments, table, torch_or_none

CHAIN = 64


def per_call_us(fn, calls, repeat):
    """Median over `repeat` runs of the time per call of `calls` calls of fn, in microseconds."""
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t) / calls)
    return 1e6 * float(np.median(runs))


def forward_ops(lib, x, y):
    """name -> a callable running one op on the tiny tensors x, y."""
    F = lib.nn.functional
    return {
        "add": lambda: x + y,
        "mul by a scalar": lambda: x * 2.0,
        "relu": lambda: F.relu(x),
        "sum": lambda: x.sum(),
        "reshape": lambda: x.reshape(2, 2),
        "matmul (2x2)": lambda: x.reshape(2, 2) @ y.reshape(2, 2),
    }


def chain_backward(lib):
    """A callable that runs the backward of a chain of CHAIN recorded muls and adds (and a sum),
    built once and kept with retain_graph."""
    leaf, other = lib.ones(4, requires_grad=True), lib.ones(4)
    z = leaf
    for _ in range(CHAIN // 2):
        z = z * other
        z = z + other
    loss = z.sum()

    def run():
        leaf.grad = None
        loss.backward(retain_graph=True)
    return run


def main():
    args = bench_arguments(__doc__.splitlines()[0])
    calls, repeat = (200, 3) if args.quick else (2000, 7)
    torch = torch_or_none(args.threads)
    libs = [("pycnn", pycnn)] + ([("torch", torch)] if torch is not None else [])
    rows = []
    results = {}
    for label, lib in libs:
        for recorded in (False, True):
            x = lib.ones(4, requires_grad=recorded)
            y = lib.ones(4)
            for name, fn in forward_ops(lib, x, y).items():
                results[(label, name, recorded)] = per_call_us(fn, calls, repeat)
        results[(label, "backward per node", True)] = (per_call_us(chain_backward(lib), max(calls // 20, 10), repeat)
                                                       / (CHAIN + 1))
    names = list(forward_ops(pycnn, pycnn.ones(4), pycnn.ones(4))) + ["backward per node"]
    for name in names:
        for recorded in ((False, True) if name != "backward per node" else (True,)):
            ours = results[("pycnn", name, recorded)]
            theirs = results.get(("torch", name, recorded))
            rows.append([name, "recorded" if recorded else "not recorded", f"{ours:.2f}",
                         "-" if theirs is None else f"{theirs:.2f}",
                         "-" if theirs is None else f"{theirs / ours:.2f}x"])
    print(f"Per-op overhead on a 4-element float32 tensor ({calls} calls x {repeat} runs, median), "
          f"{args.threads or 'default'} threads\n")
    print(table(rows, ["op", "autograd", "pycnn us", "torch us", "vs torch"]))
    print("\nvs torch > 1 means pycnn is faster.")


if __name__ == "__main__":
    main()
