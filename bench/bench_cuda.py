"""GPU benchmark of pycnn's CUDA kernels against PyTorch CUDA in the same process (issue 10).

Rows: every conv, pool, upsample and norm case of the CPU benchmarks (bench_conv.LAYERS,
bench_pool, bench_upsample, bench_norm: the same layers, windows and shapes, imported from
those files), the memory-bound ones also at --scale times the batch (so the data is several
times the H200's 60 MB L2), plus a LeNet-5 and a small ResNet (ResNet-8: 3 stages of one basic
block, 16/32/64 channels, BatchNorm, 3x32x32 input) training step at batch 64 and 256.

Timing: CUDA events around each call (CuPy's for pycnn, torch.cuda's for torch), after
--warmup untimed calls of each (CuPy's NVRTC cache, cuDNN autotuning, the cuBLAS handle), the
median of --reps (>= 20) calls, pycnn and torch interleaved call by call.  pycnn's rows time
its kernels as the op calls them: the native calls (pycnn._cuda through pycnn._cuda_native,
params built once) that one forward, or one backward, of the pycnn.functional op makes, recorded
on a first autograd run and replayed, as the CPU benchmarks time pycnn._C.  torch's rows time
torch.nn.functional forward under no_grad and autograd's backward on a retained graph.

Peers: convolutions and training steps against cuDNN (torch.backends.cudnn.benchmark on) with
TF32 off and with TF32 on (cudnn.allow_tf32 and cuda.matmul.allow_tf32 together); pools,
upsampling and norms against PyTorch's native CUDA kernels (cuDNN disabled, so BatchNorm runs
ATen's kernel; the other ops do not use cuDNN).  "x torch" is torch's time over pycnn's (> 1:
pycnn faster).  Conv GFLOP/s counts 2 * MACs of the direct convolution (backward: twice the
forward).  Memory-bound GB/s counts the compulsory traffic (each array read or written once, as
the CPU benchmarks count it) and "of copy" is that over the bandwidth of a 1 GiB
device-to-device cudaMemcpy measured in the same run (bytes read + written).  "err" is
||pycnn - torch|| / ||torch|| of the forward output and of the gradients (torch in fp32, TF32
off): a wrong kernel shows here, not only in the tests.

    python bench/bench_cuda.py [--quick] [--reps N] [--only SUBSTRING] [--sections conv,pool,...]
    python bench/bench_cuda.py --emulated    # tiny shapes on the emulated device: the code path, no timings
    python bench/bench_cuda.py --smoke [--no-pool]   # one of each kernel family, small shapes, cuda vs cpu

Without a GPU it prints why and exits 0.  --smoke is what bench/gpu_check.sh runs under
compute-sanitizer (--no-pool: CuPy's memory pool off, so out-of-bounds accesses hit unallocated
memory instead of a pooled neighbour); it compares each op's forward and gradients on 'cuda'
with the CPU backend and exits 1 on a mismatch.  It needs no torch.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(HERE, os.pardir, "tests"))  # torch_zoo (lenet_torch)

SECTIONS = ("conv", "pool", "upsample", "norm", "train")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulated", action="store_true",
                    help="run on the emulated CUDA device at tiny shapes (exercises the code; times mean nothing)")
    ap.add_argument("--smoke", action="store_true", help="one of each kernel family at small shapes, cuda vs cpu")
    ap.add_argument("--no-pool", action="store_true", help="CuPy's memory pool off (for compute-sanitizer)")
    ap.add_argument("--quick", action="store_true", help="20 repeats, 3 warm-ups, no --scale rows")
    ap.add_argument("--reps", type=int, default=None, help="timed calls per row (default 30; at least 20 on a GPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed calls per row first (default 5)")
    ap.add_argument("--scale", type=int, default=16, help="batch multiplier of the large memory-bound rows (0: none)")
    ap.add_argument("--only", default=None, help="only rows whose name contains this")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS))
    args = ap.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        ap.error(f"unknown sections {bad}; choose from {SECTIONS}")
    return args


# ----------------------------------------------------------------------------- recording pycnn's kernel calls
class RecordingNative:
    """The CUDA backend's native with every kernel call recorded while .calls is a list."""

    def __init__(self, native):
        self._native = native
        self.calls = None

    def __getattr__(self, name):
        attr = getattr(self._native, name)
        if name.endswith("_params") or not callable(attr):
            return attr

        def call(*args, **kwargs):
            if self.calls is not None:
                self.calls.append((attr, args, kwargs))
            return attr(*args, **kwargs)
        return call


def replay(calls):
    def run():
        for fn, args, kwargs in calls:
            fn(*args, **kwargs)
    return run


# ----------------------------------------------------------------------------- cases
class Case:
    """One op at one shape: inputs (host arrays; grad[i] says whether input i gets a gradient),
    the pycnn.functional and torch versions, and the work it does (flops, or bytes moved)."""

    def __init__(self, section, name, shape, inputs, grad, pycnn_f, torch_f, flops=None, bytes_fwd=None,
                 bytes_bwd=None, backward=True):
        self.section, self.name, self.shape = section, name, shape
        self.inputs, self.grad = inputs, grad
        self.pycnn_f, self.torch_f = pycnn_f, torch_f
        self.flops, self.bytes_fwd, self.bytes_bwd = flops, bytes_fwd, bytes_bwd
        self.backward = backward and any(grad)


def rand(rng, shape, scale=1.0, shift=0.0):
    return (shift + scale * rng.standard_normal(shape)).astype(np.float32)


def label(shape):
    return "x".join(map(str, shape))


def shrink(shape, c_max=4, s_max=8):
    """A tiny version of an (N, C, H, W) shape for the emulated device."""
    n, c, h, w = shape
    return (2, min(c, c_max), min(h, s_max) if h > 1 else 1, min(w, s_max))


def conv_cases(tiny):
    import bench_conv
    from pycnn import functional as F

    rng = np.random.default_rng(0)
    out = []
    for name, xs, ws, stride, padding, groups, transposed in bench_conv.LAYERS:
        if tiny:  # keep the layer's kind (groups, 1x1, 1-D, transposed), shrink sizes
            c_in, c_out = min(xs[1], 4), min(ws[0] if not transposed else ws[1], 4)
            if groups > 1:
                c_in = c_out = groups = 4
            xs = (2, c_in, 1 if xs[2] == 1 else min(xs[2], 10), min(xs[3], 10))
            ws = ((c_in, c_out // groups) if transposed else (c_out, c_in // groups)) + tuple(ws[2:])
        s, p = bench_conv.pair(stride), bench_conv.pair(padding)
        c_out = ws[1] * groups if transposed else ws[0]
        x, w, b = rand(rng, xs), rand(rng, ws, 0.1), rand(rng, (c_out,))
        if transposed:
            def pf(x, w, b, s=s, p=p, g=groups):
                return F.conv_transpose2d(x, w, b, s, p, 0, g)

            def tf(x, w, b, s=s, p=p, g=groups):
                import torch.nn.functional as TF
                return TF.conv_transpose2d(x, w, b, s, p, 0, g)
        else:
            def pf(x, w, b, s=s, p=p, g=groups):
                return F.conv2d(x, w, b, s, p, 1, g)

            def tf(x, w, b, s=s, p=p, g=groups):
                import torch.nn.functional as TF
                return TF.conv2d(x, w, b, s, p, 1, g)
        shape = label(xs if xs[2] != 1 else xs[:2] + xs[3:])
        out.append(Case("conv", name, shape, [x, w, b], [True, True, True], pf, tf,
                        flops=bench_conv.flops(xs, ws, stride, padding, groups, transposed)))
    return out


def pool_cases(shape, lenet_shapes, tag=""):
    import bench_pool
    from pycnn import functional as F

    rng = np.random.default_rng(1)
    x = rand(rng, shape)
    n = x.size
    out = []
    for cfg, (k, s, p) in bench_pool.CONFIGS.items():
        ho = (shape[2] + 2 * p[0] - k[0]) // s[0] + 1
        wo = (shape[3] + 2 * p[1] - k[1]) // s[1] + 1
        y = shape[0] * shape[1] * ho * wo * 4

        def pmax(x, k=k, s=s, p=p):
            return F.max_pool2d(x, k, s, p)

        def tmax(x, k=k, s=s, p=p):
            import torch.nn.functional as TF
            return TF.max_pool2d(x, k, s, p, return_indices=True)[0]  # as ours, with the indices

        def pavg(x, k=k, s=s, p=p):
            return F.avg_pool2d(x, k, s, p)

        def tavg(x, k=k, s=s, p=p):
            import torch.nn.functional as TF
            return TF.avg_pool2d(x, k, s, p)
        # max: x, y and int64 indices forward; dy, indices, dx backward. avg: x + y; dy + dx
        out.append(Case("pool", f"max_pool2d {cfg}{tag}", label(shape), [x], [True], pmax, tmax,
                        bytes_fwd=4 * n + 3 * y, bytes_bwd=3 * y + 4 * n))
        out.append(Case("pool", f"avg_pool2d {cfg}{tag}", label(shape), [x], [True], pavg, tavg,
                        bytes_fwd=4 * n + y, bytes_bwd=y + 4 * n))
    # max_unpool2d of a 2x2 stride-2 max pool: y and its indices -> x's size
    import pycnn
    yv, idx = pycnn.functional.max_pool2d(pycnn.tensor(x), 2, 2, return_indices=True)
    yv, idx = yv.numpy(), idx.numpy()

    def punpool(y, i, size=shape[2:]):
        return F.max_unpool2d(y, i, 2, output_size=size)

    def tunpool(y, i, size=shape[2:]):
        import torch.nn.functional as TF
        return TF.max_unpool2d(y, i, 2, output_size=size)
    out.append(Case("pool", f"max_unpool2d 2x2 s2{tag}", label(yv.shape), [yv, idx], [True, False], punpool, tunpool,
                    bytes_fwd=yv.nbytes + idx.nbytes + 4 * n, bytes_bwd=4 * n + idx.nbytes + yv.nbytes))
    for ls in lenet_shapes:
        xl = rand(rng, ls)
        yl = xl.size  # 4 bytes x size / 4

        def pl(x):
            return F.max_pool2d(x, 2, 2)

        def tl(x):
            import torch.nn.functional as TF
            return TF.max_pool2d(x, 2, 2, return_indices=True)[0]
        out.append(Case("pool", f"max_pool2d 2x2 s2 LeNet{tag}", label(ls), [xl], [True], pl, tl,
                        bytes_fwd=4 * xl.size + 3 * yl, bytes_bwd=3 * yl + 4 * xl.size))
    return out


def upsample_cases(shape, tag=""):
    import bench_upsample
    from pycnn import functional as F

    S = bench_upsample.S
    rng = np.random.default_rng(2)
    x = rand(rng, shape)
    nx, ny = x.nbytes, x.nbytes * S * S
    out = []
    for name, mode, align in (("nearest x2", "nearest", None), ("bilinear x2", "bilinear", False),
                              ("bilinear x2 align_corners", "bilinear", True)):
        def pf(x, mode=mode, align=align):
            return F.interpolate(x, scale_factor=S, mode=mode, align_corners=align)

        def tf(x, mode=mode, align=align):
            import torch.nn.functional as TF
            return TF.interpolate(x, scale_factor=S, mode=mode, align_corners=align)
        out.append(Case("upsample", name + tag, label(shape), [x], [True], pf, tf, bytes_fwd=nx + ny, bytes_bwd=ny + nx))

    def pnails(x):
        return F.upsample_bed_of_nails(x, S)

    def tnails(x):  # torch has no op: zeros + a strided copy (its backward is the strided slice)
        y = x.new_zeros(x.shape[:2] + (x.shape[2] * S, x.shape[3] * S))
        y[:, :, ::S, ::S] = x
        return y
    out.append(Case("upsample", "bed of nails x2" + tag, label(shape), [x], [True], pnails, tnails,
                    bytes_fwd=nx + ny, bytes_bwd=ny // S + nx))
    return out


def norm_cases(shape, tag=""):
    import bench_norm
    from pycnn import functional as F

    eps = bench_norm.EPS
    rng = np.random.default_rng(3)
    N, C = shape[:2]
    x = rand(rng, shape, 1.0, 0.5)
    w, b = rand(rng, (C,), 0.1, 1.0), rand(rng, (C,))
    rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
    wl, bl = rand(rng, shape[1:], 0.1, 1.0), rand(rng, shape[1:])
    last = 256 if x[0].size % 256 == 0 else shape[-1]
    x256 = x.reshape(-1, last)
    w256, b256 = rand(rng, (last,), 0.1, 1.0), rand(rng, (last,))
    fwd, bwd = 2 * x.nbytes, 3 * x.nbytes  # x + y; dy + x + dx
    def tF():
        import torch.nn.functional as TF
        return TF

    rows = [
        ("BatchNorm2d train", [x, rm, rv, w, b], [True, False, False, True, True],
         lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, True, 0.1, eps),
         lambda x, rm, rv, w, b: tF().batch_norm(x, rm, rv, w, b, True, 0.1, eps)),
        ("BatchNorm2d eval", [x, rm, rv, w, b], [True, False, False, True, True],
         lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, False, 0.1, eps),
         lambda x, rm, rv, w, b: tF().batch_norm(x, rm, rv, w, b, False, 0.1, eps)),
        ("LayerNorm(C,H,W)", [x, wl, bl], [True, True, True],
         lambda x, w, b: F.layer_norm(x, tuple(shape[1:]), w, b, eps),
         lambda x, w, b: tF().layer_norm(x, tuple(shape[1:]), w, b, eps)),
        ("InstanceNorm2d", [x, w, b], [True, True, True],
         lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=eps),
         lambda x, w, b: tF().instance_norm(x, weight=w, bias=b, eps=eps)),
        ("GroupNorm(32)" if C % 32 == 0 else f"GroupNorm({C // 2})", [x, w, b], [True, True, True],
         lambda x, w, b, g=(32 if C % 32 == 0 else C // 2): F.group_norm(x, g, w, b, eps),
         lambda x, w, b, g=(32 if C % 32 == 0 else C // 2): tF().group_norm(x, g, w, b, eps)),
        ("PixelNorm", [x], [True],
         lambda x: F.pixel_norm(x, 1e-8),
         lambda x: x * (x.pow(2).mean(dim=1, keepdim=True) + 1e-8).rsqrt()),
        (f"LayerNorm({last})", [x256, w256, b256], [True, True, True],
         lambda x, w, b: F.layer_norm(x, (last,), w, b, eps),
         lambda x, w, b: tF().layer_norm(x, (last,), w, b, eps)),
    ]
    return [Case("norm", name + tag, label(shape), ins, grad, pf, tf, bytes_fwd=fwd, bytes_bwd=bwd)
            for name, ins, grad, pf, tf in rows]


def memory_cases(section, tiny, scale):
    import bench_pool
    import bench_upsample

    base = bench_pool.SHAPE
    assert base == bench_upsample.SHAPE
    if tiny:
        sizes = [(shrink(base, 4, 8), "")]
        lenet = [shrink(s, 4, 8) for s in bench_pool.LENET_SHAPES[:1]]
    else:
        sizes = [(base, "")] + ([((base[0] * scale,) + base[1:], f" [N x{scale}]")] if scale > 1 else [])
        lenet = list(bench_pool.LENET_SHAPES)
    out = []
    for shape, tag in sizes:
        if section == "pool":
            out += pool_cases(shape, [(ls[0] * (scale if tag else 1),) + ls[1:] for ls in lenet], tag)
        elif section == "upsample":
            out += upsample_cases(shape, tag)
        else:
            out += norm_cases(shape, tag)
    return out


# ----------------------------------------------------------------------------- the two libraries on one case
def rel_err(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    if a.shape != ref.shape:
        return float("inf")
    den = np.linalg.norm(ref)
    return float(np.linalg.norm(a - ref) / (den if den > 0 else 1.0))


def pycnn_run(case, device):
    """Runs the case once on `device` with autograd: (output, grads, forward calls, backward calls);
    on 'cuda' the native kernel calls of the forward and of the backward are recorded."""
    import pycnn
    from pycnn import _backend

    be = _backend.backend(device)
    rec = RecordingNative(be.native) if device == "cuda" else None
    if rec is not None:
        be.native = rec
    try:
        ts = [pycnn.tensor(a, device=device, requires_grad=g) for a, g in zip(case.inputs, case.grad)]
        fwd_calls, bwd_calls = [], []
        if rec is not None:
            rec.calls = fwd_calls
        y = case.pycnn_f(*ts)
        g = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
        if rec is not None:
            rec.calls = bwd_calls
        if case.backward:
            y.backward(pycnn.tensor(g, device=device))
        if rec is not None:
            rec.calls = None
    finally:
        if rec is not None:
            be.native = rec._native
    grads = [t.grad.cpu().numpy() if (gr and t.grad is not None) else None for t, gr in zip(ts, case.grad)]
    return y.detach().cpu().numpy(), g, grads, fwd_calls, bwd_calls


def torch_callables(case, torch, dev, g):
    """(forward callable, backward callable, output, grads) of the case in torch on dev."""
    ts = []
    for a, gr in zip(case.inputs, case.grad):
        t = torch.from_numpy(a.copy()).to(dev)
        ts.append(t.requires_grad_(True) if gr else t)
    y = case.torch_f(*ts)
    tg = torch.from_numpy(g).to(dev)
    grads = [None] * len(ts)
    if case.backward:
        y.backward(tg, retain_graph=True)
        grads = [t.grad.detach().cpu().numpy() if gr else None for t, gr in zip(ts, case.grad)]

    def fwd():
        with torch.no_grad():
            case.torch_f(*ts)

    def bwd():
        for t, gr in zip(ts, case.grad):
            if gr:
                t.grad = None
        y.backward(tg, retain_graph=True)
    return fwd, bwd, y.detach().cpu().numpy(), grads


class TorchFlags:
    """A callable that runs fn with torch's cuDNN / TF32 flags set, then restores them."""

    def __init__(self, torch, fn, cudnn=True, tf32=False):
        self.torch, self.fn, self.cudnn, self.tf32 = torch, fn, cudnn, tf32

    def __call__(self):
        b = self.torch.backends
        saved = b.cudnn.enabled, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32
        b.cudnn.enabled, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32 = self.cudnn, self.tf32, self.tf32
        try:
            return self.fn()
        finally:
            b.cudnn.enabled, b.cudnn.allow_tf32, b.cuda.matmul.allow_tf32 = saved


# ----------------------------------------------------------------------------- timing
class Timer:
    """Medians of interleaved calls: CUDA events on a GPU, the host clock on the emulator."""

    def __init__(self, gpu, cupy=None, torch=None):
        self.gpu, self.cp, self.torch = gpu, cupy, torch

    def _event(self, kind):
        if kind == "torch":
            return self.torch.cuda.Event(enable_timing=True)
        return self.cp.cuda.Event()

    def sync(self):
        if self.gpu:
            self.cp.cuda.runtime.deviceSynchronize()
            if self.torch is not None and self.torch.cuda.is_available():
                self.torch.cuda.synchronize()

    def medians(self, fns, reps, warmup):
        """fns: [(kind 'pycnn' | 'torch', callable)]; the median ms of each, timed in turn."""
        for _, fn in fns:
            for _ in range(warmup):
                fn()
        self.sync()
        samples = [[] for _ in fns]
        for _ in range(reps):
            for i, (kind, fn) in enumerate(fns):
                if self.gpu:
                    start, end = self._event(kind), self._event(kind)
                    start.record()
                    fn()
                    end.record()
                    samples[i].append((start, end))
                else:
                    t = time.perf_counter()
                    fn()
                    samples[i].append(time.perf_counter() - t)
        self.sync()
        out = []
        for (kind, _), s in zip(fns, samples):
            if not self.gpu:
                out.append(1e3 * float(np.median(s)))
            elif kind == "torch":
                out.append(float(np.median([a.elapsed_time(b) for a, b in s])))
            else:
                out.append(float(np.median([self.cp.cuda.get_elapsed_time(a, b) for a, b in s])))
        return out

    def copy_gbs(self, reps):
        """GB/s (read + write) of a 1 GiB device-to-device cudaMemcpy, random data."""
        if not self.gpu:
            return None
        cp = self.cp
        n = 1 << 28  # float32: 1 GiB
        src = cp.random.standard_normal(n, dtype=cp.float32)
        dst = cp.empty_like(src)
        rt = cp.cuda.runtime

        def copy():
            rt.memcpyAsync(dst.data.ptr, src.data.ptr, src.nbytes, rt.memcpyDeviceToDevice,
                           cp.cuda.get_current_stream().ptr)
        ms = self.medians([("pycnn", copy)], reps, 3)[0]
        assert bool((dst[:1024] == src[:1024]).all())
        del src, dst
        cp.get_default_memory_pool().free_all_blocks()
        return 2 * (n * 4) / ms / 1e6


# ----------------------------------------------------------------------------- the op table
def fmt_ms(ms):
    return "-" if ms is None else (f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}")


def fmt_ratio(t, ms):
    return "-" if t is None or ms is None else f"{t / ms:.2f}"


def fmt_err(e):
    if e is None:
        return "-"
    return f"{e:.1e}" + (" !" if not e < 1e-4 else "")  # fp32 kernels land far below 1e-4 (NaN fails)


def run_cases(cases, timer, torch, tdev, reps, warmup, copy_gbs, section, emit):
    rows, worst = [], 0.0
    for case in cases:
        y, g, grads, fwd_calls, bwd_calls = pycnn_run(case, "cuda")
        peers = {}
        errs = [None, None]
        if torch is not None:
            tfwd, tbwd, ty, tgrads = torch_callables(case, torch, tdev, g)
            errs[0] = rel_err(y, ty)
            if case.backward:
                errs[1] = max(rel_err(a, b) for a, b, gr in zip(grads, tgrads, case.grad) if gr)
            if case.section == "conv":
                peers = {"fwd": [TorchFlags(torch, tfwd, True, False), TorchFlags(torch, tfwd, True, True)],
                         "bwd": [TorchFlags(torch, tbwd, True, False), TorchFlags(torch, tbwd, True, True)]}
            else:
                peers = {"fwd": [TorchFlags(torch, tfwd, False, False)], "bwd": [TorchFlags(torch, tbwd, False, False)]}
        passes = [("forward", replay(fwd_calls), "fwd", 0)]
        if case.backward:
            passes.append(("backward", replay(bwd_calls), "bwd", 1))
        for pass_name, fn, key, ei in passes:
            fns = [("pycnn", fn)] + [("torch", p) for p in peers.get(key, [])]
            ms, *tms = timer.medians(fns, reps, warmup)
            if errs[ei] is not None:
                worst = max(worst, errs[ei]) if not math.isnan(errs[ei]) else float("inf")
            if section == "conv":
                work = case.flops * (1 if key == "fwd" else 2)
                t32, ttf = (tms + [None, None])[:2]
                rows.append([case.name, case.shape, pass_name, fmt_ms(ms), f"{work / ms / 1e6:.0f}",
                             fmt_ms(t32), fmt_ratio(t32, ms), fmt_ms(ttf), fmt_ratio(ttf, ms), fmt_err(errs[ei])])
                emit(rows[-1])
            else:
                nbytes = case.bytes_fwd if key == "fwd" else case.bytes_bwd
                gbs = nbytes / ms / 1e6
                tn = tms[0] if tms else None
                rows.append([case.name, case.shape, pass_name, f"{nbytes / 1e6:.1f}", fmt_ms(ms), f"{gbs:.0f}",
                             f"{gbs / copy_gbs:.0%}" if copy_gbs else "-", fmt_ms(tn), fmt_ratio(tn, ms),
                             fmt_err(errs[ei])])
                emit(rows[-1])
        del fwd_calls, bwd_calls
    return rows, worst


CONV_HEADER = ["layer", "input", "pass", "ms", "GFLOP/s", "cuDNN fp32 ms", "x cuDNN fp32", "cuDNN TF32 ms",
               "x cuDNN TF32", "err"]
MEM_HEADER = ["op", "input", "pass", "MB moved", "ms", "GB/s", "of copy", "torch native ms", "x torch", "err"]


# ----------------------------------------------------------------------------- training steps
def small_resnet(nn, F):
    """ResNet-8 built from `nn` and `F`: pycnn's nn / functional or torch's (the same layers, the same
    names, so the state_dict carries over between the two)."""

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.shortcut = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                             if stride != 1 or c_in != c_out else nn.Identity())

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn = nn.BatchNorm2d(16)
            self.layers = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.layers(F.relu(self.bn(self.conv(x))))
            return self.fc(self.pool(x).flatten(1))
    return ResNet8()


def small_resnet_pycnn():
    from pycnn import nn
    from pycnn import functional as F
    return small_resnet(nn, F)


def small_resnet_torch(torch):
    return small_resnet(torch.nn, torch.nn.functional)


def lenet_torch(torch):
    from torch_zoo import LeNet5 as TorchLeNet5  # tests/torch_zoo.py: the zoo's torch twins
    return TorchLeNet5()


def host_array(v):
    """A state_dict value (a pycnn Tensor on any device, or an array) as a host numpy array."""
    return v.detach().cpu().numpy().copy() if hasattr(v, "detach") else np.array(v)


def train_rows(timer, torch, tdev, reps, warmup, tiny, emit):
    import pycnn
    from pycnn import functional as F
    from pycnn import optim
    from pycnn.models import LeNet5

    nets = [("LeNet-5", LeNet5, lenet_torch, (1, 32, 32)),
            ("ResNet-8", small_resnet_pycnn, small_resnet_torch, (3, 8, 8) if tiny else (3, 32, 32))]
    rows, worst = [], 0.0
    for name, make, make_torch, chw in nets:
        for batch in ((2, 4) if tiny else (64, 256)):
            pycnn.manual_seed(0)
            model = make().to("cuda")
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            rng = np.random.default_rng(batch)
            xh = rng.standard_normal((batch,) + chw).astype(np.float32)
            yh = rng.integers(0, 10, batch)
            x, y = pycnn.tensor(xh, device="cuda"), pycnn.tensor(yh, device="cuda")
            state = model.state_dict()

            def step(model=model, opt=opt, x=x, y=y):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                return loss
            fns = [("pycnn", step)]
            err = None
            if torch is not None:
                tm = make_torch(torch)
                tm.load_state_dict({k: torch.from_numpy(host_array(v)) for k, v in state.items()})
                tm.to(tdev)
                topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
                tx, ty = torch.from_numpy(xh).to(tdev), torch.from_numpy(yh).to(tdev)

                def tstep(tm=tm, topt=topt, tx=tx, ty=ty):
                    topt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(tm(tx), ty)
                    loss.backward()
                    topt.step()
                    return loss
                # the first step from the same weights and batch: the losses agree (torch fp32)
                lp = float(step().item())
                lt = float(TorchFlags(torch, tstep, True, False)().item())
                err = abs(lp - lt) / max(abs(lt), 1e-12)
                worst = max(worst, err)
                fns += [("torch", TorchFlags(torch, tstep, True, False)), ("torch", TorchFlags(torch, tstep, True, True))]
            ms, *tms = timer.medians(fns, reps, warmup)
            t32, ttf = (tms + [None, None])[:2]
            rows.append([f"{name} train step", f"{batch}x" + "x".join(map(str, chw)), fmt_ms(ms),
                         f"{batch / ms * 1e3:.0f}", fmt_ms(t32), fmt_ratio(t32, ms), fmt_ms(ttf), fmt_ratio(ttf, ms),
                         fmt_err(err)])
            emit(rows[-1])
    return rows, worst


TRAIN_HEADER = ["network", "input (batch x C x H x W)", "pycnn ms/step", "img/s", "torch fp32 ms", "x torch fp32", "torch TF32 ms",
                "x torch TF32", "err (step-1 loss)"]


# ----------------------------------------------------------------------------- smoke (the sanitizer's script)
def smoke_cases():
    """Small shapes, one of each kernel family (and the variants with kernels of their own)."""
    from pycnn import functional as F

    rng = np.random.default_rng(5)
    x = rand(rng, (2, 4, 9, 7))
    x1 = rand(rng, (2, 4, 11))
    w3, w1 = rand(rng, (6, 4, 3, 3), 0.2), rand(rng, (6, 4, 1, 1), 0.2)
    wg, wd = rand(rng, (6, 2, 3, 3), 0.2), rand(rng, (4, 1, 3, 3), 0.2)
    wt, wc1 = rand(rng, (4, 3, 3, 3), 0.2), rand(rng, (5, 4, 3), 0.2)
    b6, b4, b3, b5 = rand(rng, (6,)), rand(rng, (4,)), rand(rng, (3,)), rand(rng, (5,))
    c4, c4b = rand(rng, (4,), 0.1, 1.0), rand(rng, (4,))
    rm, rv = rand(rng, (4,), 0.1), (1 + 0.1 * rng.random(4)).astype(np.float32)
    lw, lb = rand(rng, (9, 7), 0.1, 1.0), rand(rng, (9, 7))
    T = True
    cases = [
        ("conv2d 3x3 s2 p1 (im2col + GEMM)", [x, w3, b6], [T, T, T], lambda x, w, b: F.conv2d(x, w, b, 2, 1)),
        ("conv2d 1x1 (no im2col)", [x, w1, b6], [T, T, T], lambda x, w, b: F.conv2d(x, w, b)),
        ("conv2d groups=2 dilation=2 'same'", [x, wg, b6], [T, T, T],
         lambda x, w, b: F.conv2d(x, w, b, 1, "same", 2, 2)),
        ("conv2d depthwise 3x3 s2", [x, wd, b4], [T, T, T], lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 4)),
        ("conv_transpose2d s2 output_padding 1", [x, wt, b3], [T, T, T],
         lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1)),
        ("conv1d k3 p1", [x1, wc1, b5], [T, T, T], lambda x, w, b: F.conv1d(x, w, b, 1, 1)),
        ("linear (GEMM)", [x.reshape(2, -1), rand(rng, (5, 252), 0.1), b5], [T, T, T],
         lambda x, w, b: F.linear(x, w, b)),
        ("max_pool2d 3x3 s2 p1 dilation 2", [x], [T], lambda x: F.max_pool2d(x, 3, 2, 1, 2)),
        ("avg_pool2d 3x3 s2 p1 ceil", [x], [T], lambda x: F.avg_pool2d(x, 3, 2, 1, True)),
        ("adaptive_avg_pool2d (4, 3)", [x], [T], lambda x: F.adaptive_avg_pool2d(x, (4, 3))),
        ("adaptive_max_pool2d (4, 3)", [x], [T], lambda x: F.adaptive_max_pool2d(x, (4, 3))),
        ("max_unpool2d 2x2 (of max_pool2d's indices)", [x], [T],
         lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, 2, return_indices=True), 2, output_size=(9, 7))),
        ("interpolate nearest x2", [x], [T], lambda x: F.interpolate(x, scale_factor=2)),
        ("interpolate nearest-exact to (13, 5)", [x], [T], lambda x: F.interpolate(x, (13, 5), mode="nearest-exact")),
        ("interpolate bilinear x1.5", [x], [T],
         lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False)),
        ("interpolate linear align_corners", [x1], [T],
         lambda x: F.interpolate(x, 17, mode="linear", align_corners=True)),
        ("upsample_bed_of_nails x2", [x], [T], lambda x: F.upsample_bed_of_nails(x, 2)),
        ("pad reflect", [x], [T], lambda x: F.pad(x, (2, 1, 3, 2), mode="reflect")),
        ("pad replicate", [x], [T], lambda x: F.pad(x, (1, 2, 2, 1), mode="replicate")),
        ("pad circular", [x], [T], lambda x: F.pad(x, (2, 2, 1, 3), mode="circular")),
        ("batch_norm train", [x, rm, rv, c4, c4b], [T, False, False, T, T],
         lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, True, 0.1)),
        ("batch_norm eval", [x, rm, rv, c4, c4b], [T, False, False, T, T],
         lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, False)),
        ("instance_norm", [x, c4, c4b], [T, T, T], lambda x, w, b: F.instance_norm(x, weight=w, bias=b)),
        ("group_norm(2)", [x, c4, c4b], [T, T, T], lambda x, w, b: F.group_norm(x, 2, w, b)),
        ("layer_norm (H, W)", [x, lw, lb], [T, T, T], lambda x, w, b: F.layer_norm(x, (9, 7), w, b)),
        ("pixel_norm", [x], [T], lambda x: F.pixel_norm(x)),
        ("relu / softmax / cross_entropy", [x.reshape(6, -1)], [T],
         lambda x: F.cross_entropy(F.relu(x), __import__("pycnn").tensor(np.arange(6) % 5, device=x.device))
         .reshape(1)),
    ]
    return [Case("smoke", name, "", ins, grad, f, None) for name, ins, grad, f in cases]


def run_smoke(args):
    import pycnn

    failures = 0
    rows = []
    for case in smoke_cases():
        try:
            y, g, grads, _, _ = pycnn_run(case, "cuda")
            yc, _, gc, _, _ = pycnn_run(case, "cpu")
            errs = [rel_err(y, yc)] + [rel_err(a, b) for a, b, gr in zip(grads, gc, case.grad) if gr]
            e = max(errs)
            ok = e < 1e-4
        except Exception as ex:  # a launch error or a wrong shape: reported, the others still run
            e, ok = None, False
            print(f"{case.name}: {type(ex).__name__}: {ex}")
        failures += not ok
        rows.append([case.name, fmt_err(e) if e is not None else "error", "ok" if ok else "FAIL"])
    pycnn.cuda.synchronize()  # a kernel fault surfaces here at the latest
    # a LeNet-5 training step on the device (the elementwise glue, dropout-free) agrees with the CPU
    from pycnn import functional as F
    from pycnn import optim
    from pycnn.models import LeNet5

    def lenet_losses(dev):
        pycnn.manual_seed(0)
        m = LeNet5().to(dev)
        opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        rng = np.random.default_rng(9)
        xb = pycnn.tensor(rng.standard_normal((4, 1, 32, 32)).astype(np.float32), device=dev)
        yb = pycnn.tensor(rng.integers(0, 10, 4), device=dev)
        run = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(m(xb), yb)
            loss.backward()
            opt.step()
            run.append(loss.item())
        return run

    try:
        e = max(abs(a - b) / abs(b) for a, b in zip(lenet_losses("cuda"), lenet_losses("cpu")))
        ok = e < 1e-4
    except Exception as ex:
        e, ok = None, False
        print(f"LeNet-5 steps: {type(ex).__name__}: {ex}")
    failures += not ok
    rows.append(["LeNet-5: 3 SGD steps, losses", fmt_err(e) if e is not None else "error", "ok" if ok else "FAIL"])
    pycnn.cuda.synchronize()
    from common import table

    print(table(rows, ["op (forward and gradients, cuda vs the CPU backend)", "max rel err", "result"]))
    print(f"\nsmoke: {len(rows) - failures}/{len(rows)} ok" + (f", {failures} FAILED" if failures else ""))
    return 1 if failures else 0


# ----------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.emulated:
        os.environ["PYCNN_CUDA_EMULATOR"] = "1"  # before the first CUDA tensor
    if args.smoke:
        sys.modules.setdefault("torch", None)  # the smoke run (under compute-sanitizer) needs no torch
    import pycnn

    emulated = pycnn.cuda.is_emulated()
    if args.emulated and not emulated:
        print(f"bench_cuda: --emulated, but the emulated device is unavailable: {pycnn.cuda.unavailable_reason()}")
        return 1
    gpu = (not emulated) and pycnn.cuda.is_available() and pycnn.cuda.gpu_count() > 0
    if not gpu and not emulated:
        print("bench_cuda: no GPU to benchmark here: " + (pycnn.cuda.unavailable_reason() or "no CUDA device") +
              "\nNothing was timed.  `python bench/bench_cuda.py --emulated` runs the same code on the emulated "
              "device at tiny shapes (no timings).")
        return 0
    if emulated and not args.emulated and not args.smoke:
        print("bench_cuda: PYCNN_CUDA_EMULATOR is set, so 'cuda' is the emulated device: nothing to time.  Unset it "
              "to benchmark the GPU, or pass --emulated for a tiny-shape run of the code path.")
        return 0
    cp = None
    if gpu:
        import cupy as cp

        if args.no_pool:
            cp.cuda.set_allocator(None)  # raw cudaMalloc/cudaFree per array: the sanitizer sees every bound
            cp.cuda.set_pinned_memory_allocator(None)
    if args.smoke:
        return run_smoke(args)

    torch = None
    try:
        import torch as _torch

        torch = _torch
    except ImportError:
        pass
    tdev = "cpu"
    if gpu:
        if torch is not None and not torch.cuda.is_available():
            print("bench_cuda: torch is importable but sees no CUDA device: the torch columns read '-'")
            torch = None
        if torch is not None:
            tdev = "cuda"
            torch.backends.cudnn.benchmark = True

    reps = args.reps or (20 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (3 if args.quick else 5)
    if gpu and reps < 20:
        print(f"bench_cuda: --reps {reps} < 20; using 20 (the medians need at least 20 samples)")
        reps = 20
    if emulated:  # the code path only: one timed call, no warm-up (the first call of each row is untimed anyway)
        reps, warmup = 1, 0
        if torch is not None:
            torch.set_num_threads(1)
    scale = 0 if (args.quick or emulated) else args.scale
    timer = Timer(gpu, cp, torch if tdev == "cuda" else None)

    info = pycnn.build_info()
    if emulated:
        print("# EMULATED DEVICE: tiny shapes on the host CPU; every 'ms' below times the emulator and torch's CPU "
              "build, and means nothing.  This run checks the code path and the err column only.\n")
        copy_gbs = None
    else:
        props = pycnn.cuda.get_device_properties(0)
        copy_gbs = timer.copy_gbs(reps)
        print(f"# {pycnn.cuda.get_device_name(0)}; {props}")
        print(f"pycnn {info['version']}, CuPy {cp.__version__}, " +
              (f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"
               if torch is not None else "torch: not available") +
              f"; device-to-device copy {copy_gbs:.0f} GB/s (1 GiB cudaMemcpy, read + write); "
              f"medians of {reps} CUDA-event-timed calls after {warmup} warm-ups, pycnn and torch interleaved\n")
    if torch is None:
        print("(torch not importable: no peer columns, no err column)\n")

    def emit(row):  # each row as soon as it is measured: a run cut short keeps what it measured
        print("| " + " | ".join(str(c) for c in row) + " |", flush=True)

    def start_table(section, header):
        print(f"## {section}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header), flush=True)

    worst = 0.0
    for section in [s for s in SECTIONS if s in args.sections]:
        if section == "train":
            start_table(section, TRAIN_HEADER)
            _, w = train_rows(timer, torch, tdev, reps, warmup, emulated, emit)
        else:
            cases = conv_cases(emulated) if section == "conv" else memory_cases(section, emulated, scale)
            if args.only:
                cases = [c for c in cases if args.only in c.name]
            if not cases:
                continue
            start_table(section, CONV_HEADER if section == "conv" else MEM_HEADER)
            _, w = run_cases(cases, timer, torch, tdev, reps, warmup, copy_gbs, section, emit)
        worst = max(worst, w)
        print()
    if torch is not None:
        print(f"largest err against torch: {worst:.1e}" + ("" if worst < 1e-4 else "  <-- check the rows marked !"))
    print("x torch / x cuDNN > 1: pycnn faster.  err: ||pycnn - torch|| / ||torch|| (forward output; gradients for "
          "the backward rows; the first step's loss for training).")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
