"""Pool family: every kernel on every backend (the ``backend`` fixture: the CPU kernels, the
plain-loop spec, and the CUDA device when present) through pycnn.functional, forward and backward,
against the numpy float64 reference on the family's case table (cases/pool.py); the Python ops
(1-D, unbatched, return_indices) and modules, gradchecks, index layout, ties and NaN, the divisor
rule, bad input, the bindings' own index checks, and (when torch is importable) PyTorch itself."""
import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C, nn
from backends import BACKENDS
from cases import DTYPES
from cases.pool import ADAPTIVE_CASES, AVG_CASES, FIXED_CASES, MAX_CASES, adaptive_id, case_id
from helpers import assert_close, gradcheck, num_threads, randn
from reference import pool as ref

REFERENCE = next(b for b in BACKENDS if b.name == "reference")


def T(a, requires_grad=False):
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)


def distinct(*shape, seed=0):
    """float64 values without ties (a shuffled ramp, spacing 0.05 >> the gradcheck's eps)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.05 - n * 0.025 + 0.01).reshape(shape)


def _args(c):
    return c["k"], c["s"], c["p"], c["d"], c["ceil"]


def test_case_table_has_the_awkward_cases():
    """The table really holds ceil_mode overhangs past the padding, stride > kernel, 1x1 outputs,
    and many planes on every fixed max window."""
    overhang = [c for c in AVG_CASES if c["ceil"] and any(
        (ref.out_size(L, k, s, p, 1, True) - 1) * s - p + k > L + p
        for L, k, s, p in zip((c["H"], c["W"]), c["k"], c["s"], c["p"]))]
    assert overhang
    assert any(s > k for c in MAX_CASES for s, k in zip(c["s"], c["k"]))
    assert any(ref.max_pool2d(np.ones((1, 1, c["H"], c["W"])), *_args(c))[0].size == 1 for c in MAX_CASES)
    for window in ((2, 2, 2), (3, 3, 2), (3, 3, 1)):
        planes = {c["N"] * c["C"] for c in FIXED_CASES if (c["k"][0], c["k"][1], c["s"][1]) == window}
        assert min(planes) < 6 and max(planes) >= 32, (window, planes)


# ----------------------------------------------------------------------------- the case table, every backend
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", MAX_CASES + FIXED_CASES, ids=case_id)
def test_max_pool2d(backend, c, dtype):
    x = randn(c["N"], c["C"], c["H"], c["W"], dtype=dtype)
    xt = backend.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, *_args(c), return_indices=True)
    ry, ridx = ref.max_pool2d(x, *_args(c))
    assert y.dtype == np.dtype(dtype) and idx.dtype == np.int64
    assert_close(y, ry, dtype, what="forward")
    np.testing.assert_array_equal(backend.numpy(idx), ridx)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    assert_close(xt.grad, ref.scatter_add(dy, ridx, x.shape), dtype, what="backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["include_pad", "exclude_pad", "divisor"])
@pytest.mark.parametrize("c", AVG_CASES, ids=case_id)
def test_avg_pool2d(backend, c, mode, dtype):
    x = randn(c["N"], c["C"], c["H"], c["W"], dtype=dtype)
    kw = dict(count_include_pad=mode != "exclude_pad", divisor_override=7 if mode == "divisor" else None)
    args = (c["k"], c["s"], c["p"], c["ceil"])
    xt = backend.tensor(x, requires_grad=True)
    y = F.avg_pool2d(xt, *args, **kw)
    assert_close(y, ref.avg_pool2d(x, *args, **kw), dtype, what="forward")
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    assert_close(xt.grad, ref.avg_pool2d_backward(dy, x.shape, *args, **kw), dtype, what="backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", ADAPTIVE_CASES, ids=adaptive_id)
def test_adaptive_pools(backend, c, dtype):
    x = randn(*c[:4], dtype=dtype)
    out = c[4:]
    xt = backend.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool2d(xt, out)
    assert_close(y, ref.adaptive_avg_pool2d(x, out), dtype, what="avg forward")
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    assert_close(xt.grad, ref.adaptive_avg_pool2d_backward(dy, x.shape), dtype, what="avg backward")
    xt = backend.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(xt, out, return_indices=True)
    ry, ridx = ref.adaptive_max_pool2d(x, out)
    assert_close(y, ry, dtype, what="max forward")
    np.testing.assert_array_equal(backend.numpy(idx), ridx)
    y.backward(backend.tensor(dy))
    assert_close(xt.grad, ref.scatter_add(dy, ridx, x.shape), dtype, what="max backward")


def _unpool(backend, pooled, idx, out, dtype):
    """max_unpool2d of `pooled` at `idx` to exactly `out`: kernel out - in + 1 at stride 1 makes the
    default output size `out`; returns (y, the input-gradient of a random dy)."""
    kernel = (out[0] - pooled.shape[2] + 1, out[1] - pooled.shape[3] + 1)
    pt = backend.tensor(pooled, requires_grad=True)
    y = F.max_unpool2d(pt, backend.tensor(idx), kernel, 1)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    return y, pt.grad, dy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", MAX_CASES, ids=case_id)
def test_max_unpool2d(backend, c, dtype):
    """Unpooling max_pool2d's own indices back to the input size (repeated indices where windows
    overlap: the last write wins) and, separately, distinct random positions in a larger output."""
    x = randn(c["N"], c["C"], c["H"], c["W"], dtype=dtype)
    pooled, idx = ref.max_pool2d(x, *_args(c))
    pooled = pooled.astype(dtype)
    out = (c["H"], c["W"])
    y, dx, dy = _unpool(backend, pooled, idx, out, dtype)
    assert_close(y, ref.max_unpool2d(pooled, idx, out), dtype, what="forward")
    assert_close(dx, ref.max_unpool2d_backward(dy, idx), dtype, what="backward")

    big = (c["H"] + 2, c["W"] + 3)
    rng = np.random.default_rng(c["H"] * 100 + c["W"])
    idx2 = np.stack([rng.permutation(big[0] * big[1])[:pooled[0, 0].size]
                     for _ in range(c["N"] * c["C"])]).reshape(pooled.shape).astype(np.int64)
    y, dx, dy = _unpool(backend, pooled, idx2, big, dtype)
    assert_close(y, ref.max_unpool2d(pooled, idx2, big), dtype, what="forward, distinct indices")
    assert_close(dx, ref.max_unpool2d_backward(dy, idx2), dtype, what="backward, distinct indices")


# ----------------------------------------------------------------------------- Python ops
def _nd(x4, spatial, batched):
    """(N, C, 1, L) -> (N, C, L) for 1-D; drop N = 1 for unbatched."""
    a = x4 if spatial == 2 else x4[:, :, 0]
    return a if batched else a[0]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("spatial", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_forward_backward(backend, dtype, spatial, batched):
    """Every functional op through autodiff against the reference, 1-D ops and unbatched inputs
    reshaped to the 2-D kernels."""
    N = 2 if batched else 1
    x4 = randn(N, 3, 1 if spatial == 1 else 9, 13, dtype=dtype)
    x = _nd(x4, spatial, batched)
    k, s, p = (3, 2, 1)
    k2, s2, p2 = ((1, k), (1, s), (0, p)) if spatial == 1 else ((k, k), (s, s), (p, p))
    fn = {1: F, 2: F}[spatial]
    sfx = f"{spatial}d"

    def run(op, kwargs, ry, grad_ref):
        xt = backend.tensor(x, requires_grad=True)
        out = getattr(fn, op + sfx)(xt, **kwargs)
        y = out[0] if isinstance(out, tuple) else out
        assert y.dtype == np.dtype(dtype)
        assert_close(y, _nd(ry, spatial, batched), dtype, what=op + sfx)
        dy4 = randn(*ry.shape, dtype=dtype)
        y.backward(backend.tensor(_nd(dy4, spatial, batched)))
        assert_close(xt.grad, _nd(grad_ref(dy4), spatial, batched), dtype, what=op + sfx + " grad")
        return out

    ry, ridx = ref.max_pool2d(x4, k2, s2, p2, (1, 1), True)
    y, idx = run("max_pool", dict(kernel_size=k, stride=s, padding=p, ceil_mode=True, return_indices=True), ry,
                 lambda dy: ref.scatter_add(dy, ridx, x4.shape))
    np.testing.assert_array_equal(backend.numpy(idx), _nd(ridx, spatial, batched))
    assert str(idx.dtype) == "int64" and not idx.requires_grad
    run("avg_pool", dict(kernel_size=k, stride=s, padding=p, ceil_mode=True, count_include_pad=False),
        ref.avg_pool2d(x4, k2, s2, p2, True, False),
        lambda dy: ref.avg_pool2d_backward(dy, x4.shape, k2, s2, p2, True, False))
    out = (1, 4) if spatial == 1 else (4, 5)
    run("adaptive_avg_pool", dict(output_size=out[-spatial:] if spatial == 2 else 4),
        ref.adaptive_avg_pool2d(x4, out), lambda dy: ref.adaptive_avg_pool2d_backward(dy, x4.shape))
    ry, ridx = ref.adaptive_max_pool2d(x4, out)
    y, idx = run("adaptive_max_pool", dict(output_size=out[-spatial:], return_indices=True), ry,
                 lambda dy: ref.scatter_add(dy, ridx, x4.shape))
    np.testing.assert_array_equal(backend.numpy(idx), _nd(ridx, spatial, batched))

    # max_unpool of the max-pool indices: 2x2 stride 2 (default output size), grad w.r.t. input
    xe = x4[:, :, :x4.shape[2] // 2 * 2 or 1, :12]  # even sizes: the default output is the input's size
    pooled, pidx = ref.max_pool2d(xe, (1, 2) if spatial == 1 else (2, 2), (1, 2) if spatial == 1 else (2, 2))
    pooled = pooled.astype(dtype)
    pt = backend.tensor(_nd(pooled, spatial, batched), requires_grad=True)
    u = getattr(F, "max_unpool" + sfx)(pt, backend.tensor(_nd(pidx, spatial, batched)), 2)
    osize = (1, pooled.shape[3] * 2) if spatial == 1 else (pooled.shape[2] * 2, pooled.shape[3] * 2)
    assert_close(u, _nd(ref.max_unpool2d(pooled, pidx, osize), spatial, batched), dtype, what="unpool")
    dy4 = randn(N, 3, *osize, dtype=dtype)
    u.backward(backend.tensor(_nd(dy4, spatial, batched)))
    assert_close(pt.grad, _nd(ref.max_unpool2d_backward(dy4, pidx), spatial, batched), dtype, what="unpool grad")


def test_stride_defaults_to_kernel_and_output_sizes():
    x = T(randn(2, 3, 11, 8))
    assert F.max_pool2d(x, 3).shape == (2, 3, 3, 2)
    assert F.max_pool2d(x, 3, stride=()).shape == (2, 3, 3, 2)  # torch's empty-list default
    assert F.max_pool2d(x, (3,), (2,), (1,)).shape == F.max_pool2d(x, 3, 2, 1).shape == (2, 3, 6, 4)
    assert F.max_pool2d(x, 3, ceil_mode=True).shape == (2, 3, 4, 3)
    assert F.avg_pool2d(x, (3, 2)).shape == (2, 3, 3, 4)
    assert F.max_pool2d(x, 2, 1, 1, dilation=2).shape == (2, 3, 11 + 2 - 2 - 1 + 1, 8 + 2 - 2 - 1 + 1)
    assert F.max_pool1d(T(randn(2, 3, 11)), 3, ceil_mode=True).shape == (2, 3, 4)
    assert F.adaptive_avg_pool2d(x, (None, 3)).shape == (2, 3, 11, 3)
    assert F.adaptive_max_pool2d(x, (5, None)).shape == (2, 3, 5, 8)
    assert F.adaptive_avg_pool2d(x, 0).shape == (2, 3, 0, 0)
    assert F.adaptive_avg_pool1d(T(randn(3, 11)), (4,)).shape == (3, 4)


# ----------------------------------------------------------------------------- gradchecks
def _unpool_input(spatial):
    """(pooled values, their int64 indices) of a tie-free input under 2x2 (or 2) stride-2 pooling."""
    x = T(distinct(1, 2, 6, 7) if spatial == 2 else distinct(2, 2, 9))
    pool = F.max_pool2d if spatial == 2 else F.max_pool1d
    y, idx = pool(x, 2, return_indices=True)
    return y.numpy(), idx


GRADCHECKS = {
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 7)),
    "max_pool2d_dilated": (lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(2, 1)), (2, 1, 5, 6)),
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True), (2, 3, 8)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (1, 2, 6, 7)),
    "avg_pool2d_exclude_pad": (lambda x: F.avg_pool2d(x, (3, 2), (2, 3), (1, 1), True, False), (2, 1, 6, 5)),
    "avg_pool2d_divisor": (lambda x: F.avg_pool2d(x, 2, 1, divisor_override=3), (1, 2, 4, 5)),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (4, 3)), (1, 2, 7, 5)),
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 4), (2, 2, 7)),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (3, 4)), (1, 2, 7, 5)),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 3), (2, 2, 7)),
    "max_pool2d_unbatched": (lambda x: F.max_pool2d(x, 2, 2, 1), (2, 5, 4)),
}


@pytest.mark.parametrize("name", GRADCHECKS)
def test_gradcheck(name):
    fn, shape = GRADCHECKS[name]
    gradcheck(fn, distinct(*shape, seed=len(name)))


@pytest.mark.parametrize("spatial", [1, 2])
def test_gradcheck_max_unpool(spatial):
    values, idx = _unpool_input(spatial)
    unpool = F.max_unpool2d if spatial == 2 else F.max_unpool1d
    gradcheck(lambda v: unpool(v, idx, 2, output_size=(6, 7) if spatial == 2 else (9,)), values)


# ----------------------------------------------------------------------------- semantics
def test_unpool_puts_each_maximum_back_where_it_was():
    """max_unpool2d(max_pool2d(x)) equals x at each window's argmax and is zero elsewhere, located
    independently of the indices (a 2x2 block compare)."""
    x = distinct(2, 3, 8, 10, seed=3)
    y, idx = F.max_pool2d(T(x), 2, return_indices=True)
    u = F.max_unpool2d(y, idx, 2).numpy()
    blocks = x.reshape(2, 3, 4, 2, 5, 2)
    is_max = blocks == blocks.max(axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(u, np.where(is_max, blocks, 0).reshape(x.shape))
    # with padding and an odd size, back to the original size via output_size
    x = distinct(1, 2, 7, 9, seed=4)
    y, idx = F.max_pool2d(T(x), 3, 2, 1, return_indices=True)
    u = F.max_unpool2d(y, idx, 3, 2, 1, output_size=(7, 9)).numpy()
    for n, c in np.ndindex(1, 2):
        flat = idx.numpy()[n, c].ravel()
        np.testing.assert_array_equal(u[n, c].ravel()[flat], x[n, c].ravel()[flat])
        np.testing.assert_array_equal(np.delete(u[n, c].ravel(), flat), 0)
    # 1-D: positions in L
    x1 = distinct(2, 3, 10, seed=5)
    y1, i1 = F.max_pool1d(T(x1), 2, return_indices=True)
    np.testing.assert_array_equal(i1.numpy(), 2 * np.arange(5) + x1.reshape(2, 3, 5, 2).argmax(-1))
    np.testing.assert_array_equal(F.max_unpool1d(y1, i1, 2).numpy(),
                                  np.where(x1.reshape(2, 3, 5, 2) == x1.reshape(2, 3, 5, 2).max(-1, keepdims=True),
                                           x1.reshape(2, 3, 5, 2), 0).reshape(x1.shape))


def test_avg_divisor_with_ceil_mode_and_padding_by_hand():
    """L = 6, k = 3, s = 2, p = 1, ceil_mode: 4 windows [-1,2) [1,4) [3,6) [5,8).  The last one
    overhangs the padded extent [-1, 7): with count_include_pad it covers {5, pad 6}, divisor 2."""
    x = T(np.arange(1.0, 7.0).reshape(1, 1, 6))
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, ceil_mode=True).numpy()[0, 0],
                               [(0 + 1 + 2) / 3, (2 + 3 + 4) / 3, (4 + 5 + 6) / 3, (6 + 0) / 2])
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False).numpy()[0, 0],
                               [(1 + 2) / 2, (2 + 3 + 4) / 3, (4 + 5 + 6) / 3, 6 / 1])
    # 2-D: the corner window of a 3x3 ceil_mode pool over 4x4 with padding 1 covers 2x2 real pixels
    x2 = T(np.arange(1.0, 17.0).reshape(1, 1, 4, 4))
    y = F.avg_pool2d(x2, 3, 2, 1, ceil_mode=True).numpy()[0, 0]
    assert y.shape == (3, 3)
    np.testing.assert_allclose(y[0, 0], (1 + 2 + 5 + 6) / 9)
    # the last window starts at 3 and stops at min(3 + 3, 4 + 1) = 5: divisor 2x2, one real pixel
    np.testing.assert_allclose(y[2, 2], 16 / 4)
    np.testing.assert_allclose(y[0, 2], (4 + 8) / 6)  # rows [-1, 2) x columns [3, 5)
    np.testing.assert_allclose(F.avg_pool2d(x2, 2, divisor_override=3).numpy()[0, 0],
                               [[(1 + 2 + 5 + 6) / 3, (3 + 4 + 7 + 8) / 3],
                                [(9 + 10 + 13 + 14) / 3, (11 + 12 + 15 + 16) / 3]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_pick_the_first_in_window_order(backend, dtype):
    x = np.full((1, 1, 4, 4), 2.5, dtype)
    x[0, 0, 1, 1] = x[0, 0, 2, 0] = 7.0   # window (1..3, 0..2) holds two maxima: (1,1) comes first
    _, idx = F.max_pool2d(backend.tensor(x), 3, 1, 1, return_indices=True)
    idx = backend.numpy(idx)
    assert idx[0, 0, 0, 3] == 2            # all equal 2.5 within the input: the first in-input tap
    assert idx[0, 0, 2, 1] == 1 * 4 + 1
    assert idx[0, 0, 3, 3] == 2 * 4 + 2    # equal values, the window clipped by the padding
    _, idx = F.adaptive_max_pool2d(backend.tensor(x), 1, return_indices=True)
    assert backend.numpy(idx)[0, 0, 0, 0] == 5
    x = np.full((1, 1, 3, 3), -np.inf, dtype)  # every tap -inf: still an in-input index
    y, idx = F.max_pool2d(backend.tensor(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    idx = backend.numpy(idx)
    assert np.all(idx >= 0) and np.all(idx < 9) and np.all(np.isneginf(backend.numpy(y)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_propagates_with_its_index(backend, dtype):
    x = randn(2, 3, 6, 6, dtype=dtype)
    x[1, 2, 4, 1] = np.nan
    xt = backend.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, 2, return_indices=True)
    yn, idn = backend.numpy(y), backend.numpy(idx)
    assert np.isnan(yn[1, 2, 2, 0]) and idn[1, 2, 2, 0] == 4 * 6 + 1
    assert np.isnan(yn).sum() == 1
    y.backward(backend.tensor(np.ones_like(yn)))
    dx = backend.numpy(xt.grad)
    assert dx[1, 2, 4, 1] == 1 and dx[1, 2, 5, 1] == 0
    y, idx = F.adaptive_max_pool2d(backend.tensor(x), 1, return_indices=True)
    assert np.isnan(backend.numpy(y)[1, 2, 0, 0]) and backend.numpy(idx)[1, 2, 0, 0] == 4 * 6 + 1


def test_max_pool2d_fixed_windows_on_empty_batches(backend):
    for shape in ((0, 3, 8, 8), (2, 0, 8, 8)):
        for k, s, p in (((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 3), (1, 1), (1, 1))):
            y, idx = F.max_pool2d(backend.tensor(np.ones(shape, np.float32)), k, s, p, return_indices=True)
            assert y.shape == idx.shape == shape[:2] + (ref.out_size(8, k[0], s[0], p[0], 1, False),) * 2


def _ties_and_nans(shape, dtype, seed):
    """Values from {-inf, 0, 1, 2} (ties everywhere) with a few NaNs."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-np.inf, 0.0, 1.0, 2.0], dtype), size=shape, p=[0.2, 0.3, 0.3, 0.2])
    x[rng.random(shape) < 0.03] = np.nan
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", FIXED_CASES, ids=case_id)
def test_max_pool2d_ties_and_nans(backend, c, dtype):
    """Ties, -inf and NaN (the last NaN in window order wins) on every fixed-window path: the
    plain-loop kernel is the spec; the CPU kernels give the same on 1 and 2 threads."""
    x = _ties_and_nans((c["N"], c["C"], c["H"], c["W"]), dtype, seed=c["H"] * c["W"])
    with REFERENCE.active():
        sy, sidx = (REFERENCE.numpy(t) for t in F.max_pool2d(REFERENCE.tensor(x), *_args(c), return_indices=True))
    for nthreads in (1, 2):  # the same result whatever the split of the work
        with num_threads(nthreads):
            y, idx = F.max_pool2d(backend.tensor(x), *_args(c), return_indices=True)
        np.testing.assert_array_equal(backend.numpy(y), sy)
        np.testing.assert_array_equal(backend.numpy(idx), sidx)


# ----------------------------------------------------------------------------- modules
def test_modules_match_functional_and_torch_attributes():
    x = T(randn(2, 3, 9, 10))
    m = nn.MaxPool2d(3, 2, 1, ceil_mode=True, return_indices=True)
    assert (m.kernel_size, m.stride, m.padding, m.dilation) == (3, 2, 1, 1)
    y, idx = m(x)
    y2, idx2 = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    np.testing.assert_array_equal(idx.numpy(), idx2.numpy())
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool1d(3, 2)) == "MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"
    assert repr(nn.AdaptiveMaxPool1d(4)) == "AdaptiveMaxPool1d(output_size=4)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxUnpool1d(3, 2, 1)) == "MaxUnpool1d(kernel_size=(3,), stride=(2,), padding=(1,))"
    assert list(nn.MaxPool2d(2).state_dict()) == []
    np.testing.assert_array_equal(nn.AvgPool2d(3, 2, 1, True, False, None)(x).numpy(),
                                  F.avg_pool2d(x, 3, 2, 1, True, False).numpy())
    np.testing.assert_array_equal(nn.AvgPool1d(3, 2, 1)(T(randn(2, 3, 8))).shape, (2, 3, 4))
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d((4, None))(x).numpy(), F.adaptive_avg_pool2d(x, (4, 10)).numpy())
    u = nn.MaxUnpool2d(3, 2, 1)(y, idx, output_size=x.shape)
    assert u.shape == x.shape
    assert nn.AdaptiveMaxPool2d(2, return_indices=True)(x)[1].shape == (2, 3, 2, 2)
    assert nn.MaxUnpool1d(2)(*F.max_pool1d(T(randn(2, 5, 8)), 2, return_indices=True)).shape == (2, 5, 8)


def test_global_pools():
    x = randn(2, 3, 5, 7)
    g = nn.GlobalAvgPool2d()(T(x))
    assert g.shape == (2, 3, 1, 1)
    assert_close(g, x.mean(axis=(2, 3), keepdims=True))
    assert_close(nn.GlobalAvgPool2d(flatten=True)(T(x)), x.mean(axis=(2, 3)))
    assert_close(nn.GlobalMaxPool2d()(T(x)), x.max(axis=(2, 3), keepdims=True))
    assert nn.GlobalMaxPool2d(flatten=True)(T(x)).shape == (2, 3)
    assert repr(nn.GlobalAvgPool2d()) == "GlobalAvgPool2d()"


def test_lenet_pools():
    from pycnn.models.lenet import LeNet5
    net = LeNet5()
    x = T(randn(2, 1, 32, 32).astype("float32"), requires_grad=True)
    out = net(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert x.grad.shape == x.shape and np.isfinite(x.grad.numpy()).all()


# ----------------------------------------------------------------------------- bad input
def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_bad_windows():
    x = T(randn(1, 2, 3, 3))
    for op in (F.max_pool2d, F.avg_pool2d):
        name = op.__name__
        _raises(ValueError, rf"{name}: output size \(0, 0\) is too small.*\(1, 2, 3, 3\)", op, x, 5)
        _raises(ValueError, rf"{name}: padding must be non-negative and at most half the kernel size, got padding "
                r"\(2, 2\) for kernel_size \(3, 3\)", op, x, 3, 1, 2)
        _raises(ValueError, rf"{name}: stride must be positive.*\(1, 2, 3, 3\)", op, x, 2, 0)
        _raises(ValueError, rf"{name}: stride must be positive", op, x, 2, (1, -1))
        _raises(ValueError, rf"{name}: kernel_size must be positive", op, x, 0)
        _raises(ValueError, rf"{name}: padding must be non-negative", op, x, 2, 1, -1)
        _raises(ValueError, rf"{name}: kernel_size must have 2 values", op, x, (2, 2, 2))
        _raises(TypeError, rf"{name}: stride must be an int, got 1.5", op, x, 2, 1.5)
        _raises(TypeError, rf"{name}: ceil_mode must be a bool, got 1", op, x, 2, ceil_mode=1)
    _raises(ValueError, r"max_pool2d: dilation must be positive", F.max_pool2d, x, 2, dilation=0)
    _raises(ValueError, r"max_pool1d: output size \(0,\) is too small.*\(2, 3, 4\)", F.max_pool1d, T(randn(2, 3, 4)),
            3, dilation=2)
    _raises(ValueError, r"max_pool1d: padding .*got padding \(2,\) for kernel_size \(3,\)", F.max_pool1d,
            T(randn(2, 3, 9)), 3, padding=2)
    # dilation can put a whole window in the padding (PyTorch returns -inf and a bad index)
    _raises(ValueError, r"max_pool2d: the window of output row 0 lies entirely in the padding",
            F.max_pool2d, T(randn(1, 1, 4, 4)), 2, 1, 1, dilation=5)
    _raises(ValueError, r"avg_pool2d: divisor_override must be non-zero", F.avg_pool2d, x, 2, divisor_override=0)
    _raises(ValueError, r"max_pool2d: input \(1, 2, 0, 3\) has an empty plane", F.max_pool2d, T(randn(1, 2, 0, 3)), 1)
    _raises(ValueError, r"max_pool2d: the dilated kernel size overflows int64", F.max_pool2d, T(randn(1, 1, 3, 3)), 3, 2 ** 62, 1,
            2 ** 62)
    # the params constructors are the one place of these rules: the bindings take their params
    _raises(ValueError, r"max_pool2d: padding must be non-negative and at most half", _C.pool2d_params,
            "max_pool2d", 2, (1, 1, 5, 5), (2, 2), (1, 1), (2, 0), (1, 1), False, True)


def test_bad_inputs():
    for op, good in ((F.max_pool2d, 4), (F.avg_pool2d, 4), (F.max_pool1d, 3), (F.avg_pool1d, 3)):
        name = op.__name__
        for nd in (good - 2, good + 1):
            _raises(ValueError, rf"{name}: input must be {good}-D .* got shape", op, T(randn(*(3,) * nd)), 2)
        _raises(TypeError, rf"{name}: expected a floating point tensor, got dtype int64", op,
                T(np.arange(3 ** good).reshape((3,) * good)), 2)
        _raises(TypeError, rf"{name}: input must be a Tensor", op, np.ones((3,) * good), 2)
    _raises(ValueError, r"adaptive_avg_pool2d: input must be 4-D", F.adaptive_avg_pool2d, T(randn(4, 4)), 2)
    _raises(ValueError, r"adaptive_max_pool1d: input must be 3-D", F.adaptive_max_pool1d, T(randn(1, 2, 4, 4)), 2)
    _raises(ValueError, r"adaptive_avg_pool2d: output_size must have 2 values", F.adaptive_avg_pool2d,
            T(randn(1, 2, 4, 4)), (1, 2, 3))
    _raises(ValueError, r"adaptive_max_pool2d: output_size must be non-negative", F.adaptive_max_pool2d,
            T(randn(1, 2, 4, 4)), (-1, 2))
    _raises(TypeError, r"adaptive_avg_pool2d: output_size must be an int, got 2.5", F.adaptive_avg_pool2d,
            T(randn(1, 2, 4, 4)), (2.5, 2))
    # the bindings adapt arrays: a dtype the kernels lack, and arrays that do not fit their params
    p = _C.pool2d_params("max_pool2d", 2, (1, 1, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, True)
    _raises(TypeError, r"max_pool2d: input must be float32 or float64, got dtype int32", _C.max_pool2d_forward,
            np.ones((1, 1, 4, 4), np.int32), p)
    _raises(ValueError, r"max_pool2d: input \(4, 4\) does not match the shape \(1, 1, 4, 4\)", _C.max_pool2d_forward,
            randn(4, 4), p)


def test_bad_unpool_indices(backend):
    T = backend.tensor
    x = T(randn(2, 3, 4, 4))
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    idn = backend.numpy(idx)
    _raises(TypeError, r"max_unpool2d: indices must be int64, got dtype float32 with shape \(2, 3, 2, 2\)",
            F.max_unpool2d, y, T(idn.astype("float32")), 2)
    _raises(ValueError, r"max_unpool2d: indices \(2, 3, 2, 1\) must have the shape of input \(2, 3, 2, 2\)",
            F.max_unpool2d, y, T(idn[..., :1]), 2)
    bad = idn.copy()
    bad[1, 2, 1, 0] = 16
    _raises(ValueError, r"max_unpool2d: found an invalid max index 16 .*16 elements, shape \(4, 4\)",
            F.max_unpool2d, y, T(bad), 2)
    bad[1, 2, 1, 0] = -1
    _raises(ValueError, r"max_unpool2d: found an invalid max index -1", F.max_unpool2d, y, T(bad), 2)
    # a valid index for a 5x5 output but not for the default 4x4
    bad[1, 2, 1, 0] = 20
    assert F.max_unpool2d(y, T(bad), 2, output_size=(5, 5)).shape == (2, 3, 5, 5)
    _raises(ValueError, r"max_unpool2d: found an invalid max index 20", F.max_unpool2d, y, T(bad), 2)
    # output_size: (H, W) or (N, C, H, W), strictly within stride of the default (4, 4)
    assert F.max_unpool2d(y, idx, 2, output_size=(2, 3, 5, 5)).shape == (2, 3, 5, 5)
    _raises(ValueError, r"max_unpool2d: invalid output_size \(6, 4\) \(dim 0 must be between 2 and 6",
            F.max_unpool2d, y, idx, 2, output_size=(6, 4))
    _raises(ValueError, r"max_unpool2d: output_size should be a sequence containing 2 or 4 elements",
            F.max_unpool2d, y, idx, 2, output_size=(3, 4, 4))
    _raises(ValueError, r"max_unpool1d: indices \(2, 3\) must have the shape of input \(2, 4\)",
            F.max_unpool1d, T(randn(2, 4)), T(np.zeros((2, 3), np.int64)), 2)
    _raises(ValueError, r"max_unpool1d: found an invalid max index 50",  # the 1-D op names itself
            F.max_unpool1d, T(randn(2, 3)), T(np.array([[0, 2, 50], [1, 3, 5]], np.int64)), 2)
    _raises(ValueError, r"max_unpool1d: invalid output_size \(9,\) \(dim 0 must be between 4 and 8.*input \(1, 2, 3\)",
            F.max_unpool1d, T(randn(2, 3)), T(np.array([[0, 2, 4], [1, 3, 5]], np.int64)), 2, output_size=(9,))


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
def test_bindings_check_every_index(reference):
    """The CPU module's kernels (fast and plain-loop) check the indices of every scatter and gather."""
    y, idx = F.max_pool2d(T(randn(2, 3, 4, 4)), 2, return_indices=True)
    yn, idn = y.detach().numpy(), idx.numpy()
    late = idn.copy()
    late[1, 2, 1, 1] = -5
    pool = _C.pool2d_params("max_pool2d", 2, (2, 3, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, True)
    unpool = _C.max_unpool2d_params("max_unpool2d", 2, (2, 3, 2, 2), (2, 2), (2, 2), (0, 0))
    kw = dict(reference=reference)
    _raises(ValueError, r"max_pool2d_backward: found an invalid max index 99 at flat position 0",
            _C.max_pool2d_backward, yn, np.where(idn == idn.flat[0], 99, idn), pool, **kw)
    _raises(ValueError, r"max_pool2d_backward: found an invalid max index -5 at flat position 23",
            _C.max_pool2d_backward, yn, late, pool, **kw)
    _raises(TypeError, r"max_pool2d_backward: indices must be int64", _C.max_pool2d_backward,
            yn, idn.astype(np.int32), pool, **kw)
    _raises(ValueError, r"max_unpool2d_backward: found an invalid max index 16", _C.max_unpool2d_backward,
            randn(2, 3, 4, 4), np.full((2, 3, 2, 2), 16, np.int64), unpool, **kw)
    _raises(ValueError, r"max_unpool2d_backward: found an invalid max index -5 at flat position 23",
            _C.max_unpool2d_backward, randn(2, 3, 4, 4), late, unpool, **kw)
    _raises(ValueError, r"max_unpool2d: found an invalid max index -5 at flat position 23",
            _C.max_unpool2d_forward, yn, late, unpool, **kw)
    _raises(ValueError, r"max_unpool2d: indices \(2, 3, 2, 1\) must have the shape", _C.max_unpool2d_forward,
            yn, idn[..., :1].copy(), unpool, **kw)


# ----------------------------------------------------------------------------- torch (optional)
TORCH_CONFIGS = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 9, 10)),
    ("max_pool2d", dict(kernel_size=(2, 3), stride=(3, 1), padding=(1, 0), dilation=(2, 2)), (1, 2, 11, 7)),
    ("max_pool1d", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True), (2, 3, 13)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 6, 8)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 6, 8)),
    ("avg_pool2d", dict(kernel_size=(3, 2), stride=(1, 3), divisor_override=4), (3, 7, 5)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 6)),
    ("adaptive_avg_pool2d", dict(output_size=(4, None)), (2, 3, 9, 7)),
    ("adaptive_avg_pool1d", dict(output_size=5), (2, 3, 13)),
    ("adaptive_max_pool2d", dict(output_size=(3, 5)), (2, 3, 10, 7)),
    ("adaptive_max_pool1d", dict(output_size=4), (3, 11)),
]


@pytest.mark.parametrize("op,kw,shape", TORCH_CONFIGS, ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CONFIGS)])
def test_matches_torch(op, kw, shape):
    torch = pytest.importorskip("torch")
    x = randn(*shape)
    if "max" in op:
        kw = dict(kw, return_indices=True)
    xt = torch.tensor(x, requires_grad=True)
    ours_x = T(x, requires_grad=True)
    ours, theirs = getattr(F, op)(ours_x, **kw), getattr(torch.nn.functional, op)(xt, **kw)
    if "max" in op:
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
        ours, theirs = ours[0], theirs[0]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = randn(*theirs.shape)
    ours.backward(T(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ours_x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_unpool_and_modules_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = randn(2, 3, 7, 9)
    ty, ti = tf.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    y, i = F.max_pool2d(T(x), 3, 2, 1, return_indices=True)
    for size in (None, (7, 9), (2, 3, 8, 8)):
        np.testing.assert_array_equal(F.max_unpool2d(y, i, 3, 2, 1, output_size=size).numpy(),
                                      tf.max_unpool2d(ty, ti, 3, 2, 1, output_size=size).numpy())
    x1 = randn(2, 3, 11)
    ty, ti = tf.max_pool1d(torch.tensor(x1), 3, 2, return_indices=True)
    y, i = F.max_pool1d(T(x1), 3, 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool1d(y, i, 3, 2, output_size=(11,)).numpy(),
                                  tf.max_unpool1d(ty, ti, 3, 2, output_size=(11,)).numpy())
    tnn = torch.nn
    for ours, theirs in [(nn.MaxPool2d(3, 2, 1, 2, True, True), tnn.MaxPool2d(3, 2, 1, 2, True, True)),
                         (nn.MaxPool1d((3,), None, 1), tnn.MaxPool1d((3,), None, 1)),
                         (nn.AvgPool1d(3, 2, 1, True, False), tnn.AvgPool1d(3, 2, 1, True, False)),
                         (nn.AvgPool2d((3, 2), None, (1, 0), divisor_override=2),
                          tnn.AvgPool2d((3, 2), None, (1, 0), divisor_override=2)),
                         (nn.AdaptiveAvgPool1d(3), tnn.AdaptiveAvgPool1d(3)),
                         (nn.AdaptiveAvgPool2d((None, 2)), tnn.AdaptiveAvgPool2d((None, 2))),
                         (nn.AdaptiveMaxPool1d(3, True), tnn.AdaptiveMaxPool1d(3, True)),
                         (nn.AdaptiveMaxPool2d(2), tnn.AdaptiveMaxPool2d(2)),
                         (nn.MaxUnpool1d(3, 2, 1), tnn.MaxUnpool1d(3, 2, 1)),
                         (nn.MaxUnpool2d((2, 3), 2), tnn.MaxUnpool2d((2, 3), 2))]:
        assert repr(ours) == repr(theirs)
