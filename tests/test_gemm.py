"""GEMM (csrc/gemm.h): every micro-kernel family the CPU has, and the ref kernel, against a
numpy float64 product on the shared awkward sizes, all four transpose combinations, both dtypes.

Also: alpha/beta (beta == 0 never reads C), leading dimensions larger than the logical
widths, the blocking and thread-split paths, gemm_serial (and gemm) inside an OpenMP region,
no access past the arrays (guard pages), SIMD level selection (set_simd_level, PYCNN_SIMD)
and bad-input errors.
"""
import itertools
import os
import sys

import numpy as np
import pytest

import pycnn
from cases import DTYPES, GEMM_SIZES, TOLERANCE
from helpers import SIMD_LEVELS, cpu_simd_levels, run_python, simd
from pycnn import _C

ALL_LEVELS = SIMD_LEVELS
TRANS = list(itertools.product((False, True), repeat=2))


LEVELS = cpu_simd_levels()

# Sizes from the shared table: 1, primes, tile +- 1 (MR is 4, 6 or 14; NR 4 to 32).
M_SIZES = (1, 2, 7, 17, 33, 65)
N_SIZES = (1, 3, 16, 31, 129)
K_SIZES = (1, 2, 17, 64)
assert set(M_SIZES + N_SIZES + K_SIZES) <= set(GEMM_SIZES)
SHAPES = list(itertools.product(M_SIZES, N_SIZES, K_SIZES))
# Shapes past the cache blocks (kc 768; mc 84..168 rows; nc 672..1360 columns), large enough
# for gemm() to split them across threads by rows or by columns, and skinny conv-like ones.
BLOCK_SHAPES = [(520, 70, 300), (300, 9, 1540), (6, 3001, 60), (5, 4101, 3), (129, 129, 129),
                (16, 784, 150), (200, 33, 1152)]


def rng():
    return np.random.default_rng(7)


def operands(r, m, n, k, ta, tb, dtype):
    """Stored A, B for op(A) (m, k), op(B) (k, n); random normal, never zeros."""
    a = r.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = r.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def check(actual, a_op, b_op, dtype, what, alpha=1.0, beta=0.0, c0=None):
    """|actual - expected| within rtol of alpha |op(A)| @ |op(B)| + |beta C| (a GEMM error bound)."""
    a64, b64 = a_op.astype(np.float64), b_op.astype(np.float64)
    expected = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        expected = expected + beta * c0.astype(np.float64)
        scale = scale + abs(beta) * np.abs(c0.astype(np.float64))
    rtol, atol = TOLERANCE[dtype]
    assert actual.shape == expected.shape, what
    err = np.abs(actual.astype(np.float64) - expected)
    bad = ~(err <= rtol * scale + atol)  # also catches NaN
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} wrong, max error "
                           f"{np.nanmax(np.where(np.isnan(err), np.inf, err)):.3g}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("level", LEVELS + ("ref",))
def test_gemm_matches_numpy(level, dtype):
    r = rng()
    with simd("generic" if level == "ref" else level):
        for (m, n, k), (ta, tb) in itertools.product(SHAPES, TRANS):
            a, b = operands(r, m, n, k, ta, tb, dtype)
            c = _C.gemm(a, b, ta, tb, level == "ref")
            assert c.dtype == np.dtype(dtype)
            check(c, a.T if ta else a, b.T if tb else b, dtype,
                  f"{level} {dtype} m={m} n={n} k={k} trans_a={ta} trans_b={tb}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("level", LEVELS)
def test_gemm_blocks_and_threads(level, dtype):
    r = rng()
    with simd(level):
        for (m, n, k), (ta, tb) in itertools.product(BLOCK_SHAPES, TRANS):
            a, b = operands(r, m, n, k, ta, tb, dtype)
            what = f"{level} {dtype} m={m} n={n} k={k} trans_a={ta} trans_b={tb}"
            check(_C.gemm(a, b, ta, tb), a.T if ta else a, b.T if tb else b, dtype, what + " gemm")
            c = np.empty((m, n), dtype)
            _C._gemm_full(a, b, c, 1.0, 0.0, ta, tb, m, n, k, "serial")
            check(c, a.T if ta else a, b.T if tb else b, dtype, what + " gemm_serial")


@pytest.mark.parametrize("threads", (3, 4))
def test_gemm_thread_grids(threads):
    """Other team sizes split C into other grids (3: 1 x 3 or 3 x 1; 4: 2 x 2 too)."""
    r = rng()
    before = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        for (m, n, k), dtype in itertools.product([(520, 70, 300), (6, 3001, 60), (200, 201, 90),
                                                   (29, 1000, 40)], DTYPES):
            a, b = operands(r, m, n, k, False, True, dtype)
            check(_C.gemm(a, b, False, True), a, b.T, dtype,
                  f"{threads} threads {dtype} m={m} n={n} k={k}")
    finally:
        pycnn.set_num_threads(before)


@pytest.mark.parametrize("impl", ("gemm", "serial"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("level", LEVELS + ("ref",))
def test_alpha_beta_and_leading_dims(level, dtype, impl):
    """c[:m, :n] = alpha op(A) @ op(B) + beta c on sub-blocks of larger arrays (ld > width);
    beta == 0 on a NaN-filled C must not read it; the rest of c stays as it was."""
    r = rng()
    impl = "ref" if level == "ref" else impl
    shapes = [(1, 1, 1), (7, 31, 17), (17, 33, 2), (65, 129, 64), (70, 150, 270)]
    with simd("generic" if level == "ref" else level):
        for (m, n, k), (ta, tb), (alpha, beta) in itertools.product(
                shapes, TRANS, ((1.0, 0.0), (0.75, 0.0), (-1.5, 1.0), (0.5, -2.0))):
            pad = 3  # every leading dimension is 3 more than its logical width
            a = r.standard_normal((k, m + pad) if ta else (m, k + pad)).astype(dtype)
            b = r.standard_normal((n, k + pad) if tb else (k, n + pad)).astype(dtype)
            c0 = r.standard_normal((m + 1, n + pad)).astype(dtype)
            c = c0.copy()
            if beta == 0.0:
                c[:m, :n] = np.nan
            _C._gemm_full(a, b, c, alpha, beta, ta, tb, m, n, k, impl)
            a_op = a[:, :m].T if ta else a[:, :k]
            b_op = b[:, :k].T if tb else b[:, :n]
            what = f"{level} {impl} {dtype} m={m} n={n} k={k} ta={ta} tb={tb} alpha={alpha} beta={beta}"
            check(c[:m, :n], a_op, b_op, dtype, what, alpha, beta, c0[:m, :n])
            outside = np.ones(c.shape, bool)
            outside[:m, :n] = False
            np.testing.assert_array_equal(c[outside], c0[outside], err_msg=what + ": wrote outside C")


@pytest.mark.parametrize("impl", ("ref", "gemm", "serial"))
def test_empty_inner_dimension_scales_c(impl):
    """k == 0: C = beta C, and beta == 0 gives zeros even over NaN."""
    c = np.full((3, 5), np.nan)
    _C._gemm_full(np.ones((3, 1)), np.ones((1, 5)), c, 1.0, 0.0, False, False, 3, 5, 0, impl)
    np.testing.assert_array_equal(c, np.zeros((3, 5)))
    c = np.arange(15.0).reshape(3, 5)
    _C._gemm_full(np.ones((3, 1)), np.ones((1, 5)), c, 1.0, 2.0, False, False, 3, 5, 0, impl)
    np.testing.assert_array_equal(c, 2 * np.arange(15.0).reshape(3, 5))
    assert _C.gemm(np.ones((4, 0)), np.ones((0, 2))).tolist() == [[0.0, 0.0]] * 4


@pytest.mark.parametrize("impl", ("serial", "gemm"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("level", LEVELS)
def test_gemm_inside_a_parallel_region(level, dtype, impl):
    """Concurrent gemm_serial calls (as conv makes them) each get the right answer, and so do
    gemm calls made inside the region (which must run serially, not nest)."""
    r = rng()
    with simd(level):
        for (m, n, k), (ta, tb) in itertools.product([(7, 33, 17), (65, 31, 64), (6, 129, 25),
                                                      (130, 140, 70)], TRANS):
            p = 5
            a = r.standard_normal((p, k, m) if ta else (p, m, k)).astype(dtype)
            b = r.standard_normal((p, n, k) if tb else (p, k, n)).astype(dtype)
            c = _C._gemm_in_threads(a, b, ta, tb, impl)
            for i in range(p):
                check(c[i], a[i].T if ta else a[i], b[i].T if tb else b[i], dtype,
                      f"{level} {impl} {dtype} slice {i} m={m} n={n} k={k} ta={ta} tb={tb}")


GUARD_PAGE_SCRIPT = r"""
import ctypes, itertools, mmap, sys
import numpy as np
from pycnn import _C
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
keep = []

def guarded(values):
    # A C-contiguous copy of `values` that ends where an unreadable page begins.
    nbytes, page = values.nbytes, mmap.PAGESIZE
    pages = -(-nbytes // page) + 1
    mm = mmap.mmap(-1, pages * page)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    assert libc.mprotect(addr + (pages - 1) * page, page, 0) == 0, ctypes.get_errno()
    out = np.frombuffer(mm, values.dtype, values.size, (pages - 1) * page - nbytes).reshape(values.shape)
    out[...] = values
    keep.append(mm)
    return out

r = np.random.default_rng(3)
for level, dtype, (m, n, k), (ta, tb) in itertools.product(
        sys.argv[1].split(","), ("float32", "float64"),
        [(5, 37, 19), (16, 100, 150), (3, 1, 7), (60, 33, 17), (14, 17, 33)],
        itertools.product((False, True), repeat=2)):
    _C.set_simd_level(level)
    a = guarded(r.standard_normal((k, m) if ta else (m, k)).astype(dtype))
    b = guarded(r.standard_normal((n, k) if tb else (k, n)).astype(dtype))
    expected = (a.T if ta else a).astype(float) @ (b.T if tb else b).astype(float)
    for impl in ("gemm", "serial"):
        c = guarded(np.zeros((m, n), dtype))
        _C._gemm_full(a, b, c, 1.0, 1.0, ta, tb, m, n, k, impl)
        assert np.allclose(c, expected, rtol=1e-3, atol=1e-3), (level, dtype, m, n, k, ta, tb, impl)
print("ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect through ctypes (Linux)")
def test_no_access_past_the_arrays():
    """A, B and C each end at an unreadable page: any read or write past them crashes the child."""
    out = run_python("-c", GUARD_PAGE_SCRIPT, ",".join(LEVELS))
    assert out.returncode == 0 and out.stdout.strip() == "ok", (out.returncode, out.stderr[-2000:])


def test_set_simd_level():
    before = _C.simd_level()
    try:
        for level in ALL_LEVELS:
            if level in LEVELS:
                _C.set_simd_level(level)
                assert _C.simd_level() == level
                assert _C.build_info()["simd"] == level
            else:
                with pytest.raises(ValueError, match=f"set_simd_level: '{level}' is not supported"):
                    _C.set_simd_level(level)
        with pytest.raises(ValueError, match="set_simd_level: unknown level 'sse9'"):
            _C.set_simd_level("sse9")
        _C.set_simd_level("")  # the best level, capped by PYCNN_SIMD
        cap = os.environ.get("PYCNN_SIMD", "")
        expected = LEVELS[-1] if cap not in ALL_LEVELS else LEVELS[min(ALL_LEVELS.index(cap), len(LEVELS) - 1)]
        assert _C.simd_level() == expected
    finally:
        _C.set_simd_level(before)


@pytest.mark.parametrize("cap", ALL_LEVELS + ("sse9",))
def test_pycnn_simd_env_caps_the_level(cap):
    env = dict(os.environ, PYCNN_SIMD=cap)
    out = run_python("-c", "from pycnn import _C; print(_C.simd_level())", env=env, check=True)
    if cap in ALL_LEVELS:
        assert out.stdout.strip() == LEVELS[min(ALL_LEVELS.index(cap), len(LEVELS) - 1)]
    else:  # an unknown value is reported and ignored
        assert out.stdout.strip() == LEVELS[-1]
        assert "ignoring PYCNN_SIMD=sse9" in out.stderr


BAD_INPUTS = {
    "dtypes_differ": (lambda: _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 2))), TypeError,
                      r"matmul: dtypes differ: a \(2, 3\) float32 vs b \(3, 2\) float64"),
    "inner_differs": (lambda: _C.gemm(np.ones((2, 3)), np.ones((4, 2))), ValueError,
                      r"matmul: inner dimensions differ: a \(2, 3\) @ b \(4, 2\)"),
    "inner_differs_trans": (lambda: _C.gemm(np.ones((2, 3)), np.ones((4, 2)), True, False), ValueError,
                            r"matmul: inner dimensions differ: a \(2, 3\)\^T @ b \(4, 2\)$"),
    "a_not_2d": (lambda: _C.gemm(np.ones(3), np.ones((3, 2))), ValueError, r"matmul: a must be 2-D, got shape \(3,\)"),
    "b_not_2d": (lambda: _C.gemm(np.ones((2, 3)), np.ones((1, 3, 2))), ValueError,
                 r"matmul: b must be 2-D, got shape \(1, 3, 2\)"),
    "int_dtype": (lambda: _C.gemm(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)), TypeError,
                  r"matmul: a must be float32 or float64, got dtype int64 with shape \(2, 2\)"),
    "full_c_small": (lambda: _C._gemm_full(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 3)), 1.0, 0.0,
                                           False, False, 2, 4, 3, "gemm"), ValueError,
                     r"_gemm_full: c \(2, 3\) is smaller than the \(2, 4\)"),
    "full_c_dtype": (lambda: _C._gemm_full(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4), np.float32),
                                           1.0, 0.0, False, False, 2, 4, 3, "gemm"), ValueError,
                     r"_gemm_full: c must be a writeable C-contiguous array of a's dtype"),
    "full_impl": (lambda: _C._gemm_full(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4)), 1.0, 0.0,
                                        False, False, 2, 4, 3, "fast"), ValueError, r"impl must be"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input(name):
    fn, exc, pattern = BAD_INPUTS[name]
    with pytest.raises(exc, match=pattern):
        fn()
