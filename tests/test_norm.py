"""Norm family: every native kernel (fused OpenMP and the plain-loop spec) forward and backward
against the numpy float64 reference on the shared awkward sizes, the Python ops and modules,
gradchecks, running statistics, state_dicts, equivalences, numerical stability, bad input."""
import math
import warnings

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C, nn
from cases import BATCH, CHANNELS, DTYPES, GEMM_SIZES, TOLERANCE
from helpers import cpu_simd_levels, gradcheck, simd
from reference import norm as ref

EPS = 1e-5
IMPLS = {"cpu": False, "ref": True}  # the native kernels' reference= flag
# spatial shapes from the shared table: 1, even, primes; 257 = pixel_norm's block + 1
SPATIAL_SHAPES = [(), (1,), (7,), (1, 1), (2, 5), (13, 11), (1, 257)]
SHAPES = [(n, c) + sp for n in BATCH for c in CHANNELS for sp in SPATIAL_SHAPES]
# (C, num_groups): one group, one channel per group, and groups of 2 and 3 channels
CHANNEL_GROUPS = [(1, 1), (3, 1), (3, 3), (5, 5), (5, 1), (6, 2), (6, 3)]

rng = np.random.default_rng(2024)


def rand(*shape, dtype="float64", loc=0.0, scale=1.0):
    """Normal data with a nonzero mean (never zeros)."""
    return (loc + scale * rng.standard_normal(shape)).astype(dtype)


def positive(*shape, dtype="float64"):
    return (0.5 + rng.random(shape)).astype(dtype)


def check(actual, expected, dtype, scale=1.0, what=""):
    """assert_allclose with the shared tolerance; atol grows with `scale`, the size of the
    terms that cancel (for dx: rstd * |dy|)."""
    rtol, atol = TOLERANCE[str(np.dtype(dtype))]
    actual = actual.detach().numpy() if isinstance(actual, pycnn.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * max(1.0, scale), err_msg=what)


def T(a, requires_grad=False):
    return pycnn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)


def spatial(shape):
    return math.prod(shape[2:])


@pytest.fixture(params=cpu_simd_levels())
def simd_level(request):
    """Runs the test with the fused kernels' loops at each SIMD level (norm_loops.h)."""
    with simd(request.param):
        yield request.param


# ============================================================================ native kernels
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_kernels(dtype, impl, simd_level):
    reference = IMPLS[impl]
    for shape in SHAPES:
        N, C = shape[:2]
        x, dy = rand(*shape, dtype=dtype, loc=0.5, scale=2.0), rand(*shape, dtype=dtype)
        w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
        rm0, rv0 = rand(C, dtype=dtype), positive(C, dtype=dtype)
        for affine in (True, False):
            wa, ba = (w, b) if affine else (None, None)
            what = f"shape {shape} affine={affine} {impl}"
            # eval: running statistics, untouched
            rm, rv = rm0.copy(), rv0.copy()
            y, mean, rstd = _C.batch_norm_forward(x, wa, ba, rm, rv, False, 0.1, EPS, reference)
            check(y, ref.batch_norm(x, wa, ba, EPS, False, rm0, rv0), dtype, what=what)
            assert np.array_equal(rm, rm0) and np.array_equal(rv, rv0)
            dx, dw, db = _C.batch_norm_backward(dy, x, mean, rstd, wa, False, reference)
            edx, edw, edb = ref.batch_norm_backward(dy, x, wa, EPS, False, rm0, rv0)
            for got, exp, name in ((dx, edx, "dx"), (dw, edw, "dweight"), (db, edb, "dbias")):
                check(got, exp, dtype, what=f"eval {name} {what}")
            if N * spatial(shape) == 1:
                continue
            # training: batch statistics; running stats updated with the unbiased variance
            y, mean, rstd = _C.batch_norm_forward(x, wa, ba, rm, rv, True, 0.1, EPS, reference)
            check(y, ref.batch_norm(x, wa, ba, EPS), dtype, what=what)
            bm, bv, bvu = ref.batch_stats(x)
            check(mean, bm, dtype, what=f"save_mean {what}")
            check(rstd, 1 / np.sqrt(bv + EPS), dtype, what=f"save_rstd {what}")
            check(rm, 0.9 * rm0 + 0.1 * bm, dtype, what=f"running_mean {what}")
            check(rv, 0.9 * rv0 + 0.1 * bvu, dtype, what=f"running_var {what}")
            dx, dw, db = _C.batch_norm_backward(dy, x, mean, rstd, wa, True, reference)
            edx, edw, edb = ref.batch_norm_backward(dy, x, wa, EPS)
            scale = float(np.max(rstd) * np.max(np.abs(dy)))
            check(dx, edx, dtype, scale, what=f"dx {what}")
            check(dw, edw, dtype, what=f"dweight {what}")
            check(db, edb, dtype, what=f"dbias {what}")


def group_cases():
    for n in BATCH:
        for c, g in CHANNEL_GROUPS:
            for sp in SPATIAL_SHAPES:
                yield (n, c) + sp, g
    for m in BATCH:  # LayerNorm's view (M, D), one group: D around SIMD widths
        for d in GEMM_SIZES:
            yield (m, d), 1


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_group_norm_kernels(dtype, impl, simd_level):
    reference = IMPLS[impl]
    for shape, G in group_cases():
        C = shape[1]
        x, dy = rand(*shape, dtype=dtype, loc=-0.7, scale=3.0), rand(*shape, dtype=dtype)
        w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
        for wa, ba in ((w, b), (None, None)):
            what = f"shape {shape} groups {G} affine={wa is not None} {impl}"
            y, mean, rstd = _C.group_norm_forward(x, G, wa, ba, EPS, reference)
            check(y, ref.group_norm(x, G, wa, ba, EPS), dtype, what=what)
            xg = x.astype(np.float64).reshape(shape[0], G, -1)
            check(mean, xg.mean(axis=2), dtype, what=f"save_mean {what}")
            check(rstd, 1 / np.sqrt(xg.var(axis=2) + EPS), dtype, what=f"save_rstd {what}")
            dx, dw, db = _C.group_norm_backward(dy, x, mean, rstd, wa, G, reference)
            edx, edw, edb = ref.group_norm_backward(dy, x, G, wa, EPS)
            scale = float(np.max(rstd) * np.max(np.abs(dy)) * (1 if wa is None else np.max(np.abs(w))))
            check(dx, edx, dtype, scale, what=f"dx {what}")
            check(dw, edw, dtype, what=f"dweight {what}")
            check(db, edb, dtype, what=f"dbias {what}")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pixel_norm_kernels(dtype, impl):
    reference = IMPLS[impl]
    for shape in SHAPES:
        x, dy = rand(*shape, dtype=dtype, loc=0.3), rand(*shape, dtype=dtype)
        what = f"shape {shape} {impl}"
        y, rstd = _C.pixel_norm_forward(x, 1e-8, reference)
        check(y, ref.pixel_norm(x), dtype, what=what)
        x64 = x.astype(np.float64)
        check(rstd, 1 / np.sqrt((x64 ** 2).mean(axis=1) + 1e-8).reshape(shape[0], -1), dtype, what=what)
        dx = _C.pixel_norm_backward(dy, x, rstd, reference)
        check(dx, ref.pixel_norm_backward(dy, x), dtype, float(np.max(rstd) * np.max(np.abs(dy))),
              what=f"dx {what}")


# Above the kernels' serial threshold (2^15 elements), prime sizes: the OpenMP paths,
# including group_norm_backward's per-thread dweight/dbias partials, with 1 to 3 threads;
# (9, 4099) with one group is LayerNorm over rows long enough to split columns across threads;
# (4, 3, 67, 71) has BatchNorm channels large enough to be swept sample-major.
BIG_CASES = [((3, 5, 47, 53), 5), ((1031, 33), 3), ((257, 129), 1), ((2, 6, 61, 59), 2),
             ((9, 4099), 1), ((4, 3, 67, 71), 3)]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_multithreaded(dtype, threads, simd_level):
    saved = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        for shape, G in BIG_CASES:
            C = shape[1]
            x, dy = rand(*shape, dtype=dtype, loc=1.0, scale=2.0), rand(*shape, dtype=dtype)
            w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
            rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
            y, mean, rstd = _C.batch_norm_forward(x, w, b, rm, rv, True, 0.1, EPS)
            check(y, ref.batch_norm(x, w, b), dtype, what=f"batch_norm {shape}")
            check(rv, 0.9 + 0.1 * ref.batch_stats(x)[2], dtype, what=f"running_var {shape}")
            for got, exp in zip(_C.batch_norm_backward(dy, x, mean, rstd, w, True),
                                ref.batch_norm_backward(dy, x, w)):
                check(got, exp, dtype, 10.0, what=f"batch_norm backward {shape}")
            y, mean, rstd = _C.group_norm_forward(x, G, w, b, EPS)
            check(y, ref.group_norm(x, G, w, b), dtype, what=f"group_norm {shape}")
            for got, exp in zip(_C.group_norm_backward(dy, x, mean, rstd, w, G),
                                ref.group_norm_backward(dy, x, G, w)):
                check(got, exp, dtype, 10.0, what=f"group_norm backward {shape}")
            y, rstd = _C.pixel_norm_forward(x, 1e-8)
            check(y, ref.pixel_norm(x), dtype, what=f"pixel_norm {shape}")
            check(_C.pixel_norm_backward(dy, x, rstd), ref.pixel_norm_backward(dy, x), dtype, 10.0)
    finally:
        pycnn.set_num_threads(saved)


@pytest.mark.parametrize("shape,G", [((9, 4099), 1), ((1031, 33), 3), ((3, 5, 47, 53), 5)])
def test_kernels_deterministic(shape, G, simd_level):
    """Same inputs, same thread count and level: bitwise the same results (fixed reduction
    order, thread partials added in thread order)."""
    saved = pycnn.get_num_threads()
    pycnn.set_num_threads(2)
    try:
        C = shape[1]
        x, dy = rand(*shape, dtype="float32", loc=1.0), rand(*shape, dtype="float32")
        w, b = rand(C, dtype="float32", loc=1.0), rand(C, dtype="float32")
        runs = []
        for _ in range(2):
            y, mean, rstd = _C.group_norm_forward(x, G, w, b, EPS)
            rm, rv = np.zeros(C, "float32"), np.ones(C, "float32")
            _, bmean, brstd = _C.batch_norm_forward(x, w, b, rm, rv, True, 0.1, EPS)
            runs.append([np.asarray(a) for a in (y, mean, rstd, bmean, brstd,
                                                 *_C.group_norm_backward(dy, x, mean, rstd, w, G),
                                                 *_C.batch_norm_backward(dy, x, bmean, brstd, w, True))])
        for a, b2 in zip(*runs):
            np.testing.assert_array_equal(a, b2)
    finally:
        pycnn.set_num_threads(saved)


# ============================================================================ Python ops
def _grads(*tensors):
    return [None if t is None else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (3, 5, 7), (2, 3, 5, 7), (1, 1, 2, 5)])
def test_batch_norm_op(dtype, shape):
    C = shape[1]
    x, dy = rand(*shape, dtype=dtype, loc=1.0), rand(*shape, dtype=dtype)
    w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
    rm, rv = T(rand(C, dtype=dtype)), T(positive(C, dtype=dtype))
    rm0, rv0 = rm.numpy().copy(), rv.numpy().copy()
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    y = F.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=0.2)
    check(y, ref.batch_norm(x, w, b), dtype)
    bm, _, bvu = ref.batch_stats(x)
    check(rm, 0.8 * rm0 + 0.2 * bm, dtype, what="running_mean updated in place")
    check(rv, 0.8 * rv0 + 0.2 * bvu, dtype, what="running_var updated in place")
    y.backward(T(dy))
    for got, exp in zip(_grads(xt, wt, bt), ref.batch_norm_backward(dy, x, w)):
        check(got, exp, dtype, 10.0)
    # eval mode with the updated running stats
    rme, rve = rm.numpy().copy(), rv.numpy().copy()
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    y = F.batch_norm(xt, rm, rv, wt, bt)
    check(y, ref.batch_norm(x, w, b, EPS, False, rme, rve), dtype)
    y.backward(T(dy))
    for got, exp in zip(_grads(xt, wt, bt), ref.batch_norm_backward(dy, x, w, EPS, False, rme, rve)):
        check(got, exp, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 7), (3, 2, 5, 4), (1, 5, 1, 2)])
def test_instance_norm_op(dtype, shape):
    C = shape[1]
    x, dy = rand(*shape, dtype=dtype, loc=-2.0), rand(*shape, dtype=dtype)
    w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    y = F.instance_norm(xt, weight=wt, bias=bt)
    check(y, ref.instance_norm(x, w, b), dtype)
    y.backward(T(dy))
    for got, exp in zip(_grads(xt, wt, bt), ref.instance_norm_backward(dy, x, w)):
        check(got, exp, dtype, 10.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((3, 4, 3, 5), 2), ((2, 5), 5), ((1, 6, 2, 3), 1)])
def test_group_norm_op(dtype, shape, groups):
    C = shape[1]
    x, dy = rand(*shape, dtype=dtype, loc=3.0), rand(*shape, dtype=dtype)
    w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    y = F.group_norm(xt, groups, wt, bt)
    check(y, ref.group_norm(x, groups, w, b), dtype)
    y.backward(T(dy))
    for got, exp in zip(_grads(xt, wt, bt), ref.group_norm_backward(dy, x, groups, w)):
        check(got, exp, dtype, 10.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", [((4, 17), (17,)), ((2, 3, 5, 7), (5, 7)), ((3, 4, 5), (3, 4, 5)), ((3, 1), (1,))])
def test_layer_norm_op(dtype, shape, ns):
    x, dy = rand(*shape, dtype=dtype, loc=-1.0), rand(*shape, dtype=dtype)
    w, b = rand(*ns, dtype=dtype, loc=1.0), rand(*ns, dtype=dtype)
    xt, wt, bt = T(x, True), T(w, True), T(b, True)
    y = F.layer_norm(xt, ns, wt, bt)
    check(y, ref.layer_norm(x, ns, w, b), dtype)
    y.backward(T(dy))
    for got, exp in zip(_grads(xt, wt, bt), ref.layer_norm_backward(dy, x, ns, w)):
        check(got, exp, dtype, 1 / math.sqrt(EPS))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 5, 3), (1, 7, 13)])
def test_pixel_norm_op(dtype, shape):
    x, dy = rand(*shape, dtype=dtype), rand(*shape, dtype=dtype)
    xt = T(x, True)
    y = F.pixel_norm(xt)
    check(y, ref.pixel_norm(x), dtype)
    y.backward(T(dy))
    check(xt.grad, ref.pixel_norm_backward(dy, x), dtype, 10.0)


# ============================================================================ gradchecks (float64)
def test_gradcheck_batch_norm():
    x, w, b = rand(3, 2, 2, 3, loc=0.5), rand(2, loc=1.0), rand(2)
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    rm, rv = pycnn.tensor(rand(2)), pycnn.tensor(positive(2))
    gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    gradcheck(lambda x, w, b: nn.BatchNorm1d(4).double()(x) * w + b, rand(5, 4), rand(4), rand(4))


def test_gradcheck_instance_norm():
    x, w, b = rand(2, 3, 5, loc=-1.0), rand(3, loc=1.0), rand(3)
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)


def test_gradcheck_group_norm():
    x, w, b = rand(2, 4, 3, 2, loc=2.0), rand(4, loc=1.0), rand(4)
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), x, w, b)


def test_gradcheck_layer_norm():
    x, w, b = rand(3, 2, 5, loc=1.0), rand(2, 5, loc=1.0), rand(2, 5)
    gradcheck(lambda x, w, b: F.layer_norm(x, (2, 5), w, b), x, w, b)


def test_gradcheck_pixel_norm():
    gradcheck(lambda x: F.pixel_norm(x), rand(2, 3, 2, 3))


# ============================================================================ running statistics
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.35, None])
@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm2d, (4, 3, 5, 6)), (nn.BatchNorm1d, (8, 3)),
                                       (nn.BatchNorm1d, (4, 3, 7))])
def test_batchnorm_running_stats_trajectory(cls, shape, momentum, dtype):
    C = shape[1]
    m = cls(C, momentum=momentum).to(dtype)
    w, b = rand(C, dtype=dtype, loc=1.0), rand(C, dtype=dtype)
    m.load_state_dict({**m.state_dict(), "weight": w, "bias": b})
    rm, rv = np.zeros(C), np.ones(C)
    batch_means = []
    for step in range(1, 6):
        x = rand(*shape, dtype=dtype, loc=step - 2.0, scale=0.5 * step)
        y = m(T(x))
        check(y, ref.batch_norm(x, w, b), dtype, what=f"step {step}")
        mean, _, unbiased = ref.batch_stats(x)
        batch_means.append(mean)
        f = 1.0 / step if momentum is None else momentum
        rm, rv = (1 - f) * rm + f * mean, (1 - f) * rv + f * unbiased
        check(m.running_mean, rm, dtype, what=f"running_mean step {step}")
        check(m.running_var, rv, dtype, what=f"running_var step {step}")
        assert m.num_batches_tracked.item() == step and m.num_batches_tracked.dtype == np.int64
    if momentum is None:  # the cumulative average is the plain mean of the batch means
        check(m.running_mean, np.mean(batch_means, axis=0), dtype)
    m.eval()
    x = rand(*shape, dtype=dtype, loc=1.0)
    check(m(T(x)), ref.batch_norm(x, w, b, EPS, False, rm, rv), dtype, what="eval")
    assert m.num_batches_tracked.item() == 5
    check(m.running_mean, rm, dtype, what="eval leaves running stats alone")


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    m = nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    assert m.running_mean is None and m.running_var is None and m.num_batches_tracked is None
    x = rand(4, 3, 2, 5, loc=2.0)
    check(m(T(x)), ref.batch_norm(x), "float64")


def test_instancenorm_running_stats_trajectory():
    m = nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True).double()
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rand(2, 3, 4, 5, loc=step, scale=step + 1.0)
        check(m(T(x)), ref.instance_norm(x), "float64")
        x2 = x.reshape(2, 3, -1)
        rm = 0.8 * rm + 0.2 * x2.mean(axis=2).mean(axis=0)
        rv = 0.8 * rv + 0.2 * x2.var(axis=2, ddof=1).mean(axis=0)
        check(m.running_mean, rm, "float64")
        check(m.running_var, rv, "float64")
    m.eval()
    x = rand(2, 3, 4, 5)
    expected = (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + EPS)
    check(m(T(x)), expected, "float64")


def test_instancenorm_unbatched_input():
    m = nn.InstanceNorm1d(3).double()
    x = rand(3, 7)
    check(m(T(x)), ref.instance_norm(x[None])[0], "float64")


# ============================================================================ state_dict
def _layout(module):
    return {k: (tuple(v.shape), str(v.dtype)) for k, v in module.state_dict().items()}


STATE_DICT_CASES = [
    ("BatchNorm2d", (4,), {}, {"weight": ((4,), "float32"), "bias": ((4,), "float32"),
                               "running_mean": ((4,), "float32"), "running_var": ((4,), "float32"),
                               "num_batches_tracked": ((), "int64")}),
    ("BatchNorm1d", (4,), {"affine": False}, {"running_mean": ((4,), "float32"), "running_var": ((4,), "float32"),
                                              "num_batches_tracked": ((), "int64")}),
    ("BatchNorm2d", (4,), {"track_running_stats": False}, {"weight": ((4,), "float32"), "bias": ((4,), "float32")}),
    ("InstanceNorm2d", (4,), {}, {}),
    ("InstanceNorm1d", (4,), {"affine": True, "track_running_stats": True},
     {"weight": ((4,), "float32"), "bias": ((4,), "float32"), "running_mean": ((4,), "float32"),
      "running_var": ((4,), "float32"), "num_batches_tracked": ((), "int64")}),
    ("GroupNorm", (2, 6), {}, {"weight": ((6,), "float32"), "bias": ((6,), "float32")}),
    ("GroupNorm", (2, 6), {"affine": False}, {}),
    ("LayerNorm", ((3, 4),), {}, {"weight": ((3, 4), "float32"), "bias": ((3, 4), "float32")}),
    ("LayerNorm", (5,), {"bias": False}, {"weight": ((5,), "float32")}),
    ("LayerNorm", (5,), {"elementwise_affine": False}, {}),
]


@pytest.mark.parametrize("name,args,kwargs,expected", STATE_DICT_CASES)
def test_state_dict_layout(name, args, kwargs, expected):
    m = getattr(nn, name)(*args, **kwargs)
    assert _layout(m) == expected
    assert list(m.state_dict()) == list(expected)  # parameters first, then buffers, in torch's order
    m.load_state_dict(m.state_dict())
    assert _layout(nn.PixelNorm()) == {}


def test_default_init_and_repr():
    m = nn.BatchNorm2d(3)
    assert np.array_equal(m.weight.detach().numpy(), np.ones(3)) and np.array_equal(m.bias.detach().numpy(), np.zeros(3))
    assert np.array_equal(m.running_var.numpy(), np.ones(3)) and m.num_batches_tracked.item() == 0
    assert repr(m) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.PixelNorm()) == "PixelNorm(eps=1e-08)"


# ============================================================================ equivalences
def test_group_norm_one_group_is_layer_norm_over_chw():
    x, dy = rand(3, 4, 5, 2, loc=1.5), rand(3, 4, 5, 2)
    a, b = T(x, True), T(x, True)
    ya = nn.GroupNorm(1, 4, affine=False).double()(a)
    yb = nn.LayerNorm((4, 5, 2), elementwise_affine=False).double()(b)
    check(ya, yb.detach().numpy(), "float64")
    ya.backward(T(dy))
    yb.backward(T(dy))
    check(a.grad, b.grad.numpy(), "float64")


def test_group_norm_c_groups_is_instance_norm_with_affine():
    x, dy = rand(2, 3, 4, 5, loc=-1.0), rand(2, 3, 4, 5)
    w, b = rand(3, loc=1.0), rand(3)
    gn, inn = nn.GroupNorm(3, 3).double(), nn.InstanceNorm2d(3, affine=True).double()
    for m in (gn, inn):
        m.load_state_dict({"weight": w, "bias": b})
    a, c = T(x, True), T(x, True)
    ya, yc = gn(a), inn(c)
    check(ya, yc.detach().numpy(), "float64")
    ya.backward(T(dy))
    yc.backward(T(dy))
    check(a.grad, c.grad.numpy(), "float64")
    check(gn.weight.grad, inn.weight.grad.numpy(), "float64")
    check(gn.bias.grad, inn.bias.grad.numpy(), "float64")


@pytest.mark.parametrize("make", [lambda: nn.LayerNorm((3, 4, 5)), lambda: nn.InstanceNorm2d(3),
                                  lambda: nn.GroupNorm(3, 3), lambda: nn.PixelNorm()])
def test_per_sample_layers_do_not_depend_on_the_batch(make):
    m = make().double()
    x = rand(5, 3, 4, 5, loc=0.5)
    full = m(T(x)).detach().numpy()
    for i in range(5):
        check(m(T(x[i:i + 1])), full[i:i + 1], "float64", what=f"sample {i}")


def test_batch_norm_depends_on_the_batch():
    m = nn.BatchNorm2d(3).double()
    x = rand(5, 3, 4, 5, loc=0.5)
    full = m(T(x)).detach().numpy()
    part = m(T(x[:2])).detach().numpy()
    assert np.max(np.abs(full[:2] - part)) > 1e-2


# ============================================================================ numerical stability
STABILITY_CASES = {  # op on a Tensor, and the axes its numpy naive version reduces over
    "batch_norm": (lambda t: F.batch_norm(t, None, None, training=True), (0, 2, 3)),
    "instance_norm": (lambda t: F.instance_norm(t), (2, 3)),
    "group_norm": (lambda t: F.group_norm(t, 4), None),
    "layer_norm": (lambda t: F.layer_norm(t, (8, 16, 16)), (1, 2, 3)),
}


@pytest.mark.parametrize("op", STABILITY_CASES)
def test_float32_large_mean_small_spread(op, simd_level):
    fn, axes = STABILITY_CASES[op]
    x32 = (1e4 + rng.standard_normal((4, 8, 16, 16))).astype(np.float32)
    x64 = x32.astype(np.float64)  # exactly the values the kernel sees
    dy = rand(*x32.shape, dtype="float32")
    xt = T(x32, True)
    y = fn(xt)
    y.backward(T(dy))
    # the float64 reference: the same op on the same values in double
    xt64 = T(x64, True)
    y64 = fn(xt64)
    y64.backward(T(dy.astype(np.float64)))
    expected = y64.detach().numpy()
    err = np.max(np.abs(y.detach().numpy() - expected))
    assert err < 1e-5, f"{op}: float32 error {err} vs the float64 result"
    check(xt.grad, xt64.grad.numpy(), "float32", 10.0, what=f"{op} dx")
    # the naive single-pass E[x^2] - E[x]^2 in float32 loses everything at this mean
    xg = x32.reshape(4, 4, -1) if axes is None else x32
    ax = (2,) if axes is None else axes
    m = xg.mean(axis=ax, keepdims=True, dtype=np.float32)
    var = (xg * xg).mean(axis=ax, keepdims=True, dtype=np.float32) - m * m
    naive = ((xg - m) / np.sqrt(np.maximum(var, 0) + np.float32(EPS))).reshape(x32.shape)
    naive_err = np.max(np.abs(naive - expected))
    assert naive_err > 0.1 and naive_err > 1000 * err, (op, naive_err, err)


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm"])
def test_float32_first_element_outlier(op, simd_level):
    """The kernels shift by each set's first element; make it as far out as a set allows
    (|x0 - mean| <= sqrt(n) std) on a large mean: values and grads still match float64."""
    x32 = (1e4 + rng.standard_normal((4, 4, 32, 32))).astype(np.float32)
    x32[:, :, 0, 0] += 25.0 if op == "batch_norm" else 50.0  # the first of each channel / row
    if op == "batch_norm":
        x32[1:, :, 0, 0] -= 25.0  # only sample 0 leads a channel
        fn = lambda t: F.batch_norm(t, None, None, training=True)  # noqa: E731
    else:
        fn = lambda t: F.layer_norm(t, (4, 32, 32))  # noqa: E731
    dy = rand(*x32.shape, dtype="float32")
    xt, xt64 = T(x32, True), T(x32.astype(np.float64), True)
    y, y64 = fn(xt), fn(xt64)
    y.backward(T(dy))
    y64.backward(T(dy.astype(np.float64)))
    check(y, y64.detach().numpy(), "float32", what=f"{op} y")
    check(xt.grad, xt64.grad.numpy(), "float32", 10.0, what=f"{op} dx")


def test_pixel_norm_float32_large_values():
    x32 = (1e4 + rng.standard_normal((2, 16, 5, 5))).astype(np.float32)
    y = F.pixel_norm(T(x32))
    check(y, ref.pixel_norm(x32.astype(np.float64)), "float32")


# ============================================================================ bad input
def _raises(exc, op, fn):
    with pytest.raises(exc) as info:
        fn()
    assert op in str(info.value), f"message does not name {op}: {info.value}"
    return str(info.value)


def test_bad_channel_counts():
    x = pycnn.randn(2, 3, 4, 4)
    c4 = pycnn.zeros(4)
    msg = _raises(ValueError, "batch_norm", lambda: F.batch_norm(x, c4, pycnn.ones(4), training=True))
    assert "running_mean" in msg and "(4,)" in msg
    assert "weight" in _raises(ValueError, "batch_norm", lambda: F.batch_norm(x, None, None, c4, training=True))
    assert "bias" in _raises(ValueError, "batch_norm",
                             lambda: F.batch_norm(x, None, None, pycnn.ones(3), c4, training=True))
    _raises(ValueError, "batch_norm", lambda: nn.BatchNorm2d(4)(x))
    assert "weight" in _raises(ValueError, "instance_norm", lambda: F.instance_norm(x, weight=c4))
    assert "running_var" in _raises(ValueError, "instance_norm",
                                    lambda: F.instance_norm(x, pycnn.zeros(3), c4))
    _raises(ValueError, "InstanceNorm2d", lambda: nn.InstanceNorm2d(4, affine=True)(x))
    assert "weight" in _raises(ValueError, "group_norm", lambda: F.group_norm(x, 3, c4))
    assert "bias" in _raises(ValueError, "group_norm", lambda: F.group_norm(x, 3, None, c4))
    assert "weight" in _raises(ValueError, "layer_norm", lambda: F.layer_norm(x, (4, 4), pycnn.ones(4, 3)))
    # the native boundary checks too
    xa = x.numpy()
    _raises(ValueError, "batch_norm", lambda: _C.batch_norm_forward(xa, c4.numpy(), None, None, None, True, 0.1, EPS))
    _raises(ValueError, "group_norm", lambda: _C.group_norm_forward(xa, 1, None, c4.numpy(), EPS))


def test_bad_num_groups():
    x = pycnn.randn(2, 6, 3)
    assert "num_groups" in _raises(ValueError, "group_norm", lambda: F.group_norm(x, 4))
    _raises(ValueError, "group_norm", lambda: F.group_norm(x, 0))
    _raises(ValueError, "GroupNorm", lambda: nn.GroupNorm(4, 6))
    _raises(ValueError, "group_norm", lambda: _C.group_norm_forward(x.numpy(), 4, None, None, EPS))


def test_bad_normalized_shape():
    x = pycnn.randn(2, 3, 4)
    assert "normalized_shape" in _raises(ValueError, "layer_norm", lambda: F.layer_norm(x, (3,)))
    _raises(ValueError, "layer_norm", lambda: F.layer_norm(x, (2, 2, 3, 4)))
    _raises(ValueError, "layer_norm", lambda: F.layer_norm(x, ()))
    _raises(ValueError, "layer_norm", lambda: nn.LayerNorm(5)(x))


def test_batch_norm_training_with_one_value_per_channel():
    for fn in (lambda: F.batch_norm(pycnn.randn(1, 3), None, None, training=True),
               lambda: nn.BatchNorm1d(3)(pycnn.randn(1, 3)),
               lambda: nn.BatchNorm2d(3)(pycnn.randn(1, 3, 1, 1))):
        assert "more than 1 value per channel" in _raises(ValueError, "batch_norm", fn)
    nn.BatchNorm1d(3).eval()(pycnn.randn(1, 3))  # eval mode is fine
    _raises(ValueError, "instance_norm", lambda: F.instance_norm(pycnn.randn(2, 3, 1)))


def test_wrong_ndim():
    assert "4D" in _raises(ValueError, "BatchNorm2d", lambda: nn.BatchNorm2d(3)(pycnn.randn(2, 3, 4)))
    _raises(ValueError, "BatchNorm1d", lambda: nn.BatchNorm1d(3)(pycnn.randn(2, 3, 4, 4)))
    _raises(ValueError, "BatchNorm1d", lambda: nn.BatchNorm1d(3)(pycnn.randn(3)))
    _raises(ValueError, "InstanceNorm2d", lambda: nn.InstanceNorm2d(3)(pycnn.randn(2, 3)))
    _raises(ValueError, "InstanceNorm1d", lambda: nn.InstanceNorm1d(3)(pycnn.randn(2, 3, 4, 4)))
    _raises(ValueError, "batch_norm", lambda: F.batch_norm(pycnn.randn(3), None, None, training=True))
    _raises(ValueError, "group_norm", lambda: F.group_norm(pycnn.randn(6), 2))
    _raises(ValueError, "pixel_norm", lambda: F.pixel_norm(pycnn.randn(6)))
    _raises(ValueError, "pixel_norm", lambda: _C.pixel_norm_forward(np.ones(6, np.float32), 1e-8))


def test_bad_dtypes_and_missing_running_stats():
    x = pycnn.randn(2, 3, 4)
    _raises(TypeError, "group_norm", lambda: F.group_norm(pycnn.ones(2, 3, 4, dtype="int64"), 3))
    _raises(TypeError, "layer_norm", lambda: F.layer_norm(pycnn.ones(2, 4, dtype="int64"), 4))
    _raises(TypeError, "batch_norm", lambda: F.batch_norm(x, pycnn.zeros(3, dtype="float64"),
                                                          pycnn.ones(3, dtype="float64"), training=True))
    _raises(TypeError, "batch_norm", lambda: F.batch_norm(x, None, None, training=True, momentum=None))
    _raises(TypeError, "pixel_norm", lambda: _C.pixel_norm_forward(np.ones((2, 3), np.int64), 1e-8))
    _raises(TypeError, "batch_norm", lambda: _C.batch_norm_forward(
        x.numpy(), None, None, np.zeros(3), np.ones(3), True, 0.1, EPS))
    assert "running_mean" in _raises(ValueError, "batch_norm", lambda: F.batch_norm(x, None, None))
    _raises(ValueError, "batch_norm", lambda: _C.batch_norm_forward(x.numpy(), None, None, None, None, False, 0.1, EPS))
    _raises(ValueError, "batch_norm", lambda: _C.batch_norm_forward(
        x.numpy(), None, None, np.zeros(6, np.float32)[::2], np.ones(3, np.float32), True, 0.1, EPS))


def test_instancenorm_feature_mismatch_without_affine_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(4)(pycnn.randn(2, 3, 5))
    assert any("InstanceNorm1d" in str(x.message) for x in w)


# ============================================================================ PyTorch (optional)
def _torch_pair(name, args, kwargs):
    torch = pytest.importorskip("torch")
    return getattr(torch.nn, name)(*args, **kwargs).double(), getattr(nn, name)(*args, **kwargs).double()


@pytest.mark.parametrize("name,args,kwargs,expected", STATE_DICT_CASES)
def test_state_dict_matches_torch(name, args, kwargs, expected):
    tm, m = _torch_pair(name, args, kwargs)
    theirs = {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in tm.state_dict().items()}
    assert list(m.state_dict()) == list(tm.state_dict())
    assert _layout(m) == theirs


TORCH_MODULES = [
    ("BatchNorm2d", (3,), {}, (4, 3, 5, 6)),
    ("BatchNorm1d", (3,), {"momentum": None}, (6, 3)),
    ("BatchNorm1d", (3,), {}, (4, 3, 7)),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, (2, 3, 4, 5)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5, 2)),
    ("LayerNorm", ((5, 2),), {}, (3, 4, 5, 2)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", TORCH_MODULES)
def test_modules_match_torch(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    tm, m = _torch_pair(name, args, kwargs)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64))
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    for step in range(3):
        x, dy = rand(*shape, loc=step), rand(*shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = tm(tx)
        ty.backward(torch.tensor(dy))
        xt = T(x, True)
        y = m(xt)
        y.backward(T(dy))
        check(y, ty.detach().numpy(), "float64", what=f"{name} step {step}")
        check(xt.grad, tx.grad.numpy(), "float64", 10.0)
        for (k, p), tp in zip(m.named_parameters(), tm.parameters()):
            check(p.grad, tp.grad.numpy(), "float64", what=f"{name}.{k}.grad")
            p.grad, tp.grad = None, None
        for k, v in tm.state_dict().items():
            check(m.state_dict()[k], v.numpy(), "float64", what=f"{name} buffer {k} step {step}")
    tm.eval()
    m.eval()
    x = rand(*shape)
    check(m(T(x)), tm(torch.tensor(x)).detach().numpy(), "float64", what=f"{name} eval")
