"""Helpers shared by the bench scripts: timing, the copy-bandwidth reference, the optional
torch peer and the markdown table.  Timings are medians (the machines are shared and noisy)."""
from __future__ import annotations

import time

import numpy as np


def times_ms(fn, repeat=20, warmup=2):
    """The wall times of `repeat` calls of fn() in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t))
    return times


def median_ms(fn, repeat=20, warmup=2):
    """Median wall time of fn() in milliseconds, after `warmup` untimed calls."""
    return float(np.median(times_ms(fn, repeat, warmup)))


def copy_bandwidth(repeat=10):
    """GB/s of np.copyto on 256 MB (read + write), well beyond any cache: the memory-bound ceiling."""
    src = np.ones(1 << 26, np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), repeat)
    return 2 * src.nbytes / ms / 1e6


def torch_or_none(threads=None):
    """torch when importable (an optional peer, never a dependency), set to `threads` threads."""
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch


def torch_forward(f, *args):
    """A callable that runs f(*args) under torch.no_grad(): a forward without autograd's bookkeeping."""
    import torch

    def run():
        with torch.no_grad():
            return f(*args)
    return run


def torch_backward(f, tx, tdy):
    """A callable that runs only autograd's backward of f at tx (the graph kept with retain_graph)."""
    xg = tx.clone().requires_grad_(True)
    out = f(xg)
    y = out[0] if isinstance(out, tuple) else out  # (values, indices) ops: values only

    def run():
        xg.grad = None
        y.backward(tdy, retain_graph=True)
    return run


def bench_arguments(description, configure=None):
    """Parses --quick and --threads (plus whatever configure(parser) adds), sets pycnn's and
    torch's thread counts to the same number, and returns the arguments with .threads filled in."""
    import argparse

    import pycnn
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=None, help="threads for pycnn and torch (default: all)")
    if configure is not None:
        configure(ap)
    args = ap.parse_args()
    if args.threads:
        pycnn.set_num_threads(args.threads)
    args.threads = pycnn.get_num_threads()
    torch = torch_or_none(args.threads)
    del torch  # imported only to set its threads
    return args


def bandwidth_header(what, threads, copy_gbs, extra=""):
    """The first line of a memory-bound bench: pycnn's version, the threads, the data, the copy
    bandwidth (then `extra`) and torch's version."""
    import pycnn
    torch = torch_or_none()
    return (f"pycnn {pycnn.__version__}, {threads} threads, {what}, numpy copy {copy_gbs:.1f} GB/s{extra}"
            + (f", torch {torch.__version__}" if torch else ", torch not installed"))


def print_bandwidth_table(rows, lead, copy_gbs, repeat, traffic):
    """Times and prints, a row at a time, the markdown table of memory-bound kernels.  A row is
    (its first cells, under the headings `lead`; the bytes of compulsory traffic; the pycnn fn;
    the torch fn or None); the cells after are ms, GB/s, its share of the copy bandwidth,
    torch's ms and torch ms / ms.  `traffic` ends the note under the table: what GB/s counts."""
    print(table([], [*lead, "ms", "GB/s", "of copy BW", "torch ms", "vs torch"]))
    for cells, nbytes, fn, tfn in rows:
        ms = median_ms(fn, repeat)
        gbs = nbytes / ms / 1e6
        tms = median_ms(tfn, repeat) if tfn else None
        print("| " + " | ".join(map(str, cells)) + f" | {ms:.3f} | {gbs:.1f} | {gbs / copy_gbs:.0%} | "
              f"{f'{tms:.3f}' if tms else '-'} | {f'{tms / ms:.2f}x' if tms else '-'} |")
    print()
    print("vs torch > 1 means pycnn is faster.  GB/s counts compulsory traffic" + traffic)


def table(rows, header):
    """A markdown table of string cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
