"""Benchmark of the native GEMM (pycnn._C.gemm) against numpy's @ and torch.mm, as a markdown table.

Rows: square float32/float64 products 64..1024 and the (M, N, K, trans) shapes of the im2col
GEMMs of LeNet-5 and ResNet conv layers (forward W @ col, backward-input W^T @ dy,
backward-weight dy @ col^T, per image) and of a Linear layer.  Each time is the lowest of
3 medians over repeats; GFLOP/s counts 2*M*N*K.  "x numpy" / "x torch" are the peer's time
over pycnn's in the same run (> 1: pycnn is faster); "% peak" is against an estimated peak
(cores x GHz x SIMD lanes x 2 flops per FMA x FMA units), where GHz is the "cpu MHz" of
/proc/cpuinfo (a nominal clock: under boost or in a VM the true clock can be higher, so the
estimate can be exceeded) unless --ghz is given.

OpenBLAS's worker threads busy-wait for a while after each call and would steal the cores
from the next library, so each implementation is timed in its own blocks after a short sleep.
The environment may set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow numpy's BLAS; for a
fair reference unset them for this command only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_gemm.py [--quick] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import pycnn
from pycnn import _C

try:
    import torch
except ImportError:  # optional peer
    torch = None

SQUARES = (64, 128, 256, 512, 1024)
# name, M, N, K, trans_a, trans_b
CONV_SHAPES = [
    ("LeNet C1 fwd 1->6 5x5 @28x28", 6, 784, 25, False, False),
    ("LeNet C3 fwd 6->16 5x5 @10x10", 16, 100, 150, False, False),
    ("LeNet C3 bwd-input", 150, 100, 16, True, False),
    ("LeNet C3 bwd-weight", 16, 150, 100, False, True),
    ("LeNet F5 batch 64 400->120", 64, 120, 400, False, True),
    ("ResNet 3->64 3x3 @32x32 fwd", 64, 1024, 27, False, False),
    ("ResNet 64->64 3x3 @32x32 fwd", 64, 1024, 576, False, False),
    ("ResNet 64->64 3x3 bwd-input", 576, 1024, 64, True, False),
    ("ResNet 64->64 3x3 bwd-weight", 64, 576, 1024, False, True),
    ("ResNet 128->128 3x3 @16x16 fwd", 128, 256, 1152, False, False),
    ("ResNet 256->256 3x3 @8x8 fwd", 256, 64, 2304, False, False),
]
QUICK = {"LeNet C1 fwd 1->6 5x5 @28x28", "ResNet 64->64 3x3 @32x32 fwd", "ResNet 64->64 3x3 bwd-weight"}


def median_ms(fn, budget_s=0.25, rounds=3, min_repeat=5, max_repeat=200):
    """The lowest of `rounds` medians: the machine is shared, and a round that overlaps
    another process's burst says nothing about the kernel."""
    fn()
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-7)
    repeat = int(min(max_repeat, max(min_repeat, budget_s / rounds / once)))
    best = float("inf")
    for _ in range(rounds):
        time.sleep(0.1)  # let the previous library's spinning threads go to sleep
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        best = min(best, float(np.median(times)))
    return 1e3 * best


def cpu_ghz():
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        return max(mhz) / 1e3 if mhz else None
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        return "?"


def numpy_blas():
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name', '?')} {deps.get('version', '')}".strip()
    except Exception:  # older numpy without mode="dicts"
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rows and repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=None, help="pycnn and torch threads")
    ap.add_argument("--ghz", type=float, default=None, help="clock for the peak estimate")
    ap.add_argument("--fma-units", type=int, default=2, help="FMA pipes per core for the peak estimate")
    ap.add_argument("--simd", default="", help="force a micro-kernel family (generic, avx2, avx512)")
    args = ap.parse_args()
    if args.threads:
        pycnn.set_num_threads(args.threads)
    if args.simd:
        _C.set_simd_level(args.simd)
    threads = pycnn.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    level = _C.simd_level()
    vector_bits = {"avx512": 512, "avx2": 256, "generic": 128}[level]
    ghz = args.ghz or cpu_ghz()
    cores = min(threads, os.cpu_count() or 1)
    budget = 0.05 if args.quick else 0.25

    print(f"# GEMM: pycnn {level} micro-kernels, {threads} threads; CPU {cpu_model()}, "
          f"{os.cpu_count()} logical CPUs")
    print(f"numpy {np.__version__} ({numpy_blas()}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}, OPENBLAS_L2_SIZE="
          f"{os.environ.get('OPENBLAS_L2_SIZE', 'unset')}); torch "
          f"{torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch is not None else 'not importable'}")
    if ghz:
        src = "--ghz" if args.ghz else "/proc/cpuinfo 'cpu MHz'"
        print(f"peak estimate ({src}): {cores} cores x {ghz:.2f} GHz x {vector_bits}-bit FMA x "
              f"{args.fma_units} units = {cores * ghz * vector_bits / 32 * 2 * args.fma_units:.0f} "
              f"GFLOP/s float32, {cores * ghz * vector_bits / 64 * 2 * args.fma_units:.0f} float64 "
              "(an estimate, not a measurement)")
    print()
    print("| shape | M | N | K | op | dtype | pycnn ms | GFLOP/s | x numpy | x torch | % peak |")
    print("|---|---|---|---|---|---|---:|---:|---:|---:|---:|")

    rows = [(f"square {n}", n, n, n, False, False) for n in SQUARES] + CONV_SHAPES
    if args.quick:
        rows = [r for r in rows if r[0] in QUICK or r[0] in ("square 256", "square 1024")]
    rng = np.random.default_rng(0)
    best_pct = 0.0
    for dtype in ("float32", "float64"):
        lanes = vector_bits // (32 if dtype == "float32" else 64)
        peak = cores * ghz * lanes * 2 * args.fma_units if ghz else None
        for name, m, n, k, ta, tb in rows:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
            a_op, b_op = (a.T if ta else a), (b.T if tb else b)
            ours = _C.gemm(a, b, ta, tb)
            ref = a_op @ b_op
            np.testing.assert_allclose(ours, ref, rtol=1e-3 if dtype == "float32" else 1e-9,
                                       atol=1e-3 if dtype == "float32" else 1e-9, err_msg=name)
            t_ours = median_ms(lambda: _C.gemm(a, b, ta, tb), budget)
            t_np = median_ms(lambda: a_op @ b_op, budget)
            ratio_torch = "-"
            if torch is not None:
                ta_t, tb_t = torch.from_numpy(a), torch.from_numpy(b)
                at, bt = (ta_t.T if ta else ta_t), (tb_t.T if tb else tb_t)
                ratio_torch = f"{median_ms(lambda: torch.mm(at, bt), budget) / t_ours:.2f}"
            gflops = 2.0 * m * n * k / (t_ours * 1e6)
            op = ("A^T" if ta else "A") + " @ " + ("B^T" if tb else "B")
            pct = f"{100 * gflops / peak:.0f}" if peak else "-"
            best_pct = max(best_pct, 100 * gflops / peak if peak else 0.0)
            print(f"| {name} | {m} | {n} | {k} | {op} | {dtype} | {t_ours:.4f} | {gflops:.1f} | "
                  f"{t_np / t_ours:.2f} | {ratio_torch} | {pct} |", flush=True)
    if best_pct > 100:
        print(f"\nA figure of {best_pct:.0f}% of the estimated peak means the cores ran faster than "
              f"{ghz:.2f} GHz (boost; a VM reports the nominal clock): pass --ghz for a better estimate.")


if __name__ == "__main__":
    main()
