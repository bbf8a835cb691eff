"""Data-parallel training over MPI: images/s of LeNet-5 and ResNet-20, 1 and 2 ranks.

For each model and a fixed global batch (64) it runs, one after another:
  1 rank x 1 thread (batch 64), 1 rank x 2 threads (batch 64: the one-process reference),
  2 ranks x 1 thread (batch 32 each, DistributedDataParallel),
and reports the median training step, images/s, the share of the step spent in DDP's gradient
all-reduce (it includes waiting for the slower rank) and the gradient message sizes; then the
Allreduce alone on float32 messages of those sizes.  ResNet-20 (pycnn.models) runs on 3x16x16
inputs to keep the run short on 2 cores; its parameters, so the messages, are those of 32x32.
Usage: python bench/bench_distributed.py [--quick]   (needs pip install ".[mpi]")
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import table  # noqa: E402

GLOBAL_BATCH = 64


def worker(args):
    """One rank: time `steps` DDP training steps (rank 0 prints a JSON line)."""
    import pycnn
    import pycnn.distributed as dist
    from pycnn import functional as F
    from pycnn import optim
    from pycnn.models import LeNet5, resnet20
    from pycnn.nn.parallel import DistributedDataParallel

    dist.init(timeout=300)
    pycnn.set_num_threads(args.threads)
    rank, world = dist.rank(), dist.world_size()
    if args.model == "allreduce":
        rows = []
        for n in args.sizes:
            a = np.ones(n, np.float32)
            for _ in range(3):
                dist._all_reduce_array(a)
            dist.barrier()
            times = []
            for _ in range(args.steps):
                t = time.perf_counter()
                dist._all_reduce_array(a)
                times.append(time.perf_counter() - t)
            rows.append({"elements": n, "ms": 1e3 * float(np.median(times))})
        if rank == 0:
            print("RESULT " + json.dumps(rows), flush=True)
        return
    pycnn.manual_seed(0)
    model, shape = (LeNet5(), (1, 32, 32)) if args.model == "lenet5" else (resnet20(), (3, 16, 16))
    ddp = DistributedDataParallel(model)
    opt = optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    batch = GLOBAL_BATCH // world
    g = np.random.default_rng(rank)
    x = pycnn.tensor(g.standard_normal((batch,) + shape).astype(np.float32))
    y = pycnn.tensor(g.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    ddp.reduce_seconds, ddp.reduce_calls = 0.0, 0
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    reduce_ms = 1e3 * ddp.reduce_seconds / max(ddp.reduce_calls, 1)
    every = dist.all_gather_object((float(np.median(times)) * 1e3, reduce_ms))
    if rank == 0:
        print("RESULT " + json.dumps({"step_ms": max(s for s, _ in every), "reduce_ms": max(r for _, r in every),
                                      "buckets": ddp.bucket_sizes, "params": model.num_parameters()}), flush=True)


def launch(ranks, threads, extra, steps):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = mpiexec if os.access(mpiexec, os.X_OK) else shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit("bench_distributed: mpiexec not found; pip install \".[mpi]\" (mpi4py and mpich)")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [mpiexec, "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--threads", str(threads), "--steps", str(steps)] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        sys.exit(f"bench_distributed: {' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(lines[0][len("RESULT "):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few steps (a smoke run)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="lenet5", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=40, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    steps = 3 if args.quick else 12
    import pycnn
    print(f"pycnn {pycnn.__version__}, {os.cpu_count()} cores, simd={pycnn.build_info()['simd']}, "
          f"global batch {GLOBAL_BATCH}, median of {steps} steps (2 ranks: the slower rank's)")
    rows, sizes = [], set()
    for model, label in (("lenet5", "LeNet-5"), ("resnet", "ResNet-20 16x16")):
        results = {}
        for ranks, threads in ((1, 1), (1, 2), (2, 1)):
            r = launch(ranks, threads, ["--model", model], steps)
            results[(ranks, threads)] = r
            sizes.update(r["buckets"])
        ref = results[(1, 2)]["step_ms"]
        for (ranks, threads), r in results.items():
            share = f"{100 * r['reduce_ms'] / r['step_ms']:.0f}%" if ranks > 1 else "-"
            kib = ", ".join(f"{4 * n / 1024:.0f}" for n in r["buckets"])
            rows.append([label, f"{r['params']:,}", f"{ranks} x {threads} thr", GLOBAL_BATCH // ranks,
                         f"{r['step_ms']:.2f}", f"{GLOBAL_BATCH / r['step_ms'] * 1e3:.0f}",
                         f"{ref / r['step_ms']:.2f}", f"{r['reduce_ms']:.2f}" if ranks > 1 else "-", share, kib])
    print(table(rows, ["model", "params", "ranks x threads", "batch/rank", "step ms", "img/s",
                       "x 1 proc 2 thr", "allreduce ms", "allreduce share", "grad messages KiB"]))
    probe = sorted(sizes | {256, 1 << 18, 1 << 21})
    ar = launch(2, 1, ["--model", "allreduce", "--sizes"] + [str(n) for n in probe], 20 if args.quick else 100)
    print()
    print(table([[f"{r['elements']:,}", f"{4 * r['elements'] / 1024:.0f}", f"{r['ms'] * 1e3:.0f}",
                  f"{4 * r['elements'] / r['ms'] / 1e6:.2f}"] for r in ar],
                ["float32 elements", "KiB", "Allreduce us (2 ranks)", "GB/s (message / time)"]))


if __name__ == "__main__":
    main()
