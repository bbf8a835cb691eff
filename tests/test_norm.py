"""Norm family: every op on every backend (the ``backend`` fixture: the CPU kernels, the
plain-loop spec, and the CUDA device when present) through pycnn.functional, forward, running
statistics and backward (dx, dweight, dbias), against the numpy float64 reference on the family's
case table (cases/norm.py); the CPU kernels again at every SIMD level, on 1 and 3 threads, and
bitwise deterministic; the modules, gradchecks, running statistics, state_dicts, equivalences,
numerical stability, bad input (the params' messages), the bindings' own checks, and (when torch
is importable) PyTorch itself."""
import itertools
import math
import warnings
import zlib

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C, nn
from backends import BACKENDS
from cases import DTYPES
from cases.norm import (BATCH_NORM_CASES, CHANNEL_REUSE_BYTES, COLUMN_SPLIT_MIN, COLUMN_TILE, FOLD_ROWS, GROUP_NORM_CASES,
                        INSTANCE_NORM_CASES, LANE_FOLD, LAYER_NORM_CASES, PARALLEL_MIN, PIXEL_BLOCK,
                        PIXEL_NORM_CASES, SET_BLOCK, SHORT_RUN_BYTES, batch_norm_path, group_id, group_norm_path, layer_id,
                        layer_norm_view, numel, pixel_norm_path, shape_id, spatial)
from helpers import check, cpu_simd_levels, gradcheck, num_threads, randn, simd
from reference import norm as ref

EPS = 1e-5
CPU = next(b for b in BACKENDS if b.name == "cpu")
SIMD_LEVELS = cpu_simd_levels()

rng = np.random.default_rng(2024)  # the tests outside the case table


def case_rng(*key):
    """A generator of its own for each case, so that a case's data does not depend on which
    tests ran before it."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rand(shape, dtype="float64", loc=0.0, scale=1.0, gen=None):
    """Normal data with a nonzero mean (never zeros)."""
    return (loc + scale * (gen or rng).standard_normal(shape)).astype(dtype)


def positive(shape, dtype="float64", gen=None):
    return (0.5 + (gen or rng).random(shape)).astype(dtype)


def T(a, requires_grad=False):
    """A CPU tensor holding a copy of `a` (its dtype kept)."""
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)


def set_rstd(x, axes, eps=EPS):
    """1/sqrt(biased var + eps) of each set of x (normalized over `axes`), broadcast against x."""
    x = np.asarray(x, np.float64)
    return 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def _variants(shape):
    """(label, weight?, bias?): affine, weight without bias, and none (the last two only below
    the OpenMP threshold: they take no path of their own on a team)."""
    out = [("affine", True, True), ("no affine", False, False)]
    return out + [("weight only", True, False)] if numel(shape) < PARALLEL_MIN else out


class Step:
    """One call of an op on x (with weight, bias and running statistics given as arrays or
    None) and what it must give: y, the running statistics after it, and (dx, dweight, dbias)
    of the loss sum(y * dy); dx_scale and param_scale are check()'s scales of the gradients."""

    def __init__(self, what, call, w, b, y, grads, dx_scale, param_scale, stats=(), stats_after=None,
                 exact_stats=True):
        self.what, self.call, self.w, self.b, self.y, self.grads = what, call, w, b, y, grads
        self.dx_scale, self.param_scale = dx_scale, param_scale
        self.stats, self.stats_after, self.exact_stats = stats, stats_after, exact_stats


class Expected:
    """A case's data and its steps, computed once by the float64 reference: run() checks a
    backend against it (the CPU tests run it at every SIMD level and thread count)."""

    def __init__(self, x, dy, steps):
        self.x, self.dy, self.steps = x, dy, steps

    def run(self, B, dtype):
        for s in self.steps:
            xt = B.tensor(self.x, requires_grad=True)
            wt, bt = (None if a is None else B.tensor(a, requires_grad=True) for a in (s.w, s.b))
            stats = [None if a is None else B.tensor(a) for a in s.stats]
            y = s.call(xt, wt, bt, *stats)
            check(y, s.y, dtype, what=f"y {s.what}")
            after = s.stats if s.stats_after is None else s.stats_after
            for name, t, a0, a in zip(("running_mean", "running_var"), stats, s.stats, after):
                if t is None:
                    continue
                if s.stats_after is None and s.exact_stats:  # left as they were
                    np.testing.assert_array_equal(B.numpy(t), a0, err_msg=f"{name} changed: {s.what}")
                else:
                    check(t, a, dtype, what=f"{name} {s.what}")
            y.backward(B.tensor(self.dy))
            for name, t, e, scale in zip(("dx", "dweight", "dbias"), (xt, wt, bt), s.grads,
                                         (s.dx_scale, s.param_scale, s.param_scale)):
                if t is not None:
                    check(t.grad, e, dtype, scale, what=f"{name} {s.what}")


def _running_stats_case(name, shape, dtype, op, x, dy, w, b, running, after, train_ref, rstd, param_scale,
                        exact_eval_stats=True):
    """batch_norm's and instance_norm's steps, for each of _variants(shape): eval (the running
    statistics: y = (x - rm) / sqrt(rv + eps) w + b, they are left as they were) and, where `rstd`
    is given (more than one value per set), training (the input's statistics; the running ones,
    given with a weight, updated to `after`; without affine, without any).  op(x, rm, rv, w, b,
    training) calls the op; train_ref = (forward(w, b), backward(w)) is its float64 reference in
    training."""
    rm0, rv0 = running
    cshape = (1, w.size) + (1,) * (len(shape) - 2)
    dy_max = float(np.max(np.abs(dy), initial=0))
    forward, backward = train_ref
    steps = []
    for label, has_w, has_b in _variants(shape):
        wa, ba = (w if has_w else None), (b if has_b else None)
        wabs = np.abs(w).reshape(cshape) if has_w else 1.0
        what = f"{name} {shape} {dtype} {label}"
        steps.append(Step(
            f"eval {what}", lambda x, w, b, rm, rv: op(x, rm, rv, w, b, False), wa, ba,
            ref.batch_norm(x, wa, ba, EPS, False, rm0, rv0), ref.batch_norm_backward(dy, x, wa, EPS, False, rm0, rv0),
            dy_max * wabs / np.sqrt(rv0.reshape(cshape) + EPS), param_scale, stats=running,
            exact_stats=exact_eval_stats))
        if rstd is None:
            continue
        steps.append(Step(
            f"train {what}", lambda x, w, b, rm, rv: op(x, rm, rv, w, b, True), wa, ba, forward(wa, ba), backward(wa),
            dy_max * wabs * rstd, param_scale, stats=running if has_w else (None, None),
            stats_after=after if has_w else (None, None)))
    return Expected(x, dy, steps)


def expect_batch_norm(shape, dtype, momentum=0.2):
    """Eval (the running statistics: left as they were) and training (batch statistics; the
    running ones, when given, updated in place with the unbiased variance), forward and backward."""
    gen = case_rng("batch_norm", shape, dtype)
    N, C = shape[:2]
    x, dy = rand(shape, dtype, 0.5, 2.0, gen), rand(shape, dtype, gen=gen)
    w, b = rand(C, dtype, 1.0, gen=gen), rand(C, dtype, gen=gen)
    rm0, rv0 = rand(C, dtype, gen=gen), positive(C, dtype, gen=gen)
    n = N * spatial(shape)
    rstd = after = None  # training needs more than one value per channel (test_batch_norm_training_...)
    if n > 1:
        rstd = set_rstd(x, (0,) + tuple(range(2, len(shape))))
        bm, _, bvu = ref.batch_stats(x)
        after = ((1 - momentum) * rm0 + momentum * bm, (1 - momentum) * rv0 + momentum * bvu)

    def op(x, rm, rv, w, b, training):
        return F.batch_norm(x, rm, rv, w, b, training, momentum, EPS)
    return _running_stats_case(
        "batch_norm", shape, dtype, op, x, dy, w, b, (rm0, rv0), after,
        (lambda wa, ba: ref.batch_norm(x, wa, ba, EPS), lambda wa: ref.batch_norm_backward(dy, x, wa, EPS)),
        rstd, max(1.0, math.sqrt(n) / 8))


def expect_instance_norm(shape, dtype, momentum=0.2):
    """use_input_stats=False (the running statistics), and the input statistics with the running
    ones updated by the average over samples of each instance's update (and without any)."""
    gen = case_rng("instance_norm", shape, dtype)
    N, C = shape[:2]
    S = spatial(shape)
    x, dy = rand(shape, dtype, -2.0, 1.5, gen), rand(shape, dtype, gen=gen)
    w, b = rand(C, dtype, 1.0, gen=gen), rand(C, dtype, gen=gen)
    rm0, rv0 = rand(C, dtype, gen=gen), positive(C, dtype, gen=gen)
    rstd = after = None  # input statistics need more than one spatial element
    if S > 1:
        rstd = set_rstd(x, tuple(range(2, len(shape))))
        x2 = x.astype(np.float64).reshape(N, C, S)
        after = ((1 - momentum) * rm0 + momentum * x2.mean(axis=2).mean(axis=0),
                 (1 - momentum) * rv0 + momentum * x2.var(axis=2, ddof=1).mean(axis=0))

    def op(x, rm, rv, w, b, use_input_stats):
        return F.instance_norm(x, rm, rv, w, b, use_input_stats, momentum, EPS)
    # (eval not bitwise: instance_norm writes back the average of N copies of each running
    # statistic, see test_instance_norm_eval_leaves_running_stats_alone)
    return _running_stats_case(
        "instance_norm", shape, dtype, op, x, dy, w, b, (rm0, rv0), after,
        (lambda wa, ba: ref.instance_norm(x, wa, ba, EPS), lambda wa: ref.instance_norm_backward(dy, x, wa, EPS)),
        rstd, max(1.0, math.sqrt(N * S) / 8), exact_eval_stats=False)


def _affine_case(what, call, x, dy, w, b, forward, backward, rstd, param_scale):
    """An op with an optional affine and no running statistics: a step per _variants, its
    reference forward(weight, bias) and backward(weight) -> (dx, dweight, dbias); dx's scale
    max|dy| * max|w| * rstd."""
    dy_max = float(np.max(np.abs(dy), initial=0))
    steps = []
    for label, has_w, has_b in _variants(x.shape):
        wa, ba = (w if has_w else None), (b if has_b else None)
        wmax = float(np.max(np.abs(w))) if has_w else 1.0
        steps.append(Step(f"{what} {label}", call, wa, ba, forward(wa, ba), backward(wa), dy_max * wmax * rstd,
                          param_scale))
    return Expected(x, dy, steps)


def expect_group_norm(case, dtype):
    shape, G = case
    gen = case_rng("group_norm", shape, G, dtype)
    N, C = shape[:2]
    x, dy = rand(shape, dtype, -0.7, 3.0, gen), rand(shape, dtype, gen=gen)
    w, b = rand(C, dtype, 1.0, gen=gen), rand(C, dtype, gen=gen)
    rstd = np.broadcast_to(set_rstd(x.reshape(N, G, -1), (2,)), (N, G, x.size // max(1, N * G))).reshape(shape)
    param_scale = max(1.0, math.sqrt(N * spatial(shape)) / 8)
    return _affine_case(f"group_norm {shape} G={G} {dtype}", lambda x, w, b: F.group_norm(x, G, w, b, EPS), x, dy,
                        w, b, lambda wa, ba: ref.group_norm(x, G, wa, ba, EPS),
                        lambda wa: ref.group_norm_backward(dy, x, G, wa, EPS), rstd, param_scale)


def expect_layer_norm(case, dtype):
    shape, ns = case
    gen = case_rng("layer_norm", shape, ns, dtype)
    x, dy = rand(shape, dtype, -1.0, 2.0, gen), rand(shape, dtype, gen=gen)
    w, b = rand(ns, dtype, 1.0, gen=gen), rand(ns, dtype, gen=gen)
    rstd = set_rstd(x, tuple(range(len(shape) - len(ns), len(shape))))
    param_scale = max(1.0, math.sqrt(layer_norm_view(shape, ns)[0]) / 8)
    return _affine_case(f"layer_norm {shape} {ns} {dtype}", lambda x, w, b: F.layer_norm(x, ns, w, b, EPS), x, dy,
                        w, b, lambda wa, ba: ref.layer_norm(x, ns, wa, ba, EPS),
                        lambda wa: ref.layer_norm_backward(dy, x, ns, wa, EPS), rstd, param_scale)


def expect_pixel_norm(shape, dtype):
    gen = case_rng("pixel_norm", shape, dtype)
    x, dy = rand(shape, dtype, 0.3, gen=gen), rand(shape, dtype, gen=gen)
    r = 1 / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-8)
    return Expected(x, dy, [Step(
        f"pixel_norm {shape} {dtype}", lambda x, w, b: F.pixel_norm(x), None, None, ref.pixel_norm(x),
        (ref.pixel_norm_backward(dy, x), None, None), r * float(np.max(np.abs(dy), initial=0)), 1.0)])


FAMILIES = {  # name -> (expect, cases, the input shape of a case)
    "batch_norm": (expect_batch_norm, BATCH_NORM_CASES, lambda c: c),
    "instance_norm": (expect_instance_norm, INSTANCE_NORM_CASES, lambda c: c),
    "group_norm": (expect_group_norm, GROUP_NORM_CASES, lambda c: c[0]),
    "layer_norm": (expect_layer_norm, LAYER_NORM_CASES, lambda c: c[0]),
    "pixel_norm": (expect_pixel_norm, PIXEL_NORM_CASES, lambda c: c),
}
CASE_IDS = {"batch_norm": shape_id, "instance_norm": shape_id, "group_norm": group_id, "layer_norm": layer_id,
            "pixel_norm": shape_id}
ALL_CASES = [(name, c) for name, (_, cases, _) in FAMILIES.items() for c in cases]
# the cases that run on an OpenMP team, and those that do not
PARALLEL_CASES = [(name, c) for name, (_, cases, shape) in FAMILIES.items() for c in cases
                  if numel(shape(c)) >= PARALLEL_MIN]
SERIAL_CASES = {name: [c for c in cases if numel(shape(c)) < PARALLEL_MIN]
                for name, (_, cases, shape) in FAMILIES.items()}


def case_ids(pairs):
    """pytest ids of (family, case) pairs: family-case."""
    return [f"{name}-{CASE_IDS[name](c)}" for name, c in pairs]


def test_case_table_reaches_every_fast_path():
    """Each fast path of csrc/cpu/norm.cpp, serial and on a team, with few and many work items
    (both dtypes where its threshold is in bytes), and the OpenMP threshold's neighbours."""
    for cases in (BATCH_NORM_CASES, PIXEL_NORM_CASES):
        sizes = {numel(s) for s in cases}
        assert {PARALLEL_MIN - 1, PARALLEL_MIN} <= sizes
    for itemsize in (4, 8):
        for view in (False, True):
            table = INSTANCE_NORM_CASES if view else BATCH_NORM_CASES
            paths = [batch_norm_path(s, itemsize, view) for s in table]
            for backward, sample_major in itertools.product((False, True), (False, True)):
                modes = [(par, bsm if backward else fsm, c) for par, fsm, bsm, c in paths]
                items = [c for par, sm, c in modes if par and sm == sample_major]
                # InstanceNorm's view has one sample, so its sample-major forward (short planes
                # only) on a team has over PARALLEL_MIN / (1 KiB / itemsize) channels: (8, 64, 9, 9)'s
                # 512 are the fewest there
                few = 5
                if view and sample_major and not backward:
                    few = 512
                    assert PARALLEL_MIN // (SHORT_RUN_BYTES // itemsize) <= few
                assert items and min(items) <= few and max(items) >= 31, (itemsize, view, backward, sample_major, items)
                assert any(not par and sm == sample_major for par, sm, _ in modes), (itemsize, view, backward, sample_major)
            # the backward's large channels (sample-major for their size, not their planes), on a team
            N_C_S = [((1, s[0] * s[1], spatial(s)) if view else (s[0], s[1], spatial(s))) for s in table]
            assert any(n * sp * 2 * itemsize > CHANNEL_REUSE_BYTES and sp * itemsize >= SHORT_RUN_BYTES and par
                       for (n, _, sp), (par, _, _, _) in zip(N_C_S, paths)), (itemsize, view)
    assert any(s[0] * s[1] > 1 and len(s) == 2 and spatial(s) == 1 and numel(s) >= PARALLEL_MIN
               for s in BATCH_NORM_CASES)  # BatchNorm1d: S = 1
    assert any(spatial(s) > LANE_FOLD for s in BATCH_NORM_CASES)
    paths = [group_norm_path(*c) for c in GROUP_NORM_CASES]
    for kind in ("channel runs", "rows", "columns"):
        items = [n for par, k, n in paths if par and k == kind]
        assert items and min(items) <= 3, (kind, items)
        assert max(items) >= (33 if kind == "columns" else 256), (kind, items)
    assert any(not par and k == "rows" and n > FOLD_ROWS * c[1] for (par, k, n), c in zip(paths, GROUP_NORM_CASES))
    # sets in blocks of SET_BLOCK per thread: a full block and a partial one on each thread count
    for kind in ("channel runs", "rows"):
        for nt in (2, 3):
            assert any(par and k == kind and all(n * (t + 1) // nt - n * t // nt > SET_BLOCK and
                                                 (n * (t + 1) // nt - n * t // nt) % SET_BLOCK for t in range(nt))
                       for par, k, n in paths), (kind, nt)
    views = [layer_norm_view(*c) for c in LAYER_NORM_CASES]
    Ds = {D for _, D in views}
    assert {COLUMN_SPLIT_MIN - 1, COLUMN_SPLIT_MIN, COLUMN_TILE + 1} <= Ds and max(Ds) > 32 * COLUMN_TILE
    assert any(M > FOLD_ROWS and D >= COLUMN_SPLIT_MIN for M, D in views)
    assert any(M > FOLD_ROWS and D < COLUMN_SPLIT_MIN and M * D >= PARALLEL_MIN for M, D in views)
    assert any(len(c[1]) > 1 and layer_norm_view(*c)[1] >= COLUMN_SPLIT_MIN for c in LAYER_NORM_CASES)
    items = [n for par, n in map(pixel_norm_path, PIXEL_NORM_CASES) if par]
    assert min(items) <= 2 and max(items) >= 33
    assert {1, PIXEL_BLOCK, PIXEL_BLOCK + 1} <= {spatial(s) for s in PIXEL_NORM_CASES}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family,case", ALL_CASES, ids=case_ids(ALL_CASES))
def test_family_matches_reference(backend, family, case, dtype):
    """Every case of every family's table on every backend (ids: family-case, e.g. -k batch_norm)."""
    FAMILIES[family][0](case, dtype).run(backend, dtype)


def test_empty_inputs(backend):
    """No values: empty outputs and gradients, zero dweight and dbias (eval BatchNorm with an
    empty batch, empty channels, groups, rows, and a row length of 0)."""
    C3 = lambda a: backend.tensor(np.full(3, a, np.float32), requires_grad=True)  # noqa: E731
    cases = [
        ((0, 3, 4), lambda x, w, b: F.batch_norm(x, backend.tensor(np.zeros(3, np.float32)),
                                                 backend.tensor(np.ones(3, np.float32)), w, b)),
        ((0, 3, 4), lambda x, w, b: F.instance_norm(x, weight=w, bias=b)),
        ((0, 3, 4), lambda x, w, b: F.group_norm(x, 3, w, b)),
        ((2, 3, 0), lambda x, w, b: F.group_norm(x, 1, w, b)),
        ((0, 3), lambda x, w, b: F.layer_norm(x, 3, w, b)),
        ((0, 2, 1, 3), lambda x, w, b: F.layer_norm(x, (1, 3), w.reshape(1, 3), b.reshape(1, 3))),
    ]
    for shape, fn in cases:
        x, w, b = backend.tensor(np.ones(shape, np.float32), requires_grad=True), C3(1.0), C3(0.0)
        y = fn(x, w, b)
        assert y.shape == shape
        y.backward(backend.tensor(np.ones(shape, np.float32)))
        assert x.grad.shape == shape
        np.testing.assert_array_equal(backend.numpy(w.grad), 0, err_msg=str(shape))
        np.testing.assert_array_equal(backend.numpy(b.grad), 0, err_msg=str(shape))
    for shape, fn in [((2, 0), lambda x: F.layer_norm(x, 0)), ((0, 3, 4), F.pixel_norm),
                      ((2, 0, 4), F.pixel_norm), ((2, 0, 4), lambda x: F.batch_norm(x, None, None, training=True))]:
        x = backend.tensor(np.ones(shape, np.float64), requires_grad=True)
        y = fn(x)
        y.backward(backend.tensor(np.ones(shape)))
        assert y.shape == x.grad.shape == shape


# ============================================================================ the CPU kernels: SIMD levels, threads
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", FAMILIES)
def test_cpu_simd_levels(family, dtype):
    """The cases below the OpenMP threshold on the CPU kernels with their loops at each SIMD
    level (norm_loops.h); the larger ones are test_cpu_multithreaded's."""
    expect = FAMILIES[family][0]
    for c in SERIAL_CASES[family]:
        e = expect(c, dtype)
        for level in SIMD_LEVELS:
            with simd(level):
                e.run(CPU, dtype)


@pytest.mark.parametrize("family,case", PARALLEL_CASES, ids=case_ids(PARALLEL_CASES))
def test_cpu_multithreaded(family, case):
    """The cases above the OpenMP threshold on 1 and 3 threads at each SIMD level (fewer work
    items than threads included: group_norm_backward's per-thread partials, the column split's
    idle threads)."""
    for dtype in DTYPES:
        e = FAMILIES[family][0](case, dtype)
        for threads in (1, 3):
            for level in SIMD_LEVELS:
                with simd(level), num_threads(threads):
                    e.run(CPU, dtype)


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("shape,G", [((9, 4099), 1), ((1031, 33), 3), ((3, 5, 47, 53), 5), ((2, 33, 4099), 3)])
def test_cpu_kernels_deterministic(shape, G, level):
    """Same inputs, same thread count and level: bitwise the same results (fixed reduction
    order, thread partials added in thread order)."""
    C = shape[1]
    x, dy = rand(shape, "float32", 1.0), rand(shape, "float32")
    w, b = rand(C, "float32", 1.0), rand(C, "float32")

    def once():
        out = []
        xt, wt, bt = T(x, True), T(w, True), T(b, True)
        rm, rv = T(np.zeros(C, "float32")), T(np.ones(C, "float32"))
        ys = [F.batch_norm(xt, rm, rv, wt, bt, training=True), F.group_norm(xt, G, wt, bt), F.pixel_norm(xt)]
        if G == 1 and len(shape) == 2:
            ys.append(F.layer_norm(xt, C, wt, bt))
        for y in ys:
            y.backward(T(dy))
            out += [t.numpy() for t in (y.detach(), xt.grad, wt.grad, bt.grad) if t is not None]
            xt.grad = wt.grad = bt.grad = None
        return out + [rm.numpy(), rv.numpy()]

    with simd(level), num_threads(2):
        first, second = once(), once()
    for a, b2 in zip(first, second):
        np.testing.assert_array_equal(a, b2)


# ============================================================================ gradchecks (float64)
def test_gradcheck_batch_norm():
    x, w, b = rand((3, 2, 2, 3), loc=0.5), rand(2, loc=1.0), rand(2)
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    rm, rv = pycnn.tensor(rand(2)), pycnn.tensor(positive(2))
    gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), x, w, b)
    gradcheck(lambda x, w, b: nn.BatchNorm1d(4).double()(x) * w + b, rand((5, 4)), rand(4), rand(4))


def test_gradcheck_instance_norm():
    x, w, b = rand((2, 3, 5), loc=-1.0), rand(3, loc=1.0), rand(3)
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)


def test_gradcheck_group_norm():
    x, w, b = rand((2, 4, 3, 2), loc=2.0), rand(4, loc=1.0), rand(4)
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), x, w, b)


def test_gradcheck_layer_norm():
    x, w, b = rand((3, 2, 5), loc=1.0), rand((2, 5), loc=1.0), rand((2, 5))
    gradcheck(lambda x, w, b: F.layer_norm(x, (2, 5), w, b), x, w, b)


def test_gradcheck_pixel_norm():
    gradcheck(lambda x: F.pixel_norm(x), rand((2, 3, 2, 3)))


# ============================================================================ running statistics
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.35, None])
@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm2d, (4, 3, 5, 6)), (nn.BatchNorm1d, (8, 3)),
                                       (nn.BatchNorm1d, (4, 3, 7))])
def test_batchnorm_running_stats_trajectory(backend, cls, shape, momentum, dtype):
    C = shape[1]
    m = cls(C, momentum=momentum).to(dtype)
    w, b = rand(C, dtype, loc=1.0), rand(C, dtype)
    m.load_state_dict({**m.state_dict(), "weight": w, "bias": b})
    m.to(device=backend.device)
    rm, rv = np.zeros(C), np.ones(C)
    batch_means = []
    for step in range(1, 6):
        x = rand(shape, dtype, loc=step - 2.0, scale=0.5 * step)
        y = m(backend.tensor(x))
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
    x = rand(shape, dtype, loc=1.0)
    check(m(backend.tensor(x)), ref.batch_norm(x, w, b, EPS, False, rm, rv), dtype, what="eval")
    assert m.num_batches_tracked.item() == 5
    check(m.running_mean, rm, dtype, what="eval leaves running stats alone")


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval(backend):
    m = nn.BatchNorm2d(3, track_running_stats=False).double().to(device=backend.device).eval()
    assert m.running_mean is None and m.running_var is None and m.num_batches_tracked is None
    x = rand((4, 3, 2, 5), loc=2.0)
    check(m(backend.tensor(x)), ref.batch_norm(x), "float64")


def test_instancenorm_running_stats_trajectory(backend):
    m = nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True).double().to(device=backend.device)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rand((2, 3, 4, 5), loc=step, scale=step + 1.0)
        check(m(backend.tensor(x)), ref.instance_norm(x), "float64")
        x2 = x.reshape(2, 3, -1)
        rm = 0.8 * rm + 0.2 * x2.mean(axis=2).mean(axis=0)
        rv = 0.8 * rv + 0.2 * x2.var(axis=2, ddof=1).mean(axis=0)
        check(m.running_mean, rm, "float64")
        check(m.running_var, rv, "float64")
    m.eval()
    x = rand((2, 3, 4, 5))
    expected = (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + EPS)
    check(m(backend.tensor(x)), expected, "float64")


def test_instance_norm_eval_leaves_running_stats_alone(backend):
    rm0 = np.array([-0.36673206], np.float32)  # (x + x + x) / 3 rounds to another float32
    rm, rv = backend.tensor(rm0), backend.tensor(np.ones(1, np.float32))
    F.instance_norm(backend.tensor(rand((3, 1, 4), "float32")), rm, rv, use_input_stats=False)
    np.testing.assert_array_equal(backend.numpy(rm), rm0)


def test_instancenorm_unbatched_input(backend):
    m = nn.InstanceNorm1d(3).double().to(device=backend.device)
    x = rand((3, 7))
    check(m(backend.tensor(x)), ref.instance_norm(x[None])[0], "float64")


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
    assert repr(m) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.PixelNorm()) == "PixelNorm(eps=1e-08)"


# ============================================================================ equivalences
def test_group_norm_one_group_is_layer_norm_over_chw(backend):
    x, dy = rand((3, 4, 5, 2), loc=1.5), rand((3, 4, 5, 2))
    a, b = backend.tensor(x, True), backend.tensor(x, True)
    ya = nn.GroupNorm(1, 4, affine=False).double()(a)
    yb = nn.LayerNorm((4, 5, 2), elementwise_affine=False).double()(b)
    check(ya, backend.numpy(yb), "float64")
    ya.backward(backend.tensor(dy))
    yb.backward(backend.tensor(dy))
    check(a.grad, backend.numpy(b.grad), "float64")


def test_group_norm_c_groups_is_instance_norm_with_affine(backend):
    x, dy = rand((2, 3, 4, 5), loc=-1.0), rand((2, 3, 4, 5))
    w, b = rand(3, loc=1.0), rand(3)
    gn, inn = nn.GroupNorm(3, 3).double(), nn.InstanceNorm2d(3, affine=True).double()
    for m in (gn, inn):
        m.load_state_dict({"weight": w, "bias": b})
        m.to(device=backend.device)
    a, c = backend.tensor(x, True), backend.tensor(x, True)
    ya, yc = gn(a), inn(c)
    check(ya, backend.numpy(yc), "float64")
    ya.backward(backend.tensor(dy))
    yc.backward(backend.tensor(dy))
    check(a.grad, backend.numpy(c.grad), "float64")
    check(gn.weight.grad, backend.numpy(inn.weight.grad), "float64")
    check(gn.bias.grad, backend.numpy(inn.bias.grad), "float64")


@pytest.mark.parametrize("make", [lambda: nn.LayerNorm((3, 4, 5)), lambda: nn.InstanceNorm2d(3),
                                  lambda: nn.GroupNorm(3, 3), lambda: nn.PixelNorm()],
                         ids=["LayerNorm", "InstanceNorm2d", "GroupNorm", "PixelNorm"])
def test_per_sample_layers_do_not_depend_on_the_batch(backend, make):
    m = make().double().to(device=backend.device)
    x = rand((5, 3, 4, 5), loc=0.5)
    full = backend.numpy(m(backend.tensor(x)))
    for i in range(5):
        check(m(backend.tensor(x[i:i + 1])), full[i:i + 1], "float64", what=f"sample {i}")


def test_batch_norm_depends_on_the_batch(backend):
    m = nn.BatchNorm2d(3).double().to(device=backend.device)
    x = rand((5, 3, 4, 5), loc=0.5)
    full = backend.numpy(m(backend.tensor(x)))
    part = backend.numpy(m(backend.tensor(x[:2])))
    assert np.max(np.abs(full[:2] - part)) > 1e-2


# ============================================================================ numerical stability
STABILITY_CASES = {  # op on a Tensor, and the axes its numpy naive version reduces over
    "batch_norm": (lambda t: F.batch_norm(t, None, None, training=True), (0, 2, 3)),
    "instance_norm": (lambda t: F.instance_norm(t), (2, 3)),
    "group_norm": (lambda t: F.group_norm(t, 4), None),
    "layer_norm": (lambda t: F.layer_norm(t, (8, 16, 16)), (1, 2, 3)),
}


def _levels(backend):
    """Every SIMD level on the CPU kernels; the other backends have none to choose."""
    return SIMD_LEVELS if backend.name == "cpu" else (pycnn._C.simd_level(),)


@pytest.mark.parametrize("op", STABILITY_CASES)
def test_float32_large_mean_small_spread(backend, op):
    fn, axes = STABILITY_CASES[op]
    x32 = (1e4 + rng.standard_normal((4, 8, 16, 16))).astype(np.float32)
    x64 = x32.astype(np.float64)  # exactly the values the kernel sees
    dy = rand(x32.shape, "float32")
    # the float64 reference: the same op on the same values in double
    xt64 = backend.tensor(x64, True)
    y64 = fn(xt64)
    y64.backward(backend.tensor(dy.astype(np.float64)))
    expected = backend.numpy(y64)
    # the naive single-pass E[x^2] - E[x]^2 in float32 loses everything at this mean
    xg = x32.reshape(4, 4, -1) if axes is None else x32
    ax = (2,) if axes is None else axes
    m = xg.mean(axis=ax, keepdims=True, dtype=np.float32)
    var = (xg * xg).mean(axis=ax, keepdims=True, dtype=np.float32) - m * m
    naive = ((xg - m) / np.sqrt(np.maximum(var, 0) + np.float32(EPS))).reshape(x32.shape)
    naive_err = np.max(np.abs(naive - expected))
    for level in _levels(backend):
        with simd(level):
            xt = backend.tensor(x32, True)
            y = fn(xt)
            y.backward(backend.tensor(dy))
        err = np.max(np.abs(backend.numpy(y) - expected))
        assert err < 1e-5, f"{op} at {level}: float32 error {err} vs the float64 result"
        check(xt.grad, backend.numpy(xt64.grad), "float32", 10.0, what=f"{op} dx at {level}")
        assert naive_err > 0.1 and naive_err > 1000 * err, (op, level, naive_err, err)


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm"])
def test_float32_first_element_outlier(backend, op):
    """The kernels shift by each set's first element; make it as far out as a set allows
    (|x0 - mean| <= sqrt(n) std) on a large mean: values and grads still match float64."""
    x32 = (1e4 + rng.standard_normal((4, 4, 32, 32))).astype(np.float32)
    x32[:, :, 0, 0] += 25.0 if op == "batch_norm" else 50.0  # the first of each channel / row
    if op == "batch_norm":
        x32[1:, :, 0, 0] -= 25.0  # only sample 0 leads a channel
        fn = lambda t: F.batch_norm(t, None, None, training=True)  # noqa: E731
    else:
        fn = lambda t: F.layer_norm(t, (4, 32, 32))  # noqa: E731
    dy = rand(x32.shape, "float32")
    xt64 = backend.tensor(x32.astype(np.float64), True)
    y64 = fn(xt64)
    y64.backward(backend.tensor(dy.astype(np.float64)))
    for level in _levels(backend):
        with simd(level):
            xt = backend.tensor(x32, True)
            y = fn(xt)
            y.backward(backend.tensor(dy))
        check(y, backend.numpy(y64), "float32", what=f"{op} y at {level}")
        check(xt.grad, backend.numpy(xt64.grad), "float32", 10.0, what=f"{op} dx at {level}")


def test_pixel_norm_float32_large_values(backend):
    x32 = (1e4 + rng.standard_normal((2, 16, 5, 5))).astype(np.float32)
    y = F.pixel_norm(backend.tensor(x32))
    check(y, ref.pixel_norm(x32.astype(np.float64)), "float32")


# ============================================================================ bad input
def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_bad_channel_counts(backend):
    T = backend.tensor
    x = T(rand((2, 3, 4, 4), "float32"))
    c3, c4 = T(np.ones(3, np.float32)), T(np.zeros(4, np.float32))
    need = r"but input \(2, 3, 4, 4\) needs \(3,\) \(one value per channel\)"
    _raises(ValueError, r"batch_norm: running_mean has shape \(4,\) " + need, F.batch_norm, x, c4, c3, training=True)
    _raises(ValueError, r"batch_norm: running_var has shape \(4,\) " + need, F.batch_norm, x, c3, c4, training=True)
    _raises(ValueError, r"batch_norm: weight has shape \(4,\) " + need, F.batch_norm, x, None, None, c4, training=True)
    _raises(ValueError, r"batch_norm: bias has shape \(4,\) " + need, F.batch_norm, x, None, None, c3, c4,
            training=True)
    _raises(ValueError, r"batch_norm: weight has shape \(4,\) " + need, nn.BatchNorm2d(4).to(device=backend.device), x)
    _raises(ValueError, r"instance_norm: weight has shape \(4,\) " + need, F.instance_norm, x, weight=c4)
    _raises(ValueError, r"instance_norm: running_var has shape \(4,\) " + need, F.instance_norm, x, c3, c4)
    _raises(ValueError, r"InstanceNorm2d: expected input's size at dim=1 to match num_features \(4\), but got "
            r"input of shape \(2, 3, 4, 4\)", nn.InstanceNorm2d(4, affine=True).to(device=backend.device), x)
    _raises(ValueError, r"group_norm: weight has shape \(4,\) " + need, F.group_norm, x, 3, c4)
    _raises(ValueError, r"group_norm: bias has shape \(4,\) " + need, F.group_norm, x, 3, None, c4)
    _raises(ValueError, r"layer_norm: weight has shape \(4, 3\) but input \(2, 3, 4, 4\) needs \(4, 4\) "
            r"\(normalized_shape\)", F.layer_norm, x, (4, 4), T(np.ones((4, 3), np.float32)))
    _raises(ValueError, r"layer_norm: bias has shape \(16,\) but input \(2, 3, 4, 4\) needs \(4, 4\)",
            F.layer_norm, x, (4, 4), None, T(np.ones(16, np.float32)))


def test_bad_num_groups(backend):
    x = backend.tensor(rand((2, 6, 3), "float32"))
    for g in (4, 0, -2):
        _raises(ValueError, rf"group_norm: num_groups={g} must be a positive int that divides the 6 channels of "
                r"input \(2, 6, 3\)", F.group_norm, x, g)
    _raises(ValueError, r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)", nn.GroupNorm, 4, 6)
    _raises(TypeError, r"group_norm: num_groups must be an int, got 2.0", F.group_norm, x, 2.0)
    # a group of one value normalizes to 0 with no gradient (torch's check)
    _raises(ValueError, r"group_norm: expected more than 1 value per .*got input shape \(1, 3, 1\) with "
            r"num_groups=3", F.group_norm, backend.tensor(np.ones((1, 3, 1), np.float32)), 3)


def test_bad_normalized_shape(backend):
    x = backend.tensor(rand((2, 3, 4), "float32"))
    _raises(ValueError, r"layer_norm: normalized_shape=\(3,\) expects input of shape \(\*, 3,?\), got \(2, 3, 4\)",
            F.layer_norm, x, (3,))
    _raises(ValueError, r"layer_norm: normalized_shape=\(2, 2, 3, 4\) expects input of shape \(\*, 2, 2, 3, 4\), "
            r"got \(2, 3, 4\)", F.layer_norm, x, (2, 2, 3, 4))
    _raises(ValueError, r"layer_norm: normalized_shape must be an int or a non-empty tuple of ints, got \(\)",
            F.layer_norm, x, ())
    _raises(ValueError, r"layer_norm: normalized_shape=\(5,\) expects input of shape .*got \(2, 3, 4\)",
            nn.LayerNorm(5).to(device=backend.device), x)
    _raises(TypeError, r"layer_norm: normalized_shape must be an int, got 4.0", F.layer_norm, x, 4.0)


def test_batch_norm_training_with_one_value_per_channel(backend):
    T = backend.tensor
    one = r"batch_norm: expected more than 1 value per channel when training, got input shape "
    _raises(ValueError, one + r"\(1, 3\)", F.batch_norm, T(np.ones((1, 3), np.float32)), None, None, training=True)
    _raises(ValueError, one + r"\(1, 3\)", nn.BatchNorm1d(3).to(device=backend.device), T(np.ones((1, 3), np.float32)))
    _raises(ValueError, one + r"\(1, 3, 1, 1\)", nn.BatchNorm2d(3).to(device=backend.device),
            T(np.ones((1, 3, 1, 1), np.float32)))
    nn.BatchNorm1d(3).to(device=backend.device).eval()(T(np.ones((1, 3), np.float32)))  # eval mode is fine
    _raises(ValueError, r"instance_norm: expected more than 1 spatial element when training, got input shape "
            r"\(2, 3, 1\)", F.instance_norm, T(np.ones((2, 3, 1), np.float32)))


def test_norm_modules_take_torchs_bias_argument():
    """torch 2.13: bias=False keeps the weight and drops the bias; the reprs say bias=."""
    for m, params in ((nn.BatchNorm1d(3, bias=False), ["weight"]), (nn.InstanceNorm2d(3, affine=True, bias=False),
                      ["weight"]), (nn.GroupNorm(2, 4, bias=False), ["weight"]), (nn.LayerNorm(4, bias=False),
                      ["weight"]), (nn.BatchNorm2d(3, affine=False), [])):
        assert [n for n, _ in m.named_parameters()] == params and m.bias is None
        x = pycnn.tensor(randn(2, dtype="float32", *((3,) if isinstance(m, nn.BatchNorm1d) else (3, 4, 4) if "2d" in type(m).__name__
                                    else (4, 2) if isinstance(m, nn.GroupNorm) else (4,))))
        m(x)  # runs without a bias
    assert "affine=True, bias=False, track_running_stats=True" in repr(nn.BatchNorm1d(3, bias=False))
    torch = pytest.importorskip("torch")
    for args, kw in (((3,), {}), ((3,), dict(bias=False)), ((3,), dict(affine=False))):
        for name in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"):
            assert repr(getattr(nn, name)(*args, **kw)) == repr(getattr(torch.nn, name)(*args, **kw))
    for kw in ({}, dict(bias=False), dict(affine=False)):
        assert repr(nn.GroupNorm(2, 4, **kw)) == repr(torch.nn.GroupNorm(2, 4, **kw))
    for kw in ({}, dict(bias=False), dict(elementwise_affine=False)):
        assert repr(nn.LayerNorm((3, 4), **kw)) == repr(torch.nn.LayerNorm((3, 4), **kw))


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 3, 0, 4), (0, 3)])
def test_batch_norm_training_on_an_empty_batch(backend, shape):
    """torch: an empty batch in training mode gives an empty output, leaves the running statistics
    alone (num_batches_tracked still counts the call), and zero weight and bias gradients."""
    bn = (nn.BatchNorm2d(3) if len(shape) == 4 else nn.BatchNorm1d(3)).to(device=backend.device)
    bn.running_mean.copy_(backend.tensor(randn(3, dtype="float32")))
    before = backend.numpy(bn.running_mean), backend.numpy(bn.running_var)
    x = backend.tensor(np.ones(shape, np.float32), requires_grad=True)
    y = bn(x)
    assert y.shape == shape
    y.sum().backward()
    assert x.grad.shape == shape and int(bn.num_batches_tracked.item()) == 1
    np.testing.assert_array_equal(backend.numpy(bn.running_mean), before[0])
    np.testing.assert_array_equal(backend.numpy(bn.running_var), before[1])
    np.testing.assert_array_equal(backend.numpy(bn.weight.grad), np.zeros(3, np.float32))
    np.testing.assert_array_equal(backend.numpy(bn.bias.grad), np.zeros(3, np.float32))


def test_wrong_ndim(backend):
    T = lambda *s: backend.tensor(np.ones(s, np.float32))  # noqa: E731
    _raises(ValueError, r"BatchNorm2d: expected 4D input \(got 3D input of shape \(2, 3, 4\)\)", nn.BatchNorm2d(3),
            T(2, 3, 4))
    _raises(ValueError, r"BatchNorm1d: expected 2D or 3D input \(got 4D input of shape \(2, 3, 4, 4\)\)",
            nn.BatchNorm1d(3), T(2, 3, 4, 4))
    _raises(ValueError, r"BatchNorm1d: expected 2D or 3D input \(got 1D input of shape \(3,\)\)", nn.BatchNorm1d(3),
            T(3))
    _raises(ValueError, r"InstanceNorm2d: expected 3D or 4D input \(got 2D input of shape \(2, 3\)\)",
            nn.InstanceNorm2d(3), T(2, 3))
    _raises(ValueError, r"InstanceNorm1d: expected 2D or 3D input \(got 4D", nn.InstanceNorm1d(3), T(2, 3, 4, 4))
    for op, call in (("batch_norm", lambda x: F.batch_norm(x, None, None, training=True)),
                     ("instance_norm", F.instance_norm), ("group_norm", lambda x: F.group_norm(x, 2)),
                     ("pixel_norm", F.pixel_norm)):
        _raises(ValueError, rf"{op}: input must be \(N, C, \*\) with at least 2 dims, got shape \(6,\)", call, T(6))
    _raises(ValueError, r"layer_norm: normalized_shape=\(1,\) expects input of shape .*got \(\)", F.layer_norm,
            backend.tensor(np.float32(1.0)), 1)


def test_bad_dtypes_and_arguments(backend):
    T = backend.tensor
    x = T(rand((2, 3, 4), "float32"))
    ints = T(np.ones((2, 3, 4), np.int64))
    for op, call in (("batch_norm", lambda x, **kw: F.batch_norm(x, None, None, training=True, **kw)),
                     ("instance_norm", F.instance_norm), ("group_norm", lambda x, **kw: F.group_norm(x, 3, **kw)),
                     ("layer_norm", lambda x, **kw: F.layer_norm(x, 4, **kw)), ("pixel_norm", F.pixel_norm)):
        _raises(TypeError, rf"{op}: expected a floating point tensor, got dtype int64 with shape \(2, 3, 4\)",
                call, ints)
        _raises(TypeError, rf"{op}: input must be a Tensor, got ndarray", call, np.ones((2, 3, 4), np.float32))
        _raises(ValueError, rf"{op}: eps must be a number >= 0, got -1 \(input shape \(2, 3, 4\)\)", call, x, eps=-1)
    _raises(ValueError, r"group_norm: eps must be a number >= 0, got nan", F.group_norm, x, 3, eps=float("nan"))
    f64 = T(np.zeros(3))
    _raises(TypeError, r"batch_norm: running_mean dtype float64 differs from input dtype float32 \(input shape "
            r"\(2, 3, 4\)\)", F.batch_norm, x, f64, T(np.ones(3)), training=True)
    _raises(TypeError, r"group_norm: weight dtype float64 differs from input dtype float32", F.group_norm, x, 3, f64)
    _raises(TypeError, r"layer_norm: bias dtype float64 differs from input dtype float32", F.layer_norm, x, 4, None,
            T(np.zeros(4)))
    _raises(TypeError, r"batch_norm: weight must be a Tensor or None, got ndarray", F.batch_norm, x, None, None,
            np.ones(3, np.float32), training=True)
    _raises(TypeError, r"batch_norm: momentum must be a float, got None", F.batch_norm, x, None, None,
            training=True, momentum=None)
    _raises(TypeError, r"batch_norm: training must be a bool, got 1", F.batch_norm, x, None, None, training=1)
    _raises(TypeError, r"instance_norm: use_input_stats must be a bool", F.instance_norm, x, use_input_stats="yes")
    # eval needs both running statistics
    eval_msg = r"running_mean and running_var must be given when {} \(input shape \(2, 3, 4\)\)"
    _raises(ValueError, "batch_norm: " + eval_msg.format("training=False"), F.batch_norm, x, None, None)
    _raises(ValueError, "batch_norm: " + eval_msg.format("training=False"), F.batch_norm, x,
            T(np.zeros(3, np.float32)), None)
    _raises(ValueError, "instance_norm: " + eval_msg.format("use_input_stats=False"), F.instance_norm, x,
            use_input_stats=False)


def test_instancenorm_feature_mismatch_without_affine_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(4)(pycnn.randn(2, 3, 5))
    assert any("InstanceNorm1d" in str(x.message) for x in w)


# ----------------------------------------------------------------------------- the bindings' own checks
@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
def test_bindings_check_their_arrays(reference):
    """The params constructors hold the rules; the kernel bindings (fast and plain-loop) check
    that the arrays fit the params they are given: dtypes, value counts, writeable running
    statistics."""
    kw = dict(reference=reference)
    f32 = lambda *s: np.ones(s, np.float32)  # noqa: E731
    x = rand((2, 3, 4), "float32")
    p = _C.batch_norm_params("batch_norm", (2, 3, 4), None, None, (3,), (3,), True, EPS)
    assert (p.N, p.C, p.S, p.G, p.view) == (2, 3, 4, 1, (2, 3, 4)) and p.eps == EPS
    bn = _C.batch_norm_forward
    _raises(TypeError, r"batch_norm: input must be float32 or float64, got dtype int64 with shape \(2, 3, 4\)", bn,
            x.astype(np.int64), None, None, None, None, p, True, 0.1, **kw)
    _raises(TypeError, r"batch_norm: input must be float32 or float64, got dtype float16", bn, x.astype(np.float16),
            None, None, None, None, p, True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: input \(2, 3, 5\) has 30 values, its params' \(N, C, S\) view \(2, 3, 4\) "
            r"needs 24", bn, f32(2, 3, 5), None, None, None, None, p, True, 0.1, **kw)
    _raises(TypeError, r"batch_norm: weight dtype float64 differs from the input's", bn, x, None, None, np.ones(3),
            None, p, True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: weight has 4 values, its params need 3", bn, x, None, None, f32(4), None, p,
            True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: bias has 2 values, its params need 3", bn, x, None, None, None, f32(2), p,
            True, 0.1, **kw)
    _raises(TypeError, r"batch_norm: running_mean dtype float64 differs from the input's", bn, x, np.zeros(3),
            f32(3), None, None, p, True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: running_var has 4 values, its params need 3", bn, x, f32(3), f32(4), None,
            None, p, True, 0.1, **kw)
    for bad in (np.zeros(6, np.float32)[::2], np.broadcast_to(np.float32(0), (3,))):  # strided, read-only
        _raises(ValueError, r"batch_norm: running_mean must be contiguous and writeable \(it is updated in place\)",
                bn, x, bad, f32(3), None, None, p, True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: running_mean must be a numpy array or None", bn, x, [0.0] * 3, f32(3), None,
            None, p, True, 0.1, **kw)
    _raises(ValueError, r"batch_norm: running_mean and running_var must be given in eval mode", bn, x, None, None,
            None, None, p, False, 0.1, **kw)
    y, mean, rstd = bn(x, None, None, None, None, p, True, 0.1, **kw)
    assert y.dtype == np.float32 and mean.dtype == rstd.dtype == np.float64 and mean.shape == (3,)
    bb = _C.batch_norm_backward
    _raises(ValueError, r"batch_norm_backward: grad_output shape \(2, 3, 5\) differs from input shape \(2, 3, 4\)",
            bb, f32(2, 3, 5), x, mean, rstd, None, p, True, **kw)
    _raises(ValueError, r"batch_norm_backward: save_mean / save_rstd must have 3 values", bb, x, x, np.zeros(4),
            rstd, None, p, True, **kw)
    _raises(TypeError, r"batch_norm_backward: weight dtype float64 differs from the input's", bb, x, x, mean, rstd,
            np.ones(3), p, True, **kw)
    _raises(TypeError, r"batch_norm_backward: input must be float32 or float64, got dtype int32", bb, x,
            x.astype(np.int32), mean, rstd, None, p, True, **kw)

    gp = _C.group_norm_params("group_norm", (2, 6, 3), 3, (6,), (6,), EPS)
    assert (gp.N, gp.C, gp.S, gp.G) == (2, 6, 3, 3)
    xg = rand((2, 6, 3), "float32")
    _raises(TypeError, r"group_norm: input must be float32 or float64, got dtype int32 with shape \(2, 6, 3\)",
            _C.group_norm_forward, xg.astype(np.int32), None, None, gp, **kw)
    _raises(ValueError, r"group_norm: input \(2, 6, 4\) has 48 values, its params' \(N, C, S\) view \(2, 6, 3\) "
            r"needs 36", _C.group_norm_forward, f32(2, 6, 4), None, None, gp, **kw)
    _raises(TypeError, r"group_norm: weight dtype float64 differs from the input's", _C.group_norm_forward, xg,
            np.ones(6), None, gp, **kw)
    _raises(ValueError, r"group_norm: bias has 5 values, its params need 6", _C.group_norm_forward, xg, None,
            f32(5), gp, **kw)
    _, gmean, grstd = _C.group_norm_forward(xg, None, None, gp, **kw)
    assert gmean.shape == grstd.shape == (2, 3)
    _raises(ValueError, r"group_norm_backward: save_mean / save_rstd must have 6 values", _C.group_norm_backward,
            xg, xg, np.zeros(5), grstd, None, gp, **kw)
    _raises(ValueError, r"group_norm_backward: grad_output shape \(2, 6, 4\) differs from input shape \(2, 6, 3\)",
            _C.group_norm_backward, f32(2, 6, 4), xg, gmean, grstd, None, gp, **kw)

    pp = _C.pixel_norm_params("pixel_norm", (2, 3, 4), 1e-8)
    _raises(TypeError, r"pixel_norm: input must be float32 or float64, got dtype int64", _C.pixel_norm_forward,
            np.ones((2, 3, 4), np.int64), pp, **kw)
    _raises(ValueError, r"pixel_norm: input \(6,\) has 6 values, its params' \(N, C, S\) view \(2, 3, 4\) needs 24",
            _C.pixel_norm_forward, f32(6), pp, **kw)
    _, prstd = _C.pixel_norm_forward(x, pp, **kw)
    assert prstd.shape == (2, 4)
    _raises(ValueError, r"pixel_norm_backward: save_rstd must have 8 values", _C.pixel_norm_backward, x, x,
            np.ones(7), pp, **kw)
    _raises(ValueError, r"pixel_norm_backward: grad_output shape \(2, 3, 5\) differs from input shape \(2, 3, 4\)",
            _C.pixel_norm_backward, f32(2, 3, 5), x, prstd, pp, **kw)


def test_params_constructors_hold_the_rules():
    """The *_params constructors (the one place of the rules) reached directly: the views they
    give, and their messages naming the op passed in."""
    ip = _C.instance_norm_params("instance_norm", (2, 3, 4, 5), None, None, None, None, True, EPS)
    assert ip.view == (1, 6, 20)
    lp = _C.layer_norm_params("layer_norm", (2, 3, 4), (3, 4), (3, 4), None, EPS)
    assert lp.view == (2, 12, 1) and lp.G == 1
    gp = _C.group_norm_params("group_norm", (2, 6, 3, 1), 2, None, None, EPS)
    assert gp.view == (2, 6, 3) and gp.G == 2 and gp.eps == EPS
    assert _C.pixel_norm_params("pixel_norm", (2, 3), 1e-8).view == (2, 3, 1)
    _raises(ValueError, r"my_op: weight has shape \(2,\) but input \(2, 3\) needs \(3,\)", _C.batch_norm_params,
            "my_op", (2, 3), (2,), None, None, None, True, EPS)
    _raises(ValueError, r"my_op: running_mean and running_var must be given when training=False",
            _C.batch_norm_params, "my_op", (2, 3), None, None, (3,), None, False, EPS)
    _raises(ValueError, r"my_op: input must be \(N, C, \*\) with at least 2 dims, got shape \(\)",
            _C.pixel_norm_params, "my_op", (), 1e-8)
    _raises(ValueError, r"my_op: eps must be a number >= 0, got -inf", _C.group_norm_params, "my_op", (2, 4), 2,
            None, None, -math.inf)
    _raises(ValueError, r"my_op: input has a negative size \(2, -3\)", _C.group_norm_params, "my_op", (2, -3), 1,
            None, None, EPS)
    _raises(ValueError, r"my_op: input has a negative size", _C.layer_norm_params, "my_op", (2, -3), (-3,),
            None, None, EPS)


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
        x, dy = rand(shape, loc=step), rand(shape)
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
            check(m.state_dict()[k].numpy(), v.numpy(), "float64", what=f"{name} buffer {k} step {step}")
    tm.eval()
    m.eval()
    x = rand(shape)
    check(m(T(x)), tm(torch.tensor(x)).detach().numpy(), "float64", what=f"{name} eval")
