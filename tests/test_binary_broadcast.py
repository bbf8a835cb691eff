"""Broadcast add/sub/mul (csrc/elementwise.h: a scalar, per-channel or per-row operand) and the
adjoint sum that gives that operand's gradient, on every backend and SIMD level, 1 and 2
threads, both dtypes, against float64 numpy; the routing rule (pycnn/_elementwise_xp.py
broadcast_form) against numpy's own broadcasting; the autodiff through Add/Sub/Mul with such
operands, large enough for the native path; and the bindings' refusals."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pycnn
from pycnn import _backend
from pycnn import _elementwise_xp as ew
from helpers import cpu_simd_levels, gradcheck, num_threads, simd

UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply}

# (big shape, small shape): the forms a CNN uses, awkward sizes (1, primes, vector tails +- 1),
# planes and rows that cross the CPU kernel's 16384-element chunks, totals on both sides of its
# parallel threshold (131072), outer below and above the thread count (the adjoint's two splits)
CASES = [
    ((7, 3, 5, 5), ()),                 # scalar
    ((131073,), (1,)),                  # scalar, past the parallel threshold, a 1-element tail chunk
    ((2, 17, 11, 13), (1, 17, 1, 1)),   # per channel
    ((64, 3, 33, 33), (3, 1, 1)),       # per channel without the batch dim, 209088 elements
    ((1, 5, 16385), (5, 1)),            # one image: outer 1 < threads; planes past a chunk
    ((512, 257), (257,)),               # row bias (inner 1), 131584 elements
    ((31, 4099), (4099,)),              # row bias, rows across chunk boundaries
    ((4, 33, 8, 8), (4, 33, 1, 1)),     # (N, C, 1, 1) gate: outer 1, channels N*C
    ((3, 16, 17, 17), (1, 1, 17, 17)),  # spatial map shared by every image and channel (inner 1)
    ((2, 1, 9, 7), (1, 1, 9, 1)),       # big has 1-dims inside the span
    ((0, 3, 4), (3, 1)),                # empty
]


def _data(shape, dtype, seed):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape) * 3 + 0.5, dtype=dtype)


def _native(backend):
    return _backend.backend(backend.device).native


def _to_numpy(backend, array):
    return backend.numpy(pycnn.Tensor._wrap(array, backend.device))


def _sum_bound(terms64, dtype, form):
    """|sum - exact| <= (outer + inner + 16) * eps * sum |terms| per channel: summation's error
    bound for the lane-wise partials (inner) added over images (outer)."""
    outer, channels, inner = form
    scale = np.abs(terms64).reshape(outer, channels, inner).sum(axis=(0, 2))
    return (outer + inner + 16) * np.finfo(dtype).eps * scale + np.finfo(dtype).tiny


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_broadcast_ops_and_their_adjoint_match_float64(backend, case, dtype, threads):
    big_shape, small_shape = case
    form = ew.broadcast_form(big_shape, small_shape)
    assert form is not None
    a0, v0, g0 = _data(big_shape, dtype, 1), _data(small_shape, dtype, 2), _data(big_shape, dtype, 3)
    native = _native(backend)
    with num_threads(threads), backend.active():
        a, v, g = (backend.tensor(x)._array for x in (a0, v0, g0))
        for op in UFUNC:
            for small_first in (False, True):
                out = native.binary_broadcast(op, a, v, *form, small_first=small_first)
                args = (v0.astype(np.float64), a0.astype(np.float64))
                ref = UFUNC[op](*(args if small_first else args[::-1]))
                # one rounding of an exact float64 result (float32 operands: double rounding is
                # innocuous for + - *), so the float32 result is exact too
                np.testing.assert_array_equal(_to_numpy(backend, out), ref.astype(dtype), err_msg=f"{op} {small_first}")
        for other in (None, a):
            s = _to_numpy(backend, native.broadcast_sum(g, *form, other=other))
            terms = g0.astype(np.float64) * (1 if other is None else a0.astype(np.float64))
            exact = terms.reshape(form).sum(axis=(0, 2))
            assert s.shape == (form[1],) and s.dtype == np.dtype(dtype)
            err = np.abs(s.astype(np.float64) - exact)
            assert (err <= _sum_bound(terms, dtype, form)).all(), (other is None, err.max())


TAILS = [((3, 1), ()), ((2, 7, 9), (7, 1)), ((5, 33), (33,)), ((2, 3, 17), (3, 1)), ((4, 15), (15,)),
         ((1, 16385), (1, 1))]


@pytest.mark.parametrize("level", cpu_simd_levels())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_broadcast_loops_at_every_simd_level(level, dtype):
    """The CPU loops of each SIMD level (csrc/cpu/elementwise_loops.h) on vector tails, and the
    plain-loop reference the bindings expose, on 1 and 2 threads."""
    C = pycnn._C
    with simd(level):
        for threads in (1, 2):
            with num_threads(threads):
                for i, (big_shape, small_shape) in enumerate(TAILS):
                    form = ew.broadcast_form(big_shape, small_shape)
                    a, v, g = _data(big_shape, dtype, i), _data(small_shape, dtype, i + 9), _data(big_shape, dtype, i + 5)
                    for op in UFUNC:
                        for small_first in (False, True):
                            args = (v.astype(np.float64), a.astype(np.float64))
                            ref = UFUNC[op](*(args if small_first else args[::-1])).astype(dtype)
                            for reference in (False, True):
                                out = C.binary_broadcast(op, a, v, *form, small_first=small_first, reference=reference)
                                np.testing.assert_array_equal(out, ref)
                    for other in (None, a):
                        terms = g.astype(np.float64) * (1 if other is None else a.astype(np.float64))
                        exact = terms.reshape(form).sum(axis=(0, 2))
                        for reference in (False, True):
                            s = C.broadcast_sum(g, *form, other=other, reference=reference)
                            assert (np.abs(s - exact) <= _sum_bound(terms, dtype, form)).all()


def test_broadcast_ops_keep_special_values():
    """inf, NaN and signed zeros go through as numpy's (and torch's) elementwise ops give them."""
    big = np.array([[-np.inf, -0.0, 0.0, np.nan, 1.0, np.inf]] * 3, np.float32)
    for small in (np.array([0.0, -0.0, np.inf], np.float32).reshape(3, 1), np.array([np.nan, 2.0, -0.0], np.float32).reshape(3, 1)):
        form = ew.broadcast_form(big.shape, small.shape)
        for op in UFUNC:
            for small_first in (False, True):
                with np.errstate(invalid="ignore"):
                    ref = UFUNC[op](small, big) if small_first else UFUNC[op](big, small)
                out = pycnn._C.binary_broadcast(op, big, small, *form, small_first=small_first)
                np.testing.assert_array_equal(out, ref)
                np.testing.assert_array_equal(np.signbit(out), np.signbit(ref))


# ---- the routing rule
@settings(max_examples=200, deadline=None)
@given(big=st.lists(st.integers(1, 5), min_size=0, max_size=5), data=st.data())
def test_broadcast_form_agrees_with_numpy(big, data):
    """Whenever broadcast_form names a form, reading big as (outer, channels, inner) and small as
    (channels,) is exactly numpy's broadcast of small to big; and it names one for every small
    whose non-1 dims are one contiguous span of big's."""
    big = tuple(big)
    rank = data.draw(st.integers(0, len(big)))
    tail = big[len(big) - rank:]
    small = tuple(data.draw(st.sampled_from([1, n])) for n in tail)
    form = ew.broadcast_form(big, small)
    kept = [i for i, (s, b) in enumerate(zip((1,) * (len(big) - rank) + small, big)) if s != 1]
    if kept and any(((1,) * (len(big) - rank) + small)[i] != big[i] for i in range(kept[0], kept[-1] + 1)):
        assert form is None
        return
    assert form is not None
    outer, channels, inner = form
    assert outer * channels * inner == int(np.prod(big)) and channels == int(np.prod(small))
    v = np.arange(1, channels + 1, dtype=np.float64).reshape(small)
    np.testing.assert_array_equal(np.broadcast_to(v, big).reshape(outer, channels, inner),
                                  np.broadcast_to(v.reshape(1, channels, 1), (outer, channels, inner)))


def test_broadcast_form_refuses_what_it_cannot_take():
    assert ew.broadcast_form((3, 5), (4,)) is None             # not a broadcast at all
    assert ew.broadcast_form((3,), (2, 3)) is None             # small has more dims
    assert ew.broadcast_form((2, 3, 4), (2, 1, 4)) is None     # two spans
    assert ew.broadcast_form((2, 3, 4), ()) == (1, 1, 24)
    assert ew.broadcast_form((2, 3, 4), (3, 1)) == (2, 3, 4)
    assert ew.native_broadcast_form((50000, 3), (3,)) is None  # runs of 3
    assert ew.native_broadcast_form((5, 3, 4), (3, 1)) is None  # planes of 4
    assert ew.native_broadcast_form((5, 16, 4), (16, 1)) is None
    assert ew.native_broadcast_form((5, 3, 16), (3, 1)) == (5, 3, 16)
    assert ew.native_broadcast_form((5, 16), (16,)) == (5, 16, 1)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**31))
def test_broadcast_kernel_property(shape, data, dtype, seed):
    """Random shapes and forms, straight on the kernel (every size, not only the native path's)."""
    span = sorted(data.draw(st.lists(st.integers(0, len(shape)), min_size=2, max_size=2)))
    small = tuple(n if span[0] <= i < span[1] else 1 for i, n in enumerate(shape))
    form = ew.broadcast_form(tuple(shape), small)
    a, v, g = _data(shape, dtype, seed), _data(small, dtype, seed + 1), _data(shape, dtype, seed + 2)
    op = data.draw(st.sampled_from(sorted(UFUNC)))
    small_first = data.draw(st.booleans())
    args = (v.astype(np.float64), a.astype(np.float64))
    ref = UFUNC[op](*(args if small_first else args[::-1])).astype(dtype)
    np.testing.assert_array_equal(pycnn._C.binary_broadcast(op, a, v, *form, small_first=small_first), ref)
    terms = g.astype(np.float64) * a.astype(np.float64)
    exact = terms.reshape(form).sum(axis=(0, 2))
    assert (np.abs(pycnn._C.broadcast_sum(g, *form, other=a) - exact) <= _sum_bound(terms, dtype, form)).all()


# ---- through the autodiff (pycnn/ops.py: _binary, _grad_to)
# the last stays on the array module: rows of 3 are below native_broadcast_form's minimum run
AUTODIFF = [((64, 32, 8, 8), (1, 32, 1, 1)), ((64, 32, 8, 8), ()), ((520, 256), (256,)),
            ((4, 64, 32, 16), (4, 64, 1, 1)), ((64, 32, 8, 8), (1, 1, 8, 8)), ((65536, 3), (3,))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", AUTODIFF, ids=lambda c: f"{c[0]}-{c[1]}")
def test_tensor_ops_with_a_broadcast_operand(backend, case, dtype):
    """x + v, x - v, v - x, x * v and v * x with gradients for both (tensors past the native
    threshold, so the kernels above run), against float64 formulas."""
    big_shape, small_shape = case
    x0, v0 = _data(big_shape, dtype, 11), _data(small_shape, dtype, 12)
    dy0 = _data(big_shape, dtype, 13)
    x64, v64, dy64 = (t.astype(np.float64) for t in (x0, v0, dy0))
    axes = tuple(range(len(big_shape) - len(small_shape))) + tuple(
        len(big_shape) - len(small_shape) + i for i, n in enumerate(small_shape) if n == 1)

    def reduce(t):
        return t.sum(axis=axes).reshape(small_shape) if axes else t

    cases = {
        "x+v": (lambda x, v: x + v, x64 + v64, dy64, reduce(dy64)),
        "x-v": (lambda x, v: x - v, x64 - v64, dy64, -reduce(dy64)),
        "v-x": (lambda x, v: v - x, v64 - x64, -dy64, reduce(dy64)),
        "x*v": (lambda x, v: x * v, x64 * v64, dy64 * v64, reduce(dy64 * x64)),
        "v*x": (lambda x, v: v * x, v64 * x64, dy64 * v64, reduce(dy64 * x64)),
    }
    with backend.active():
        for name, (fn, y_ref, dx_ref, dv_ref) in cases.items():
            x = backend.tensor(x0, requires_grad=True)
            v = backend.tensor(v0, requires_grad=True)
            y = fn(x, v)
            y.backward(backend.tensor(dy0))
            np.testing.assert_array_equal(backend.numpy(y), y_ref.astype(dtype), err_msg=name)
            np.testing.assert_allclose(backend.numpy(x.grad), dx_ref, rtol=2 * np.finfo(dtype).eps, atol=0, err_msg=name)
            dv = backend.numpy(v.grad)
            assert dv.shape == small_shape and dv.dtype == np.dtype(dtype), name
            terms = np.abs(dy64 * (x64 if "*" in name else 1))
            n = int(np.prod(big_shape)) // max(1, int(np.prod(small_shape)))
            bound = (n + 16) * np.finfo(dtype).eps * reduce(terms) + np.finfo(dtype).tiny
            assert (np.abs(dv - dv_ref) <= bound).all(), name


def test_broadcast_gradcheck_small():
    """Central differences in float64 (small shapes: the array module's path shares _grad_to)."""
    rng = np.random.default_rng(5)
    x, v, s = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 1, 1)), rng.standard_normal(())
    gradcheck(lambda a, b, c: (a * b - c) * a + b * c, x, v, s)


def test_native_sum_is_used_for_a_large_per_channel_gradient(monkeypatch):
    """The routing reaches the native adjoint (a test of the plumbing: a broken route would still
    give right numbers through the array module, so count the calls)."""
    calls = []
    real = pycnn._C.broadcast_sum
    native = _backend.backend("cpu").native
    monkeypatch.setattr(native, "broadcast_sum", lambda *a, **k: (calls.append(k.get("other") is not None), real(*a, **k))[1])
    x = pycnn.randn(64, 32, 8, 8, requires_grad=True)
    w = pycnn.randn(1, 32, 1, 1, requires_grad=True)
    (x * w + w).sum().backward()
    assert sorted(calls) == [False, True]


# ---- bad input
def test_broadcast_bindings_reject_bad_arrays():
    C = pycnn._C
    a, v = np.ones((2, 3, 4)), np.ones(3)
    with pytest.raises(ValueError, match=r"add: big operand \(2, 3, 4\) has 24 elements, not outer \* channels \* inner = 2 \* 3 \* 5"):
        C.binary_broadcast("add", a, v, 2, 3, 5)
    with pytest.raises(ValueError, match=r"mul: the broadcast operand \(4,\) has 4 elements, not channels = 3"):
        C.binary_broadcast("mul", a, np.ones(4), 2, 3, 4)
    with pytest.raises(ValueError, match=r"sub: outer, channels and inner must be >= 0"):
        C.binary_broadcast("sub", a, v, -2, 3, -4)
    with pytest.raises(ValueError, match=r"add: outer \* channels \* inner overflows int64"):
        C.binary_broadcast("add", a, v, 2**40, 3, 2**40)
    with pytest.raises(TypeError, match=r"add: broadcast operand dtype float32 differs from the big operand's float64"):
        C.binary_broadcast("add", a, v.astype(np.float32), 2, 3, 4)
    with pytest.raises(TypeError, match=r"add: big must be float32 or float64"):
        C.binary_broadcast("add", a.astype(np.int64), v.astype(np.int64), 2, 3, 4)
    with pytest.raises(ValueError, match="unknown op 'div'"):
        C.binary_broadcast("div", a, v, 2, 3, 4)
    with pytest.raises(ValueError, match=r"broadcast_sum: grad \(2, 3, 4\) has 24 elements, not outer"):
        C.broadcast_sum(a, 2, 4, 4)
    with pytest.raises(ValueError, match=r"broadcast_sum: other \(4, 3, 2\) does not match the grad \(2, 3, 4\)"):
        C.broadcast_sum(a, 2, 3, 4, other=np.ones((4, 3, 2)))
    with pytest.raises(TypeError, match=r"broadcast_sum: other dtype float32 differs"):
        C.broadcast_sum(a, 2, 3, 4, other=np.ones((2, 3, 4), np.float32))
