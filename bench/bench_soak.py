"""Soak benchmark (issue 11): the resident set size of a process that trains LeNet-5 on the
bundled digits (32x32, batch 64, SGD with momentum) for many steps stays flat.

RSS (/proc/self/statm: resident pages x page size) is sampled every --every steps.  Reported:
the first sample (after step 1), the last, the maximum, the growth from the end of the warm-up
(the first --warmup-fraction of the run, when allocator pools and caches fill) to the end, and
the least-squares slope over the samples after the warm-up, in MB per 1,000 steps.  A leak of
one small tensor per step (a 64x10 float32 array is 2.5 kB) would add 25 MB over 10,000 steps,
so the verdict is "flat" when the post-warm-up growth stays under --max-growth-mb (default 8:
a leak of 0.8 kB per step over 10,000 steps); the exit status is 1 otherwise.  The slope is
reported, not judged: over a few hundred steps allocator noise of a few hundred kB dominates it.

Every step is a real one: a shuffled DataLoader batch, forward, cross_entropy, backward, step,
loss.item() every 100 steps (as a training loop's logging would).  Nothing calls gc.collect().
On device='cuda' (a GPU, or the emulated device with PYCNN_CUDA_EMULATOR=1: slow, use few steps)
pycnn.cuda.memory_allocated() is sampled too.

    python bench/bench_soak.py [--steps 10000] [--max-seconds S] [--every 50] [--report 1000] [--threads N] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import pycnn
from pycnn import datasets, optim
from pycnn import functional as F
from pycnn.data import DataLoader
from pycnn.models import LeNet5

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Current resident set size of this process (not the peak, which getrusage gives)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux
        import psutil  # optional; only where /proc is missing

        return psutil.Process().memory_info().rss


def slope_per_1000(steps, values):
    """Least-squares slope of values (bytes) against steps, in MB per 1,000 steps."""
    if len(steps) < 2:
        return 0.0
    s = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    return float(np.polyfit(s, v, 1)[0]) * 1000 / 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=50, help="sample RSS every this many steps")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="pycnn threads (default: all)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="stop after this much training time even before --steps (the report says how many ran)")
    ap.add_argument("--report", type=int, default=1000, help="print a progress line every this many steps")
    ap.add_argument("--warmup-fraction", type=float, default=0.1)
    ap.add_argument("--max-growth-mb", type=float, default=8.0)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.every < 1:
        ap.error("--steps and --every must be >= 1")
    if args.threads:
        pycnn.set_num_threads(args.threads)

    pycnn.manual_seed(0)
    split = datasets.digits(image_size=32)
    loader = DataLoader(split.train, batch_size=args.batch, shuffle=True, drop_last=True, seed=0)
    model = LeNet5().to(args.device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    cuda = args.device == "cuda"

    steps, rss, dev_mem, losses = [], [], [], []
    step, t0, done = 0, time.perf_counter(), False
    while not done:
        for x, y in loader:
            x, y = x.to(args.device), y.to(args.device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            step += 1
            done = step >= args.steps or bool(args.max_seconds and time.perf_counter() - t0 > args.max_seconds)
            if step % 100 == 0 or step == 1:
                losses.append(loss.item())
            if step == 1 or step % args.every == 0 or done:
                steps.append(step)
                rss.append(rss_bytes())
                if cuda:
                    dev_mem.append(pycnn.cuda.memory_allocated())
            if step % args.report == 0:  # progress, so a run cut short still says something
                print(f"step {step}: RSS {rss[-1] / 1e6:.1f} MB, {time.perf_counter() - t0:.0f} s", flush=True)
            if done:
                break
    seconds = time.perf_counter() - t0

    with pycnn.no_grad():  # the soaked model still learns: its test accuracy
        xt, yt = split.test.tensors
        acc = float((model(xt.to(args.device)).argmax(dim=1) == yt.to(args.device)).float().mean().item())

    start = min(len(steps) - 1, max(1, int(round(args.warmup_fraction * len(steps)))))
    growth = (rss[-1] - rss[start]) / 1e6
    slope = slope_per_1000(steps[start:], rss[start:])
    mb = [r / 1e6 for r in rss]
    flat = growth < args.max_growth_mb
    info = pycnn.build_info()
    print(f"pycnn {info['version']}, device {args.device}, threads {pycnn.get_num_threads()}, simd {info['simd']}; "
          f"LeNet-5 on digits 32x32, batch {args.batch}, SGD(lr=0.05, momentum=0.9)")
    if step < args.steps:
        print(f"STOPPED EARLY by --max-seconds {args.max_seconds:g}: {step} of {args.steps} steps")
    print(f"{step} steps in {seconds:.1f} s ({seconds / step * 1e3:.2f} ms/step); RSS sampled every {args.every} "
          f"steps ({len(steps)} samples); loss {losses[0]:.3f} -> {losses[-1]:.2e}; test accuracy {acc:.2%}")
    print()
    print("| RSS first (step 1) | after warm-up (step {}) | last (step {}) | max | growth after warm-up | "
          "slope after warm-up |".format(steps[start], steps[-1]))
    print("|---|---|---|---|---|---|")
    print(f"| {mb[0]:.1f} MB | {mb[start]:.1f} MB | {mb[-1]:.1f} MB | {max(mb):.1f} MB | {growth:+.2f} MB | "
          f"{slope:+.3f} MB per 1,000 steps |")
    if cuda:
        d = [v / 1e6 for v in dev_mem]
        print(f"\ncuda memory_allocated: first {d[0]:.2f} MB, after warm-up {d[start]:.2f} MB, last {d[-1]:.2f} MB, "
              f"max {max(d):.2f} MB, slope {slope_per_1000(steps[start:], dev_mem[start:]):+.3f} MB per 1,000 steps")
        flat = flat and (dev_mem[-1] - dev_mem[start]) / 1e6 < args.max_growth_mb
    print()
    print(f"verdict: {'flat' if flat else 'GROWING'} (limit: growth < {args.max_growth_mb} MB after the first "
          f"{args.warmup_fraction:.0%} of the samples)")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
