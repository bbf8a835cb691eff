"""Conv family: every kernel on every backend (the ``backend`` fixture: the CPU kernels, the
plain-loop spec, and the CUDA device when present) through pycnn.functional -- conv1d, conv2d,
conv_transpose1d, conv_transpose2d, forward and backward (input, weight and bias grads, together
and alone) -- against the numpy float64 reference on the family's case table (cases/conv.py: every
fast path of the CPU kernels with few and many planes), on 1, 2 and 3 threads where the split of
the work depends on it; the Python ops (1-D, unbatched, 'same' padding), the adjoint identity,
gradchecks, modules, bad input, the bindings' own array checks, and (when torch is importable)
PyTorch itself."""
import math

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C
from cases import DTYPES
from cases import conv as table
from cases.conv import (CONV1D_CASES, CONV_CASES, FUSED_CASES, SPLIT_CASES, TRANSPOSE_CASES, WIDE_CASES,
                        case1d_id, case_id, pads4)
from backends import BACKENDS
from helpers import assert_close, cpu_simd_levels, gradcheck, num_threads, randn, simd
from reference import conv as ref

GRADS = ("grad input", "grad weight", "grad bias")


def _arrays(c, dtype, transposed=False):
    """x (N, C_in, H, W), the weight ((C_out, C_in/g, *k), or (C_in, C_out/g, *k) transposed), bias (C_out,)."""
    g = c["groups"]
    wshape = (c["C_in"], c["C_out"] // g) if transposed else (c["C_out"], c["C_in"] // g)
    x = randn(c["N"], c["C_in"], c["H"], c["W"], dtype=dtype)
    return x, randn(*wshape, *c["k"], dtype=dtype), randn(c["C_out"], dtype=dtype)


def _kw(c):
    return dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"])


def _ref_args(c):
    return c["stride"], pads4(c), c["dilation"], c["groups"]


def _tkw(c):
    return dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"], groups=c["groups"],
                dilation=c["dilation"])


def _tref_args(c):
    return c["stride"], c["padding"], c["output_padding"], c["groups"], c["dilation"]


# A conv's float32 result is a sum of many terms, rounded on the way: its error grows with the sum of
# the terms' magnitudes (|w| conv |x| for the forward; the grads likewise from |dy|), not with the
# result, which can cancel to near zero.  So besides the dtype's atol / rtol each element gets
# ERROR_BOUND * eps * that scale (the reference run on the absolute values).  Measured on random
# normal data (test_winograd_float32_error): Winograd at most 1.4 eps32 times the scale, im2col 2.1.
ERROR_BOUND = 8


def _check(backend, op, x, w, b, kw, want, backward, dtype, alone=False, atol=None, scales=None):
    """op(x, w, b, **kw) on the backend's tensors against `want`, then .backward(dy) against
    backward(dy) = (dx, dw, db); with `alone`, the input and the weight grad each alone too (the
    kernels skip the grads nobody asked for); atol overrides the dtype's; scales(dy) = the terms'
    magnitudes of (y, dx, dw, db) (see ERROR_BOUND).  Returns (dy, the grads)."""
    xt, wt = backend.tensor(x, requires_grad=True), backend.tensor(w, requires_grad=True)
    bt = None if b is None else backend.tensor(b, requires_grad=True)
    y = op(xt, wt, bt, **kw)
    assert y.dtype == np.dtype(dtype) and y.shape == want.shape
    dy = randn(*y.shape, dtype=dtype)
    tols = [atol] * 4
    if scales is not None:
        from cases import TOLERANCE
        base = TOLERANCE[str(np.dtype(dtype))][1] if atol is None else atol
        tols = [None if m is None else base + ERROR_BOUND * np.finfo(dtype).eps * m for m in scales(dy)]
    assert_close(y, want, dtype, atol=tols[0], what="forward")
    y.backward(backend.tensor(dy))
    grads = backward(dy)
    for t, r, what, tol in zip((xt, wt, bt), grads, GRADS, tols[1:]):
        if t is not None:
            assert t.grad.dtype == np.dtype(dtype)
            assert_close(t.grad, r, dtype, atol=tol, what=what)
    if alone:
        for i in (0, 1):
            ts = [backend.tensor(a, requires_grad=j == i) for j, a in enumerate((x, w))]
            op(*ts, None if b is None else backend.tensor(b), **kw).backward(backend.tensor(dy))
            assert ts[1 - i].grad is None
            assert_close(ts[i].grad, grads[i], dtype, atol=tols[1 + i], what=GRADS[i] + " alone")
    return dy, grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", table.WINOGRAD_CASES, ids=case_id)
def test_winograd_switched_off(c, dtype):
    """_C.set_conv_winograd(False) sends the Winograd cases to the other paths (the table's rule
    follows it), which match the reference too; it is restored on (the default) after."""
    CPU = BACKENDS[0]
    assert _C.conv_winograd()
    _C.set_conv_winograd(False)
    try:
        assert table.paths(table.params(c)) != "winograd"
        _check_conv2d(CPU, c, dtype, alone=True)
    finally:
        _C.set_conv_winograd(True)
    assert table.paths(table.params(c)) == "winograd"


def _check_conv2d(backend, c, dtype, alone=False, atol=None):
    x, w, b = _arrays(c, dtype)
    args = _ref_args(c)
    ax, aw, ab = (np.abs(a).astype(np.float64) for a in (x, w, b))
    return _check(backend, F.conv2d, x, w, b, _kw(c), ref.conv2d(x, w, b, *args),
                  lambda dy: ref.conv2d_backward(dy, x, w, *args), dtype, alone, atol,
                  lambda dy: (ref.conv2d(ax, aw, ab, *args), *ref.conv2d_backward(np.abs(dy), ax, aw, *args)))


def _check_conv_transpose2d(backend, c, dtype, alone=False, x=None, w=None):
    x0, w0, b = _arrays(c, dtype, transposed=True)
    x, w = x0 if x is None else x, w0 if w is None else w
    args = _tref_args(c)
    ax, aw, ab = (np.abs(a).astype(np.float64) for a in (x, w, b))
    return _check(backend, F.conv_transpose2d, x, w, b, _tkw(c), ref.conv_transpose2d(x, w, b, *args),
                  lambda dy: ref.conv_transpose2d_backward(dy, x, w, *args), dtype, alone, None,
                  lambda dy: (ref.conv_transpose2d(ax, aw, ab, *args),
                              *ref.conv_transpose2d_backward(np.abs(dy), ax, aw, *args)))


def test_case_table_reaches_every_path():
    """Every CPU kernel path (pointwise, depthwise, wide, plain im2col, column phases at stride 2
    and above) is reached by the conv2d and conv_transpose2d tables with few (< 6) and many (>= 6)
    (n, c) planes and with many images (>= 7); the splits of the work (whole jobs per thread or
    the parallel GEMM, the weight gradient's partials / per-group jobs / parallel GEMM, blocks of
    images on the wide path, the fused and separate transposed backward) on 2 and 3 threads; and
    the awkward sizes 1, primes and tile + 1."""
    for cases, transposed in ((CONV_CASES, False), (TRANSPOSE_CASES, True)):
        seen = {}
        for c in cases:
            seen.setdefault(table.paths(table.params(c, transposed)), []).append(c)
        assert set(seen) == {"pointwise", "depthwise", "depthwise-direct", "winograd", "wide", "padded-wide",
                             "im2col", "phases2", "phases"}, set(seen)
        for path, cs in seen.items():
            planes = [c["N"] * c["C_in"] for c in cs]
            if path == "winograd":  # >= 16 channels: few planes means one image
                assert min(c["N"] for c in cs) == 1, (transposed, path)
            else:
                assert min(planes) < 6 <= max(planes), (transposed, path, planes)
            assert max(c["N"] for c in cs) >= 7, (transposed, path)
    wide = [table.params(c) for c in WIDE_CASES]
    assert all(table.paths(p) == "wide" for p in wide)
    assert all(table.paths(table.params(c)) == "padded-wide" for c in table.PADDED_WIDE_CASES)
    assert all(table.paths(table.params(c)) == "im2col" for c in table.NOT_WIDE_CASES)
    assert all(table.paths(table.params(c)) == "winograd" for c in table.WINOGRAD_CASES)
    assert all(table.paths(table.params(c)) != "winograd" for c in table.NOT_WINOGRAD_CASES)
    assert {"im2col", "padded-wide", "phases2"} <= {table.paths(table.params(c)) for c in table.NOT_WINOGRAD_CASES}
    # odd output sizes (a cut last tile), padding 0 to 3, groups
    wino = [table.params(c) for c in table.WINOGRAD_CASES]
    assert {p.H_out % 2 for p in wino} == {0, 1} and {p.W_out % 2 for p in wino} == {0, 1}
    assert {p.pad_top for p in wino} >= {0, 1, 2, 3} and any(p.groups > 1 for p in wino)
    for threads in (2, 3):
        got = set().union(*(table.splits(table.params(c), threads)
                            for c in SPLIT_CASES + WIDE_CASES + table.PADDED_WIDE_CASES))
        assert {"per-image", "parallel-gemm", "weight-partials", "weight-per-group", "weight-parallel",
                "wide-blocks", "planes"} <= got, (threads, got)
        wino = set().union(*(table.splits(table.params(c), threads, elem_bytes=b)
                             for c in table.WINOGRAD_CASES for b in (4, 8)))
        assert wino == {"winograd-planes", "winograd-rows"}, (threads, wino)
        for b in (4, 8):  # both loops at each dtype, the big image's rows at every thread count
            big = next(c for c in table.WINOGRAD_CASES if c["H"] == 40)
            assert {"winograd-rows"} == table.winograd_jobs(table.params(big), threads, b)
            assert "winograd-planes" in set().union(*(table.winograd_jobs(table.params(c), threads, b)
                                                       for c in table.WINOGRAD_CASES))
        fused = set().union(*(table.splits(table.params(c, True), threads, True) for c in FUSED_CASES))
        assert {"fused", "separate"} <= fused, (threads, fused)
    assert any(c["H"] == 1 for c in CONV_CASES) and any(c["W"] == 1 for c in CONV_CASES)
    assert {7, 11, 13, 17} <= {c["W"] for c in CONV_CASES} and {17, 33} & {c["W"] for c in CONV_CASES}


# ----------------------------------------------------------------------------- the case table, every backend
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONV_CASES, ids=case_id)
def test_conv2d(backend, c, dtype):
    _check_conv2d(backend, c, dtype, alone=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", TRANSPOSE_CASES, ids=case_id)
def test_conv_transpose2d(backend, c, dtype):
    _check_conv_transpose2d(backend, c, dtype, alone=True)


def _squeeze_h(grads):
    dx, dw, db = grads
    return dx[:, :, 0], dw[:, :, 0], db


def _check_conv1d(backend, x, w, b, s, p, d, g, dtype):
    pads = {"same": (d * (w.shape[2] - 1) // 2, d * (w.shape[2] - 1) - d * (w.shape[2] - 1) // 2),
            "valid": (0, 0)}.get(p, (p, p))
    _check(backend, F.conv1d, x, w, b, dict(stride=s, padding=p, dilation=d, groups=g),
           ref.conv1d(x, w, b, s, pads, d, g),
           lambda dy: _squeeze_h(ref.conv2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], (1, s),
                                                     (0, 0) + pads, (1, d), g)), dtype)


def _check_conv_transpose1d(backend, x, w, b, s, p, op, g, d, dtype):
    _check(backend, F.conv_transpose1d, x, w, b, dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d),
           ref.conv_transpose1d(x, w, b, s, p, op, g, d),
           lambda dy: _squeeze_h(ref.conv_transpose2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], (1, s),
                                                               (0, p), (0, op), g, (1, d))), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONV1D_CASES, ids=case1d_id)
def test_conv1d(backend, c, dtype):
    g = c["groups"]
    x = randn(c["N"], c["C_in"], c["L"], dtype=dtype)
    w, b = randn(c["C_out"], c["C_in"] // g, c["k"], dtype=dtype), randn(c["C_out"], dtype=dtype)
    _check_conv1d(backend, x, w, b, c["stride"], c["padding"], c["dilation"], g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [c for c in CONV1D_CASES if c["padding"] != "same"], ids=case1d_id)
def test_conv_transpose1d(backend, c, dtype):
    k, s, p, d, g = c["k"], c["stride"], c["padding"], c["dilation"], c["groups"]
    op = max(s, d) - 1  # the largest output_padding allowed
    L = c["L"]
    if (L - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        L += 2 * p  # padding can crop the whole output of a short input: lengthen it
    x = randn(c["N"], c["C_in"], L, dtype=dtype)
    w, b = randn(c["C_in"], c["C_out"] // g, k, dtype=dtype), randn(c["C_out"], dtype=dtype)
    _check_conv_transpose1d(backend, x, w, b, s, p, op, g, d, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride,padding,dilation,groups,k", [
    (1, 0, 1, 1, 3), (2, 1, 1, 1, 3), (1, "same", 2, 3, 3), (3, 2, 2, 3, 3), (1, "valid", 1, 1, 3),
    (1, "same", 1, 2, 4)])
def test_conv1d_matches_reference(backend, dtype, stride, padding, dilation, groups, k):
    x, w = randn(2, 6, 13, dtype=dtype), randn(3 * groups, 6 // groups, k, dtype=dtype)
    _check_conv1d(backend, x, w, randn(3 * groups, dtype=dtype), stride, padding, dilation, groups, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 0, 2, 2, 1), (1, 1, 1, 2, 2), (2, 2, 0, 1, 3)])
def test_conv_transpose1d_matches_reference(backend, dtype, stride, padding, output_padding, groups, dilation):
    x, w, b = randn(3, 4, 7, dtype=dtype), randn(4, 5, 3, dtype=dtype), randn(5 * groups, dtype=dtype)
    _check_conv_transpose1d(backend, x, w, b, stride, padding, output_padding, groups, dilation, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transpose_is_the_adjoint_of_conv(backend, dtype):
    """<conv2d(x), y> == <x, conv_transpose2d(y)> with the same weight (an identity, not a kernel)."""
    x, w = randn(2, 4, 9, 8, dtype=dtype), randn(6, 2, 3, 2, dtype=dtype)
    kw = dict(stride=(2, 3), padding=(1, 1), dilation=(1, 2), groups=2)
    cx = backend.numpy(F.conv2d(backend.tensor(x), backend.tensor(w), **kw))
    y = randn(*cx.shape, dtype=dtype)
    op = [H - ((L - 1) * s - 2 * p + d * (k - 1) + 1) for H, L, s, p, d, k in
          zip(x.shape[2:], cx.shape[2:], kw["stride"], kw["padding"], kw["dilation"], w.shape[2:])]
    ty = backend.numpy(F.conv_transpose2d(backend.tensor(y), backend.tensor(w), output_padding=op, **kw))
    assert ty.shape == x.shape
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == "float32" else dict(rtol=1e-12)
    np.testing.assert_allclose(np.vdot(cx.astype(np.float64), y), np.vdot(x, ty.astype(np.float64)), **tol)


# ----------------------------------------------------------------------------- thread splits
def _check_with_adjoint(backend, c, dtype):
    """The conv case, then the transposed conv with the same params (it maps the conv's output
    shape back to the input's: its forward is the conv's grad input, its backward the conv's
    forward and grad weight)."""
    _check_conv2d(backend, c, dtype, alone=True)
    _check_conv_transpose2d(backend, table.adjoint(c), dtype, alone=True)


# split: whole jobs per thread, groups per thread, thread-local weight partials, and the
# parallel-GEMM path for small batches (which one runs depends on N*groups vs threads); wide:
# stride-1 unpadded convs with a narrow output take the "wide" im2col path (one contiguous run
# per kernel tap, blocks of images side by side, the last block short), N*groups below and above
# the thread count; padded-wide: the same on a zero-bordered copy of each block; winograd: jobs
# of tile rows (fewer or more than the threads), the weight gradient's per-thread partials.
THREAD_CASES = [pytest.param(c, id=f"{kind}-{case_id(c)}")
                for kind, cases in (("split", SPLIT_CASES), ("wide", WIDE_CASES),
                                    ("padded-wide", table.PADDED_WIDE_CASES),
                                    ("winograd", table.WINOGRAD_CASES)) for c in cases
                if c["padding"] != "same"]  # (the adjoint check needs symmetric padding)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", THREAD_CASES)
def test_thread_splits_match_reference(backend, c, dtype, threads):
    """The conv and its adjoint on 1, 2 and 3 threads: every way the kernels split the work."""
    with num_threads(threads):
        _check_with_adjoint(backend, c, dtype)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", FUSED_CASES, ids=case_id)
def test_transpose_backward_with_both_grads_matches_reference(backend, c, dtype, threads):
    """conv_transpose2d's grad input and grad weight share one im2col of dy per image when both
    are wanted and the weight grad is a sum of per-thread partials; each alone takes the
    separate paths.  The result is the same on every call (fixed partial sums per thread)."""
    with num_threads(threads):
        x, w, _ = _arrays(c, dtype, transposed=True)
        dy, _ = _check_conv_transpose2d(backend, c, dtype, alone=True, x=x, w=w)
        again = []
        for _ in range(2):
            xt, wt = backend.tensor(x, requires_grad=True), backend.tensor(w, requires_grad=True)
            F.conv_transpose2d(xt, wt, **_tkw(c)).backward(backend.tensor(dy))
            again.append((backend.numpy(xt.grad), backend.numpy(wt.grad)))
        assert all(np.array_equal(a, b) for a, b in zip(*again))


@pytest.mark.parametrize("level", cpu_simd_levels())
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", table.WINOGRAD_CASES + table.DEPTHWISE_CASES, ids=case_id)
def test_isa_loops_every_simd_level(c, dtype, level):
    """The Winograd tile transforms (csrc/cpu/winograd_loops.h) and the depthwise flat form's loops
    (depthwise_loops.h) at every SIMD level this CPU runs, on 1 and 2 threads: the conv and its
    adjoint, forward and both grads, against the reference."""
    CPU = BACKENDS[0]
    for threads in (1, 2):
        with simd(level), num_threads(threads):
            _check_conv2d(CPU, c, dtype, alone=True)
            if c["padding"] != "same":
                _check_conv_transpose2d(CPU, table.adjoint(c), dtype, alone=True)


@pytest.mark.parametrize("c", [table.conv(4, 64, 64, 16, 16, (3, 3), p=(1, 1)),
                               table.conv(2, 16, 32, 33, 9, (3, 3), p=(2, 1))], ids=case_id)
def test_winograd_float32_error(c):
    """The float32 Winograd conv's error against the float64 result on the same float32 inputs,
    relative to the sum of the terms' magnitudes, forward, grad input and grad weight."""
    CPU = BACKENDS[0]
    p = table.params(c)
    assert table.paths(p) == "winograd"
    x, w, _ = _arrays(c, "float32")
    args = _ref_args(c)
    xt, wt = CPU.tensor(x, requires_grad=True), CPU.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, **_kw(c))
    dy = randn(*y.shape, dtype="float32")
    y.backward(CPU.tensor(dy))
    x64, w64, dy64 = (a.astype(np.float64) for a in (x, w, dy))
    exact = (ref.conv2d(x64, w64, None, *args),) + ref.conv2d_backward(dy64, x64, w64, *args)[:2]
    scale = (ref.conv2d(abs(x64), abs(w64), None, *args),) + ref.conv2d_backward(abs(dy64), abs(x64), abs(w64),
                                                                                  *args)[:2]
    eps = np.finfo(np.float32).eps
    for got, want, mag, what in zip((y, xt.grad, wt.grad), exact, scale, ("forward", "grad input", "grad weight")):
        err = np.abs(CPU.numpy(got.detach()).astype(np.float64) - want) / (mag * eps)
        assert err.max() <= ERROR_BOUND, (what, err.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_scratch_beyond_the_kept_buffer(backend, dtype):
    """An im2col buffer over 8 MB (1152 x 32*64 values) is allocated per call, not kept.  (Sums of
    2048 products: float32's absolute error grows with them.)"""
    c = table.conv(1, 128, 2, 32, 64, (3, 3), p=(1, 1))
    _check_conv2d(backend, c, dtype, atol=1e-3 if dtype == "float32" else None)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_empty_batch_and_channels(backend, transposed):
    """N = 0 gives empty outputs and zero weight/bias grads; C_in = 0 gives the bias alone (and a
    zero bias grad for N = 0)."""
    for N, C_in in ((0, 4), (2, 0), (0, 0)):
        c = table.conv(N, C_in, 6, 6, 6, (3, 3), (2, 2), (1, 1))
        if transposed:
            c = dict(c, output_padding=(1, 1))
            x, w, b = _arrays(c, "float64", transposed=True)
            want = ref.conv_transpose2d(x, w, b, *_tref_args(c))
            back = lambda dy: ref.conv_transpose2d_backward(dy, x, w, *_tref_args(c))  # noqa: E731
            _check(backend, F.conv_transpose2d, x, w, b, _tkw(c), want, back, "float64")
        else:
            x, w, b = _arrays(c, "float64")
            want = ref.conv2d(x, w, b, *_ref_args(c))
            _check(backend, F.conv2d, x, w, b, _kw(c), want,
                   lambda dy: ref.conv2d_backward(dy, x, w, *_ref_args(c)), "float64")


# ----------------------------------------------------------------------------- functional API
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_conv2d_and_grads(backend, dtype):
    x, w, b = randn(3, 4, 7, 6, dtype=dtype), randn(6, 2, 3, 2, dtype=dtype), randn(6, dtype=dtype)
    args = ((2, 1), (1, 1), (1, 2), 2)
    _check(backend, F.conv2d, x, w, b, dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
           ref.conv2d(x, w, b, *args), lambda dy: ref.conv2d_backward(dy, x, w, *args), dtype)


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (2, 3), (4, 2)])
def test_same_padding_splits_the_odd_total_to_the_end(backend, k, d):
    """'same' pads d(k-1) in total per dim: floor half at the top/left, the rest bottom/right."""
    x, w, b = randn(2, 3, 7, 6), randn(5, 3, k, k - 1), randn(5)
    th, tw = d * (k - 1), d * (k - 2)
    args = ((1, 1), (th // 2, th - th // 2, tw // 2, tw - tw // 2), (d, d))
    _check(backend, F.conv2d, x, w, b, dict(padding="same", dilation=d), ref.conv2d(x, w, b, *args),
           lambda dy: ref.conv2d_backward(dy, x, w, *args), "float64")
    y = F.conv2d(backend.tensor(x), backend.tensor(w), padding="valid", dilation=d)
    assert y.shape == (2, 5, 7 - d * (k - 1), 6 - d * (k - 2))


def test_unbatched_input(backend):
    T = backend.tensor
    x, w, b = randn(3, 6, 5), randn(4, 3, 2, 3), randn(4)
    xt = T(x, requires_grad=True)
    y = F.conv2d(xt, T(w), T(b), padding=1)
    assert y.shape == (4, 7, 5)
    assert_close(y, ref.conv2d(x[None], w, b, (1, 1), (1, 1))[0])
    dy = randn(4, 7, 5)
    y.backward(T(dy))
    assert_close(xt.grad, ref.conv2d_backward(dy[None], x[None], w, (1, 1), (1, 1))[0][0])
    x1, w1 = randn(3, 9), randn(4, 3, 2)
    assert_close(F.conv1d(T(x1), T(w1)), ref.conv1d(x1[None], w1)[0])
    wt = randn(3, 2, 2, 2)
    assert_close(F.conv_transpose2d(T(x), T(wt)), ref.conv_transpose2d(x[None], wt)[0])
    wt1 = randn(3, 2, 3)
    assert_close(F.conv_transpose1d(T(x1), T(wt1), stride=2), ref.conv_transpose1d(x1[None], wt1, stride=2)[0])


def test_only_some_inputs_need_grad(backend):
    T = backend.tensor
    x, w = randn(2, 3, 6, 5), randn(4, 3, 3, 3)
    wt = T(w, requires_grad=True)
    y = F.conv2d(T(x), wt, None, padding=1)
    dy = randn(*y.shape)
    y.backward(T(dy))
    assert_close(wt.grad, ref.conv2d_backward(dy, x, w, (1, 1), (1, 1))[1])
    with pycnn.no_grad():
        assert F.conv2d(T(x, requires_grad=True), wt).grad_fn is None


# ----------------------------------------------------------------------------- gradchecks
GRADCHECKS = [  # name, fn, input shape, weight shape, bias size
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), (1, 4, 9), (4, 2, 3), 4),
    ("conv1d-same-even", lambda x, w, b: F.conv1d(x, w, b, padding="same"), (2, 2, 5), (3, 2, 4), 3),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
     (2, 4, 5, 6), (2, 2, 3, 2), 2),
    ("conv2d-depthwise-x2", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
     (1, 2, 5, 5), (4, 1, 3, 3), 4),
    ("conv2d-1x1", lambda x, w, b: F.conv2d(x, w, b), (2, 3, 3, 4), (2, 3, 1, 1), 2),
    ("conv2d-winograd", lambda x, w, b: F.conv2d(x, w, b, padding=1), (1, 16, 4, 5), (16, 16, 3, 3), 16),
    ("conv2d-same-even", lambda x, w, b: F.conv2d(x, w, b, padding="same"), (1, 2, 4, 5), (2, 2, 2, 4), 2),
    ("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1,
                                                            groups=2, dilation=2), (1, 4, 5), (4, 1, 3), 2),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 3), padding=1, output_padding=(1, 0),
                                                            dilation=(1, 2)), (2, 2, 3, 3), (2, 3, 3, 2), 3),
    ("conv_transpose2d-depthwise", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=3),
     (1, 3, 3, 2), (3, 1, 2, 2), 3),
]


@pytest.mark.parametrize("name,fn,xs,ws,nb", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, xs, ws, nb):
    x, w = randn(*xs), randn(*ws)
    gradcheck(fn, x, w, randn(nb))
    gradcheck(lambda x, w: fn(x, w, None), x, w)


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("cls,args,kw,wshape", [
    (pycnn.nn.Conv1d, (4, 6, 3), dict(groups=2), (6, 2, 3)),
    (pycnn.nn.Conv2d, (3, 8, (3, 5)), dict(stride=2, padding=1), (8, 3, 3, 5)),
    (pycnn.nn.ConvTranspose1d, (4, 6, 3), dict(groups=2), (4, 3, 3)),
    (pycnn.nn.ConvTranspose2d, (6, 4, 2), dict(stride=2, groups=2), (6, 2, 2, 2)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_module_parameters(cls, args, kw, wshape, bias):
    pycnn.manual_seed(3)  # the uniqueness check below: unseeded, two of 360 float32 draws collide a few runs in 1000
    m = cls(*args, bias=bias, **kw)
    sd = m.state_dict()
    assert list(sd) == (["weight", "bias"] if bias else ["weight"])
    assert sd["weight"].shape == wshape and sd["weight"].dtype == np.float32
    in_c, out_c, groups = args[0], args[1], kw.get("groups", 1)
    K = int(np.prod(wshape[2:]))
    assert m.num_parameters() == out_c * (in_c // groups * K + (1 if bias else 0))
    # kaiming_uniform(a=sqrt(5)) and the bias both have bound 1/sqrt(fan_in), fan_in = w.shape[1]*K
    bound = 1 / math.sqrt(wshape[1] * K)
    w = sd["weight"].numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound and np.unique(w).size == w.size
    if bias:
        assert sd["bias"].shape == (out_c,) and np.abs(sd["bias"]).max() <= bound
    x = pycnn.randn(2, in_c, *([6] * (len(wshape) - 2)))
    y = m(x)
    fn = {pycnn.nn.Conv1d: F.conv1d, pycnn.nn.Conv2d: F.conv2d,
          pycnn.nn.ConvTranspose1d: F.conv_transpose1d, pycnn.nn.ConvTranspose2d: F.conv_transpose2d}[cls]
    if m.transposed:
        want = fn(x, m.weight, m.bias, m.stride, m.padding, m.output_padding, m.groups, m.dilation)
    else:
        want = fn(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups)
    np.testing.assert_array_equal(y.detach().numpy(), want.detach().numpy())
    m.load_state_dict(sd)
    y.sum().backward()
    assert m.weight.grad.shape == wshape


def test_module_dtype_and_repr():
    m = pycnn.nn.Conv2d(2, 4, 3, padding="same", dilation=2, bias=False, dtype="float64")
    assert m.weight.dtype == np.float64
    assert repr(m) == "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(2, 2), bias=False)"
    t = pycnn.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2)
    assert repr(t) == "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=2)"
    r = pycnn.nn.Conv1d(2, 2, 4, padding="same", padding_mode="reflect")
    assert r._reversed_padding_repeated_twice == (1, 2)
    assert "padding_mode=reflect" in repr(r)


def test_conv_transpose_output_size():
    m = pycnn.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = pycnn.randn(1, 3, 5, 5)
    assert m(x).shape == (1, 2, 9, 9)
    for size in [(9, 10), (10, 9), [1, 2, 10, 10]]:
        y = m(x, output_size=size)
        assert y.shape[2:] == tuple(size[-2:])
        op = tuple(s - 9 for s in size[-2:])
        np.testing.assert_allclose(y.detach().numpy(), ref.conv_transpose2d(
            x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy(), (2, 2), (1, 1), op), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="ConvTranspose2d.*output size"):
        m(x, output_size=(11, 9))
    m1 = pycnn.nn.ConvTranspose1d(3, 2, 3, stride=3)
    assert m1(pycnn.randn(2, 3, 4), output_size=[12]).shape == (2, 2, 12)


# ----------------------------------------------------------------------------- bad input
def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def _bad_cases():
    x, w = pycnn.randn(2, 4, 6, 6), pycnn.randn(6, 2, 3, 3)
    xi = pycnn.tensor(np.ones((2, 4, 6, 6), dtype=np.int64))
    wt = pycnn.randn(4, 3, 3, 3)  # transposed layout (C_in, C_out/groups, kH, kW)
    x1 = pycnn.randn(2, 4, 9)
    return [
        ("ndim", lambda: F.conv2d(pycnn.randn(4, 6), w), ValueError,
         r"conv2d: input must be 4-D \(N, C_in, H, W\) or 3-D \(C_in, H, W\), got shape \(4, 6\)"),
        ("weight ndim", lambda: F.conv2d(x, pycnn.randn(6, 4, 3)), ValueError,
         r"conv2d: weight must be 4-D \(C_out, C_in/groups, kH, kW\), got shape \(6, 4, 3\)"),
        ("channels", lambda: F.conv2d(x, w), ValueError,
         r"conv2d: weight \(6, 2, 3, 3\) expects 2 input channels \(weight.shape\[1\] \* groups=1\), but input "
         r"\(2, 4, 6, 6\) has 4"),
        ("groups divide", lambda: F.conv2d(x, pycnn.randn(6, 2, 3, 3), groups=3), ValueError,
         r"conv2d: groups=3 must divide both the input channels \(input \(2, 4, 6, 6\)\) and the output channels "
         r"\(weight \(6, 2, 3, 3\)\)"),
        ("groups zero", lambda: F.conv2d(x, w, groups=0), ValueError, "conv2d: groups must be positive, got 0"),
        ("groups float", lambda: F.conv2d(x, w, groups=2.0), TypeError, "conv2d: groups must be an int, got 2.0"),
        ("kernel too big", lambda: F.conv2d(x, pycnn.randn(6, 4, 7, 3)), ValueError,
         r"conv2d: the \(dilated\) kernel 7x3 is larger than the padded input 6x6 \(input \(2, 4, 6, 6\), weight "
         r"\(6, 4, 7, 3\), padding \(0, 0, 0, 0\)\): the output size would be <= 0"),
        ("dilated too big", lambda: F.conv2d(x, pycnn.randn(6, 4, 3, 3), dilation=3, padding=(0, 1)), ValueError,
         r"conv2d: the \(dilated\) kernel 7x7 is larger than the padded input 6x8 \(input \(2, 4, 6, 6\), weight "
         r"\(6, 4, 3, 3\), padding \(0, 0, 1, 1\)\)"),
        ("stride", lambda: F.conv2d(x, w, stride=0, groups=2), ValueError,
         r"conv2d: stride must be positive, got \(0, 0\) \(input \(2, 4, 6, 6\), weight \(6, 2, 3, 3\)\)"),
        ("dilation", lambda: F.conv2d(x, w, dilation=(1, -1), groups=2), ValueError,
         r"conv2d: dilation must be positive, got \(1, -1\) \(input \(2, 4, 6, 6\), weight \(6, 2, 3, 3\)\)"),
        ("negative padding", lambda: F.conv2d(x, w, padding=(1, -1), groups=2), ValueError,
         r"conv2d: padding must be non-negative, got \(1, 1, -1, -1\) \(top, bottom, left, right\)"),
        ("padding string", lambda: F.conv2d(x, w, padding="full", groups=2), ValueError,
         "conv2d: padding must be an int, a tuple, 'valid' or 'same', got 'full'"),
        ("same strided", lambda: F.conv2d(x, w, stride=2, padding="same", groups=2), ValueError,
         r"conv2d: padding='same' is not supported for strided convolutions \(stride=\(2, 2\)"),
        ("int input", lambda: F.conv2d(xi, w, groups=2), TypeError,
         r"conv2d: expected a floating point tensor, got dtype int64 with shape \(2, 4, 6, 6\)"),
        ("dtype mix", lambda: F.conv2d(x.double(), w, groups=2), TypeError,
         r"conv2d: dtypes differ: input float64 \(2, 4, 6, 6\), weight float32 \(6, 2, 3, 3\)"),
        ("bias shape", lambda: F.conv2d(x, w, pycnn.randn(4), groups=2), ValueError,
         r"conv2d: bias must have shape \(6,\), got \(4,\)"),
        ("empty kernel", lambda: F.conv2d(x, pycnn.randn(6, 2, 0, 3), groups=2), ValueError,
         r"conv2d: weight \(6, 2, 0, 3\) has an empty kernel"),
        ("conv1d ndim", lambda: F.conv1d(x, pycnn.randn(6, 4, 3)), ValueError,
         r"conv1d: input must be 3-D \(N, C_in, L\) or 2-D \(C_in, L\), got shape \(2, 4, 6, 6\)"),
        ("conv1d groups", lambda: F.conv1d(x1, pycnn.randn(5, 2, 3), groups=2), ValueError,
         r"conv1d: groups=2 must divide both the input channels \(input \(2, 4, 9\)\) and the output channels "
         r"\(weight \(5, 2, 3\)\)"),
        ("conv1d channels", lambda: F.conv1d(x1, pycnn.randn(6, 2, 3)), ValueError,
         r"conv1d: weight \(6, 2, 3\) expects 2 input channels \(weight.shape\[1\] \* groups=1\), but input "
         r"\(2, 4, 9\) has 4"),
        ("conv1d stride", lambda: F.conv1d(x1, pycnn.randn(6, 4, 3), stride=0), ValueError,
         r"conv1d: stride must be positive, got \(0,\) \(input \(2, 4, 9\), weight \(6, 4, 3\)\)"),
        ("transposed layout", lambda: F.conv_transpose2d(x, pycnn.randn(6, 4, 3, 3)), ValueError,
         r"conv_transpose2d: weight \(6, 4, 3, 3\) must be laid out \(C_in, C_out/groups, kH, kW\) with C_in = 4 "
         r"as in input \(2, 4, 6, 6\)"),
        ("output_padding", lambda: F.conv_transpose2d(x, wt, stride=2, output_padding=2), ValueError,
         r"conv_transpose2d: output_padding \(2, 2\) must be non-negative and smaller than either the stride "
         r"\(2, 2\) or the dilation \(1, 1\)"),
        ("output_padding dilation", lambda: F.conv_transpose2d(x, wt, output_padding=(0, 1), dilation=(2, 1)),
         ValueError, r"conv_transpose2d: output_padding \(0, 1\) must be non-negative and smaller than either the "
         r"stride \(1, 1\) or the dilation \(2, 1\)"),
        ("transposed groups", lambda: F.conv_transpose2d(x, wt, groups=3), ValueError,
         r"conv_transpose2d: groups=3 must divide the input channels \(input \(2, 4, 6, 6\)\)"),
        ("transposed size", lambda: F.conv_transpose2d(pycnn.randn(1, 4, 1, 1), wt, padding=2), ValueError,
         r"conv_transpose2d: output size <= 0: \(-1, -1\) for input \(1, 4, 1, 1\), weight \(4, 3, 3, 3\), stride "
         r"\(1, 1\), padding \(2, 2\), output_padding \(0, 0\), dilation \(1, 1\)"),
        ("transposed padding", lambda: F.conv_transpose2d(x, wt, padding=(0, -1)), ValueError,
         r"conv_transpose2d: padding must be non-negative, got \(0, -1\)"),
        ("transposed same", lambda: F.conv_transpose2d(x, wt, padding="same"), ValueError,
         r"conv_transpose2d: padding must be an int or a tuple \(no 'same'/'valid'\), got 'same'"),
        ("transposed bias", lambda: F.conv_transpose2d(x, wt, pycnn.randn(4)), ValueError,
         r"conv_transpose2d: bias must have shape \(3,\), got \(4,\)"),
        ("transposed empty plane", lambda: F.conv_transpose2d(pycnn.randn(2, 4, 0, 6), wt), ValueError,
         r"conv_transpose2d: only zero batch or zero channel inputs may have an empty spatial dim, got input "
         r"\(2, 4, 0, 6\)"),
        ("transposed int", lambda: F.conv_transpose1d(pycnn.tensor(np.ones((1, 4, 3), np.int64)), pycnn.randn(4, 3, 3)),
         TypeError, "conv_transpose1d: expected a floating point"),
        ("transposed1d ndim", lambda: F.conv_transpose1d(x, pycnn.randn(4, 3, 3)), ValueError,
         "conv_transpose1d: input must be 3-D"),
        ("transposed1d layout", lambda: F.conv_transpose1d(x1, pycnn.randn(6, 3, 3)), ValueError,
         r"conv_transpose1d: weight \(6, 3, 3\) must be laid out \(C_in, C_out/groups, k\) with C_in = 4 as in "
         r"input \(2, 4, 9\)"),
        ("transposed1d output_padding", lambda: F.conv_transpose1d(x1, pycnn.randn(4, 3, 3), stride=2,
                                                                   output_padding=2), ValueError,
         r"conv_transpose1d: output_padding \(2,\) must be non-negative and smaller than either the stride \(2,\) "
         r"or the dilation \(1,\)"),
        ("transposed1d size", lambda: F.conv_transpose1d(pycnn.randn(1, 4, 1), pycnn.randn(4, 3, 3), padding=2),
         ValueError, r"conv_transpose1d: output size <= 0: \(-1,\) for input \(1, 4, 1\), weight \(4, 3, 3\), "
         r"stride \(1,\), padding \(2,\), output_padding \(0,\), dilation \(1,\)"),
        ("transposed1d bias", lambda: F.conv_transpose1d(x1, pycnn.randn(4, 3, 3), pycnn.randn(2)), ValueError,
         r"conv_transpose1d: bias must have shape \(3,\), got \(2,\)"),
        ("stride tuple length", lambda: F.conv2d(x, w, stride=(1, 1, 1), groups=2), ValueError,
         "conv2d: stride must have 2 values"),
        ("not a tensor", lambda: F.conv2d(np.ones((1, 4, 6, 6)), w), TypeError, "conv2d: input must be a Tensor"),
        ("bias not a tensor", lambda: F.conv2d(x, w, np.ones(6), groups=2), TypeError,
         "conv2d: bias must be a Tensor or None, got ndarray"),
        ("dilation overflow", lambda: F.conv2d(x, w, dilation=2 ** 62, groups=2), ValueError,
         "conv2d: the dilated kernel overflows int64"),
        ("padding overflow", lambda: F.conv2d(x, w, padding=2 ** 62, groups=2), ValueError,
         "conv2d: the padding overflows int64"),
        ("transposed stride overflow", lambda: F.conv_transpose2d(x, wt, stride=2 ** 62), ValueError,
         "conv_transpose2d: the output size overflows int64"),
        ("module groups", lambda: pycnn.nn.Conv2d(4, 6, 3, groups=4), ValueError, "Conv2d: out_channels=6 must be divisible"),
        ("module in groups", lambda: pycnn.nn.Conv1d(3, 6, 3, groups=2), ValueError, "Conv1d: in_channels=3 must be divisible"),
        ("module padding_mode", lambda: pycnn.nn.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError,
         "Conv2d: padding_mode must be one of"),
        ("module transposed mode", lambda: pycnn.nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"), ValueError,
         'ConvTranspose2d: only "zeros" padding mode'),
        ("module same strided", lambda: pycnn.nn.Conv2d(4, 6, 3, stride=2, padding="same"), ValueError,
         "Conv2d: padding='same' is not supported"),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize("name,fn,exc,pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_input(name, fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_1d_messages_print_the_users_padding():
    x1 = pycnn.randn(2, 4, 9)
    _raises(ValueError, r"conv1d: padding must be non-negative, got \(-1, -1\) \(left, right\)",
            F.conv1d, x1, pycnn.randn(6, 4, 3), padding=-1)
    _raises(ValueError, r"conv1d: the \(dilated\) kernel 13 is larger than the padded input 11 \(input \(2, 4, 9\), "
            r"weight \(6, 4, 13\), padding \(1, 1\)\): the output size would be <= 0",
            F.conv1d, x1, pycnn.randn(6, 4, 13), padding=1)


def test_params_constructors():
    """The params constructors are the one place of the rules (the bindings take their params);
    1-D ops' messages print the user's (N, C, L) shapes."""
    x, w = (2, 4, 6, 6), (6, 2, 3, 3)
    P = _C.conv2d_params
    _raises(ValueError, r"conv2d: weight \(6, 2, 3, 3\) expects 2 input channels", P, "conv2d", 2, x, w, None,
            (1, 1), (0, 0, 0, 0), (1, 1), 1)
    _raises(ValueError, r"conv2d: groups=4 must divide", P, "conv2d", 2, x, (6, 1, 3, 3), None, (1, 1), (0, 0, 0, 0),
            (1, 1), 4)
    _raises(ValueError, r"conv2d: the \(dilated\) kernel 9x3 is larger than the padded input 6x6", P, "conv2d", 2,
            x, w, None, (1, 1), (0, 0, 0, 0), (4, 1), 2)
    _raises(ValueError, r"conv2d: stride must be positive, got \(0, 1\) \(input \(2, 4, 6, 6\), weight "
            r"\(6, 2, 3, 3\)\)", P, "conv2d", 2, x, w, None, (0, 1), (0, 0, 0, 0), (1, 1), 2)
    _raises(ValueError, r"conv2d: input shape must have 4 values, got \(4, 6, 6\)", P, "conv2d", 2, x[1:], w, None,
            (1, 1), (0, 0, 0, 0), (1, 1), 2)
    _raises(ValueError, r"conv2d: bias must have shape \(6,\), got \(5,\)", P, "conv2d", 2, x, w, (5,), (1, 1),
            (0, 0, 0, 0), (1, 1), 2)
    _raises(ValueError, r"conv2d: input has a negative size \(2, -4, 6, 6\)", P, "conv2d", 2, (2, -4, 6, 6), w, None,
            (1, 1), (0, 0, 0, 0), (1, 1), 2)
    _raises(ValueError, r"conv1d: stride must be positive, got \(0,\) \(input \(2, 4, 6\), weight \(6, 2, 3\)\)",
            P, "conv1d", 1, (2, 4, 1, 6), (6, 2, 1, 3), None, (1, 0), (0, 0, 0, 0), (1, 1), 2)
    p = P("conv2d", 2, x, w, (6,), (2, 1), (1, 2, 0, 1), (1, 2), 2)
    assert (p.in_shape, p.out_shape, p.pad_top, p.pad_bottom, p.pad_left, p.pad_right) == \
        ((2, 4, 6, 6), (2, 6, 4, 3), 1, 2, 0, 1)
    T = _C.conv_transpose2d_params
    _raises(ValueError, r"conv_transpose2d: output_padding \(2, 0\) must be non-negative and smaller than either the "
            r"stride \(2, 2\) or the dilation \(1, 1\)", T, "conv_transpose2d", 2, x, (4, 3, 3, 3), None, (2, 2),
            (0, 0), (2, 0), 1, (1, 1))
    _raises(ValueError, r"conv_transpose2d: weight \(6, 3, 3, 3\) must be laid out", T, "conv_transpose2d", 2, x,
            (6, 3, 3, 3), None, (1, 1), (0, 0), (0, 0), 1, (1, 1))
    _raises(ValueError, r"conv_transpose1d: bias must have shape \(3,\), got \(4,\)", T, "conv_transpose1d", 1,
            (2, 4, 1, 6), (4, 3, 1, 3), (4,), (1, 1), (0, 0), (0, 0), 1, (1, 1))
    p = T("conv_transpose2d", 2, x, (4, 3, 3, 3), (3,), (2, 2), (1, 0), (1, 0), 1, (1, 1))
    assert p.in_shape == (2, 3, 12, 13) and p.out_shape == x  # the forward conv it is the adjoint of


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
def test_bindings_check_arrays(reference):
    """The kernels' bindings (fast and plain-loop) check the arrays against their params: a dtype
    they lack, dtypes that differ, and shapes that are not the ones the params describe."""
    x, w, b = randn(2, 4, 6, 6), randn(6, 2, 3, 3), randn(6)
    p = _C.conv2d_params("conv2d", 2, x.shape, w.shape, b.shape, (1, 1), (0, 0, 0, 0), (1, 1), 2)
    kw = dict(reference=reference)
    fwd, bwd = _C.conv2d_forward, _C.conv2d_backward
    assert_close(fwd(x, w, b, p, **kw), ref.conv2d(x, w, b, (1, 1), (0, 0), (1, 1), 2))
    _raises(TypeError, r"conv2d: input must be float32 or float64, got dtype int64 with shape \(2, 4, 6, 6\)", fwd,
            x.astype(np.int64), w.astype(np.int64), None, p, **kw)
    _raises(TypeError, r"conv2d: weight dtype float32 differs from the input's float64 \(weight shape \(6, 2, 3, 3\)\)",
            fwd, x, w.astype(np.float32), None, p, **kw)
    _raises(TypeError, r"conv2d: bias dtype float32 differs from the input's float64 \(bias shape \(6,\)\)",
            fwd, x, w, b.astype(np.float32), p, **kw)
    _raises(ValueError, r"conv2d: input \(4, 6, 6\) does not match the shape \(2, 4, 6, 6\) its params describe",
            fwd, x[0], w, None, p, **kw)
    _raises(ValueError, r"conv2d: input \(2, 4, 6, 5\) does not match the shape \(2, 4, 6, 6\)",
            fwd, x[..., :5].copy(), w, None, p, **kw)
    _raises(ValueError, r"conv2d: weight \(6, 2, 3, 2\) does not match the shape \(6, 2, 3, 3\)",
            fwd, x, w[..., :2].copy(), None, p, **kw)
    _raises(ValueError, r"conv2d: bias \(5,\) does not match the shape \(6,\)", fwd, x, w, b[:5].copy(), p, **kw)
    dy = randn(2, 6, 4, 4)
    _raises(ValueError, r"conv2d: grad_output \(2, 6, 3, 3\) does not match the output shape \(2, 6, 4, 4\)",
            bwd, randn(2, 6, 3, 3), x, w, p, **kw)
    _raises(TypeError, r"conv2d: grad_output dtype float32 differs", bwd, dy.astype(np.float32), x, w, p, **kw)
    _raises(TypeError, r"conv2d: input must be float32 or float64, got dtype int32", bwd, dy, x.astype(np.int32),
            w, p, **kw)
    _raises(TypeError, "incompatible function arguments", fwd, x, w, None,
            _C.pool2d_params("max_pool2d", 2, x.shape, (2, 2), (2, 2), (0, 0), (1, 1), False, True), **kw)
    pt = _C.conv_transpose2d_params("conv_transpose2d", 2, x.shape, (4, 3, 3, 3), None, (1, 1), (0, 0), (0, 0), 1,
                                    (1, 1))
    tf, tb = _C.conv_transpose2d_forward, _C.conv_transpose2d_backward
    assert tf(x, randn(4, 3, 3, 3), None, pt, **kw).shape == (2, 3, 8, 8)
    _raises(ValueError, r"conv_transpose2d: weight \(4, 3, 3, 2\) does not match the shape \(4, 3, 3, 3\)",
            tf, x, randn(4, 3, 3, 2), None, pt, **kw)
    _raises(ValueError, r"conv_transpose2d: input \(2, 4, 8, 8\) does not match the shape \(2, 4, 6, 6\)",
            tf, randn(2, 4, 8, 8), randn(4, 3, 3, 3), None, pt, **kw)
    _raises(ValueError, r"conv_transpose2d: bias \(4,\) does not match the shape \(3,\)",
            tf, x, randn(4, 3, 3, 3), randn(4), pt, **kw)
    _raises(ValueError, r"conv_transpose2d: grad_output \(2, 3, 6, 6\) does not match the output shape "
            r"\(2, 3, 8, 8\)", tb, randn(2, 3, 6, 6), x, randn(4, 3, 3, 3), pt, **kw)
    _raises(TypeError, r"conv_transpose2d: weight dtype float32 differs", tb, randn(2, 3, 8, 8), x,
            randn(4, 3, 3, 3, dtype="float32"), pt, **kw)


# ----------------------------------------------------------------------------- torch (optional)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(7)
    configs = [
        (F.conv2d, tf.conv2d, (2, 4, 9, 8), (6, 2, 4, 3), 6, dict(padding="same", dilation=(2, 1), groups=2)),
        (F.conv2d, tf.conv2d, (3, 4, 8, 7), (8, 1, 3, 3), 8, dict(stride=(2, 3), padding=(1, 2), groups=4)),
        (F.conv1d, tf.conv1d, (2, 3, 11), (6, 3, 4), 6, dict(padding="same", dilation=3)),
        (F.conv_transpose2d, tf.conv_transpose2d, (2, 4, 5, 6), (4, 3, 3, 2), 6,
         dict(stride=(2, 3), padding=1, output_padding=(1, 0), groups=2, dilation=(1, 2))),
        (F.conv_transpose1d, tf.conv_transpose1d, (2, 4, 5), (4, 3, 3), 3, dict(stride=2, padding=1, output_padding=1)),
    ]
    for ours, theirs, xs, ws, nb, kw in configs:
        arrays = [rng.standard_normal(s) for s in (xs, ws, (nb,))]
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        ps = [pycnn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
        yt, yp = theirs(*ts, **kw), ours(*ps, **kw)
        np.testing.assert_allclose(yp.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = rng.standard_normal(yt.shape)
        (yt * torch.tensor(g)).sum().backward()
        (yp * pycnn.tensor(g, dtype="float64")).sum().backward()
        for t, p in zip(ts, ps):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_depthwise_weight_grad_with_an_infinite_input(dtype):
    """The depthwise flat form's weight gradient multiplies dy's zero junk columns by input pixels;
    an inf there would turn a finite tap's gradient into NaN.  In a 3x3 unpadded conv x[.., 1, 0]
    is read by taps (0, 0) and (1, 0) only, but also by tap (0, 1) at a junk column (row 0's end):
    the gradient must match the reference, inf at those two taps and finite at the other seven."""
    CPU = BACKENDS[0]
    c = table.conv(2, 3, 3, 6, 5, (3, 3), g=3)
    assert table.paths(table.params(c)) == "depthwise"
    x, w, _ = _arrays(c, dtype)
    x[1, 2, 1, 0] = np.inf
    xt, wt = CPU.tensor(x), CPU.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, groups=3)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(CPU.tensor(dy))
    _, want, _ = ref.conv2d_backward(dy, x, w, *_ref_args(c))
    got = CPU.numpy(wt.grad)
    assert np.isinf(want[2, 0, :2, 0]).all() and np.isfinite(np.delete(want[2].ravel(), [0, 3])).all()
    assert_close(got, want, dtype, what="grad weight")


def test_depthwise_flat_layout_size_past_int64():
    """Padding and dilation 2^40 on a 3 x 3 depthwise conv: the flat form's planes would be about
    2^82 elements (sized in 128 bits, so the check cannot wrap); the direct loops run, and only
    the centre tap reaches the image."""
    rng = np.random.default_rng(5)
    x0, w0 = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 1, 3, 3))
    x, w = pycnn.tensor(x0, requires_grad=True), pycnn.tensor(w0, requires_grad=True)
    big = 1 << 40
    y = F.conv2d(x, w, padding=big, dilation=big, groups=2)
    centre = w0[:, 0, 1, 1][None, :, None, None]
    np.testing.assert_allclose(y.detach().numpy(), centre * x0, rtol=1e-12)
    y.backward(pycnn.tensor(np.ones(y.shape)))
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(centre, x0.shape), rtol=1e-12)
    want_dw = np.zeros_like(w0)
    want_dw[:, 0, 1, 1] = x0.sum(axis=(0, 2, 3))
    np.testing.assert_allclose(w.grad.numpy(), want_dw, rtol=1e-12, atol=1e-12)
