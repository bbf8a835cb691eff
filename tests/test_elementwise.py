"""The native elementwise kernels (csrc/elementwise.h: relu, leaky_relu, sigmoid, tanh and their
backward passes; same-shape add/sub/mul, in place or not) on every backend: against the float64
numpy reference, on sizes around the chunk and the parallel threshold, both dtypes, 1 and 2
threads, with the special values torch defines (-inf, -0.0, NaN, huge |x|); then the autodiff
engine's in-place gradient accumulation that uses the add kernel."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pycnn
from pycnn import _backend
from helpers import cpu_simd_levels, gradcheck, simd

# around the CPU kernel's chunk (16384) and parallel threshold (131072), primes, 1, empty
SIZES = [0, 1, 7, 16383, 16384, 16385, 100003, 131071, 131072, 131073]
SPECIAL = np.array([-np.inf, -1000.0, -1.0, -0.0, 0.0, 1e-45, 2.0, 1000.0, np.inf, np.nan])
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
SLOPES = [0.01, 0.0, -0.5, 2.0]  # torch allows any slope; <= 0 makes the output's sign uninformative


def _data(n, dtype, seed):
    a = np.random.default_rng(seed).standard_normal(n) * 3
    a[: min(n, len(SPECIAL))] = SPECIAL[: min(n, len(SPECIAL))]
    return a.astype(dtype)


# ---- the float64 reference: torch's definitions, written independently of the kernels
def ref_forward(act, x64, slope):
    with np.errstate(over="ignore", invalid="ignore"):
        if act == "relu":
            return np.where(x64 <= 0, 0.0, x64)  # NaN <= 0 is False: NaN stays
        if act == "leaky_relu":
            return np.where(x64 > 0, x64, slope * x64)
        if act == "sigmoid":
            return np.where(x64 >= 0, 1 / (1 + np.exp(-np.abs(x64))),
                            np.exp(-np.abs(x64)) / (1 + np.exp(-np.abs(x64))))
        return np.tanh(x64)


def ref_backward(act, dy64, x64, y64, slope):
    """y64: the kernel's own output in float64 (the backward reads the saved output)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if act == "relu":
            return np.where(y64 <= 0, 0.0, dy64)
        if act == "leaky_relu":
            return np.where(x64 > 0, dy64, slope * dy64)
        if act == "sigmoid":
            return dy64 * y64 * (1 - y64)
        return dy64 * (1 - y64 * y64)


def _tol(act, dtype):
    """relu/leaky_relu are exact (one rounding of an exact product); the transcendental ones
    are within a few ulp of the float64 value."""
    if act in ("relu", "leaky_relu"):
        return dict(rtol=0, atol=0)
    return dict(rtol=4e-7, atol=1e-38) if dtype == "float32" else dict(rtol=1e-15, atol=1e-300)


def _assert_grad_close(act, grad, ref_grad, dy64, dtype):
    """relu/leaky_relu exactly; sigmoid's y*(1-y) and tanh's 1-y*y lose up to one rounding of the
    dtype in absolute terms (1 - y is computed from a rounded y near 1), times |dy|: the bound
    is a few eps * (|ref| + |dy|), the error of the formula torch uses too."""
    if act in ("relu", "leaky_relu"):
        np.testing.assert_array_equal(grad, ref_grad.astype(dtype))
        return
    eps = np.finfo(dtype).eps
    finite = np.isfinite(ref_grad) & np.isfinite(grad)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_grad))
    np.testing.assert_array_equal(grad[~finite & ~np.isnan(grad)], ref_grad[~finite & ~np.isnan(grad)])
    err = np.abs(grad[finite].astype(np.float64) - ref_grad[finite])
    bound = 4 * eps * (np.abs(ref_grad[finite]) + np.abs(dy64[finite])) + np.finfo(dtype).tiny
    assert (err <= bound).all(), f"{act} {dtype}: max err/bound {(err / bound).max():.3g}"


def _run(backend, fn, x0, dy0, threads):
    before = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        with backend.active():
            x = backend.tensor(x0, requires_grad=True)
            y = fn(x)
            y.backward(backend.tensor(dy0))
            return backend.numpy(y), backend.numpy(x.grad)
    finally:
        pycnn.set_num_threads(before)


def _functional(act, slope):
    F = pycnn.functional
    return {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, slope),
            "sigmoid": F.sigmoid, "tanh": F.tanh}[act]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_forward_backward_match_the_reference(backend, act, n, dtype, threads):
    slope = SLOPES[n % len(SLOPES)] if act == "leaky_relu" else 0.0
    x0, dy0 = _data(n, dtype, 1), _data(n, dtype, 2)
    out, grad = _run(backend, _functional(act, slope), x0, dy0, threads)
    assert out.dtype == grad.dtype == np.dtype(dtype)
    slope64 = float(np.dtype(dtype).type(slope))  # the kernel multiplies by the slope in the dtype
    x64, dy64 = x0.astype(np.float64), dy0.astype(np.float64)
    np.testing.assert_allclose(out, ref_forward(act, x64, slope64).astype(dtype), **_tol(act, dtype))
    ref_grad = ref_backward(act, dy64, x64, out.astype(np.float64), slope64)
    _assert_grad_close(act, grad, ref_grad, dy64, dtype)
    if act == "relu":
        assert not np.signbit(out[~np.isnan(out)]).any()  # never -0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_special_values(backend, dtype):
    x0 = np.array([-np.inf, -1000.0, -0.0, 0.0, 1000.0, np.inf, np.nan], dtype)
    with backend.active():
        t = backend.tensor(x0)
        sig = backend.numpy(pycnn.functional.sigmoid(t))
        tanh = backend.numpy(pycnn.functional.tanh(t))
        relu = backend.numpy(pycnn.functional.relu(t))
    np.testing.assert_array_equal(sig, np.array([0, 0, 0.5, 0.5, 1, 1, np.nan], dtype))  # no 0/inf
    np.testing.assert_array_equal(tanh, np.array([-1, -1, -0.0, 0, 1, 1, np.nan], dtype))
    np.testing.assert_array_equal(relu, np.array([0, 0, 0, 0, 1000, np.inf, np.nan], dtype))
    # relu's backward is a select: an infinite dy where the output is 0 gives 0, not NaN
    with backend.active():
        x = backend.tensor(np.array([-1.0, 2.0], dtype), requires_grad=True)
        pycnn.functional.relu(x).backward(backend.tensor(np.array([np.inf, np.inf], dtype)))
        np.testing.assert_array_equal(backend.numpy(x.grad), [0, np.inf])


# ---- every SIMD level of the CPU loops (csrc/cpu/elementwise_loops.h), on the vector tails
TAIL_SIZES = [1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 16385]  # around 4/8/16 lanes and the chunk


@pytest.mark.parametrize("level", cpu_simd_levels())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_kernels_at_every_simd_level(level, act, dtype):
    slope = -0.5 if act == "leaky_relu" else 0.0
    slope64 = float(np.dtype(dtype).type(slope))
    with simd(level):
        for n in TAIL_SIZES:
            x0, dy0 = _data(n, dtype, n), _data(n, dtype, n + 1)
            out = pycnn._C.activation_forward(x0, act, slope)
            np.testing.assert_allclose(out, ref_forward(act, x0.astype(np.float64), slope64).astype(dtype),
                                       **_tol(act, dtype))
            saved = x0 if act == "leaky_relu" else out
            grad = pycnn._C.activation_backward(dy0, saved, act, slope)
            x64, dy64 = x0.astype(np.float64), dy0.astype(np.float64)
            _assert_grad_close(act, grad, ref_backward(act, dy64, x64, out.astype(np.float64), slope64), dy64, dtype)


def _sweep(dtype):
    """Dense inputs over every range the exp-based kernels treat differently: tiny |x| (tanh's
    e^-2|x| - 1 near 0, subnormals), |x| ~ 1, the clamps (float e^-110, double e^-750), both signs."""
    rng = np.random.default_rng(7)
    big = 120.0 if dtype == "float32" else 760.0
    tiny = np.logspace(-44 if dtype == "float32" else -320, 0, 20001)
    x = np.concatenate([rng.standard_normal(100000) * 4, rng.uniform(-big, big, 50000),
                        np.linspace(-2, 2, 40001), tiny, -tiny])
    return x.astype(dtype)


@pytest.mark.parametrize("level", cpu_simd_levels())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_vectorized_exp_accuracy_sweep(level, act, dtype):
    """sigmoid and tanh forward use the loops' own exp (no libm): within 4e-7 (float32) and 1e-15
    (float64) relative of the float64 libm value everywhere (measured: at most 2.5 and 3 ulp)."""
    x0 = _sweep(dtype)
    with simd(level):
        out = pycnn._C.activation_forward(x0, act)
    np.testing.assert_allclose(out, ref_forward(act, x0.astype(np.float64), 0.0).astype(dtype), **_tol(act, dtype))
    if act == "tanh":
        np.testing.assert_array_equal(np.signbit(out), np.signbit(x0))  # odd, tanh(-0) = -0


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_gradcheck(act):
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from relu's kink
    slope = -0.3 if act == "leaky_relu" else 0.0
    gradcheck(_functional(act, slope), x)


def test_activations_on_integer_tensors_follow_torch():
    t = pycnn.tensor([-2, 3])
    np.testing.assert_array_equal(pycnn.functional.relu(t).numpy(), [0, 3])
    assert pycnn.functional.relu(t).dtype == pycnn.int64
    s = pycnn.functional.sigmoid(t)  # int -> the default float, as torch.sigmoid
    assert s.dtype == pycnn.float32
    np.testing.assert_allclose(s.numpy(), 1 / (1 + np.exp([2.0, -3.0])), rtol=1e-6)


# ---- binary ops
def _native(backend):
    with backend.active():
        return _backend.backend(backend.device).native


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binary_matches_the_reference_in_and_out_of_place(backend, op, n, dtype):
    a0, b0 = _data(n, dtype, 4), _data(n, dtype, 5)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[op](a0.astype(np.float64), b0.astype(np.float64))
    native = _native(backend)
    with backend.active():
        a, b = backend.tensor(a0)._array, backend.tensor(b0)._array
        out = native.binary(op, a, b)
        assert out is not a
        np.testing.assert_array_equal(backend.numpy(pycnn.Tensor._wrap(out, backend.device)), ref.astype(dtype))
        same = native.binary(op, a, b, inplace=True)
        np.testing.assert_array_equal(backend.numpy(pycnn.Tensor._wrap(a, backend.device)), ref.astype(dtype))
        if backend.device == "cpu":
            assert same is a


def test_binary_inplace_aliasing_self():
    a = np.arange(140000, dtype=np.float64)
    pycnn._C.binary("add", a, a, inplace=True)  # a += a: exact alias is fine (each element read first)
    np.testing.assert_array_equal(a, 2 * np.arange(140000, dtype=np.float64))


def test_elementwise_bindings_reject_bad_arrays():
    C = pycnn._C
    with pytest.raises(TypeError, match="relu: input must be float32 or float64"):
        C.activation_forward(np.arange(3), "relu")
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        C.activation_forward(np.ones(3), "gelu")
    with pytest.raises(ValueError, match=r"relu: grad_output \(3,\) does not match the output \(4,\)"):
        C.activation_backward(np.ones(3), np.ones(4), "relu")
    with pytest.raises(ValueError, match=r"leaky_relu: grad_output \(3,\) does not match the input"):
        C.activation_backward(np.ones(3), np.ones(4), "leaky_relu", 0.1)
    with pytest.raises(TypeError, match="sigmoid: grad_output dtype float32 differs"):
        C.activation_backward(np.ones(3, np.float32), np.ones(3), "sigmoid")
    with pytest.raises(ValueError, match=r"add: b \(2, 3\) does not match the a \(3, 2\)"):
        C.binary("add", np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="mul: b dtype float32 differs"):
        C.binary("mul", np.ones(3), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="unknown op 'div'"):
        C.binary("div", np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="add: inplace needs a writeable C-contiguous a"):
        C.binary("add", np.ones((4, 4))[:, ::2], np.ones((4, 2)), inplace=True)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="add: inplace needs a writeable"):
        C.binary("add", frozen, np.ones(3), inplace=True)
    buf = np.ones(10)
    with pytest.raises(ValueError, match="add: inplace needs b not to overlap a"):
        C.binary("add", buf[:8], buf[2:], inplace=True)
    np.testing.assert_array_equal(buf, np.ones(10))  # refused before writing anything


@settings(max_examples=40, deadline=None)
@given(act=st.sampled_from(ACTIVATIONS), dtype=st.sampled_from(["float32", "float64"]),
       shape=st.lists(st.integers(1, 7), min_size=1, max_size=4), slope=st.floats(-2, 2), seed=st.integers(0, 2**31))
def test_activation_property_against_the_reference(act, dtype, shape, slope, seed):
    x0 = (np.random.default_rng(seed).standard_normal(shape) * 4).astype(dtype)
    dy0 = np.random.default_rng(seed + 1).standard_normal(shape).astype(dtype)
    slope = slope if act == "leaky_relu" else 0.0
    x = pycnn.tensor(x0, requires_grad=True)
    y = _functional(act, slope)(x)
    y.backward(pycnn.tensor(dy0))
    slope64 = float(np.dtype(dtype).type(slope))
    out = y.detach().numpy()
    np.testing.assert_allclose(out, ref_forward(act, x0.astype(np.float64), slope64).astype(dtype), **_tol(act, dtype))
    ref_grad = ref_backward(act, dy0.astype(np.float64), x0.astype(np.float64), out.astype(np.float64), slope64)
    _assert_grad_close(act, x.grad.numpy(), ref_grad, dy0.astype(np.float64), dtype)


# ---- in-place gradient accumulation (pycnn/tensor.py: _accumulate, Tensor._accumulate_grad)
@pytest.mark.parametrize("n", [5, 140000])  # below and above the native add's threshold
def test_shared_gradients_accumulate_correctly(n):
    """A DAG where one node's gradient is summed from several consumers, and Add hands the same
    array to both its inputs: an in-place sum must not corrupt the array another input holds."""
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal(n), rng.standard_normal(n)
    a = pycnn.tensor(a0, requires_grad=True)
    b = pycnn.tensor(b0, requires_grad=True)
    h = a * 2  # h's gradient accumulates from three consumers below
    z = h + b  # Add's backward returns g for both h and b
    w = h * 3
    v = pycnn.functional.relu(h)
    loss = (z + w + v).sum() + (z * z).sum()
    loss.backward()
    z_ = 2 * a0 + b0
    dz = 1 + 2 * z_
    dh = dz + 3 + (2 * a0 > 0)
    np.testing.assert_allclose(a.grad.numpy(), 2 * dh, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), dz, rtol=1e-12)


def test_accumulation_leaves_hooked_and_retained_gradients_alone():
    n = 140000
    x = pycnn.tensor(np.random.default_rng(1).standard_normal(n), requires_grad=True)
    h = x * 1.5
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()) or None)
    out = (h + h * 2).sum()  # h's gradient: 1 + 2 = 3, summed from two consumers
    out.backward()
    np.testing.assert_array_equal(h.grad.numpy(), np.full(n, 3.0))
    np.testing.assert_array_equal(seen[0], np.full(n, 3.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(n, 4.5))


def test_leaf_grad_accumulates_in_place_like_torch():
    """torch's AccumulateGrad adds into an existing .grad: a reference to it sees the sum."""
    for n in (3, 140000):
        p = pycnn.tensor(np.ones(n), requires_grad=True)
        (p * 2).sum().backward()
        held = p.grad
        (p * 3).sum().backward()
        assert held is p.grad
        np.testing.assert_array_equal(held.numpy(), np.full(n, 5.0))
        # a grad the user replaced by a read-only or foreign-dtype array is not written into
        p.grad = pycnn.tensor(np.ones(n, np.float32))
        (p * 1).sum().backward()
        np.testing.assert_array_equal(p.grad.numpy(), np.full(n, 2.0))


def test_accumulated_grads_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x0, w0 = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((3, 3, 3, 3))
    grads = []
    for lib in (pycnn, torch):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        F = lib.nn.functional
        h = F.relu(F.conv2d(x, w, padding=1))
        y = F.relu(F.conv2d(h, w, padding=1) + h)  # a residual block: h feeds two consumers
        for _ in range(2):  # two backward passes accumulate into the leaves
            (y * y).sum().backward(retain_graph=True)
        grads.append((x.grad.detach().numpy(), w.grad.detach().numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
