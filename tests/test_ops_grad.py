"""Every differentiable core op: forward values against numpy float64 (tests/reference/core.py)
in float32 and float64, and finite-difference gradchecks in float64 for every input."""
import warnings

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from cases import DTYPES
from helpers import assert_close, gradcheck, randn
from reference import core as ref


def pos(*shape):
    """Positive data away from 0 (for log, sqrt, pow with real exponents)."""
    return np.abs(randn(*shape)) + 0.5


def T(a, dtype="float64", **kw):
    return pycnn.tensor(np.asarray(a), dtype=dtype, **kw)


TARGET3 = np.array([2, 0, 3])            # labels for (3, 4) logits
TARGET_ND = np.array([[1, 0, 2], [2, 2, 1]])  # labels for (2, 3, 3) logits: (N, C, d)
W4 = np.array([0.5, 1.5, 2.0, 0.7])
W3 = np.array([0.3, 1.2, 2.5])

# name -> (fn(*tensors), input arrays)
GRAD_CASES = {
    "add_broadcast": (lambda a, b: a + b, [randn(2, 3), randn(3)]),
    "add_broadcast_both": (lambda a, b: a + b, [randn(2, 1, 3), randn(4, 1)]),
    "add_scalar": (lambda a: 2.5 + a, [randn(3)]),
    "sub_broadcast": (lambda a, b: a - b, [randn(2, 1), randn(1, 3)]),
    "rsub_scalar": (lambda a: 1.5 - a, [randn(2, 2)]),
    "mul_broadcast": (lambda a, b: a * b, [randn(3, 1, 2), randn(4, 2)]),
    "mul_scalar": (lambda a: a * -3.0, [randn(4)]),
    "div_broadcast": (lambda a, b: a / b, [randn(2, 3), pos(3)]),
    "rdiv_scalar": (lambda a: 2.0 / a, [pos(3)]),
    "div_scalar": (lambda a: a / 4.0, [randn(3)]),
    "neg": (lambda a: -a, [randn(2, 3)]),
    "pow_scalar": (lambda a: a ** 3, [randn(5)]),
    "pow_real_scalar": (lambda a: a ** 2.5, [pos(4)]),
    "pow_tensor_tensor": (lambda a, b: a ** b, [pos(2, 3), randn(3)]),
    "rpow": (lambda a: 2.0 ** a, [randn(4)]),
    "pow_method": (lambda a: a.pow(2), [randn(3)]),
    "exp": (lambda a: a.exp(), [randn(2, 3)]),
    "log": (lambda a: a.log(), [pos(2, 3)]),
    "sqrt": (lambda a: pycnn.sqrt(a), [pos(5)]),
    "abs": (lambda a: a.abs(), [randn(6)]),
    "relu": (lambda a: F.relu(a), [randn(2, 4)]),
    "relu_method": (lambda a: a.relu(), [randn(5)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), [randn(2, 4)]),
    "sigmoid": (lambda a: F.sigmoid(a), [randn(2, 3) * 3]),
    "tanh": (lambda a: a.tanh(), [randn(2, 3)]),
    "sum_all": (lambda a: a.sum(), [randn(2, 3)]),
    "sum_dim": (lambda a: a.sum(1), [randn(2, 3, 2)]),
    "sum_dims_keepdim": (lambda a: a.sum((0, 2), keepdim=True), [randn(2, 3, 2)]),
    "sum_neg_dim": (lambda a: a.sum(-1, keepdim=True), [randn(3, 2)]),
    "mean_all": (lambda a: a.mean(), [randn(2, 3)]),
    "mean_dim": (lambda a: a.mean(0), [randn(3, 2)]),
    "mean_dims_keepdim": (lambda a: a.mean((1, 2), keepdim=True), [randn(2, 2, 3)]),
    "max_all": (lambda a: a.max(), [randn(3, 4)]),
    "max_dim": (lambda a: a.max(1)[0], [randn(3, 4)]),
    "max_dim_keepdim": (lambda a: a.max(0, keepdim=True).values, [randn(3, 4)]),
    "max_dims": (lambda a: pycnn.amax(a, (0, 2)), [randn(2, 3, 2)]),
    "min_all": (lambda a: a.min(), [randn(3, 4)]),
    "min_dim": (lambda a: pycnn.min(a, -1)[0], [randn(2, 5)]),
    "min_dim_keepdim": (lambda a: a.min(1, keepdim=True)[0], [randn(2, 3, 2)]),
    "reshape": (lambda a: a.reshape(3, -1) * pycnn.arange(4, dtype="float64"), [randn(2, 6)]),
    "view": (lambda a: a.view((4, 3)), [randn(2, 6)]),
    "flatten": (lambda a: a.flatten(1), [randn(2, 3, 2)]),
    "flatten_mid": (lambda a: pycnn.flatten(a, 1, 2), [randn(2, 2, 3, 2)]),
    "transpose": (lambda a: a.transpose(0, 2), [randn(2, 3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1), [randn(2, 3, 4)]),
    "T": (lambda a: a.T, [randn(2, 3)]),
    "slice_basic": (lambda a: a[1:, ::2], [randn(3, 5)]),
    "slice_negative_step": (lambda a: a[::-1, 1], [randn(4, 3)]),
    "slice_negative_step_range": (lambda a: a[:, 3:0:-2], [randn(2, 5)]),
    "slice_int_array_repeats": (lambda a: a[[0, 2, 2, 0, 1]], [randn(3, 2)]),
    "slice_int_array_tensor": (lambda a: a[:, pycnn.tensor([1, 1, 0])], [randn(2, 3)]),
    "slice_newaxis_ellipsis": (lambda a: a[None, ..., 1], [randn(2, 3)]),
    "slice_bool_mask": (lambda a: a[pycnn.tensor([True, False, True])], [randn(3, 2)]),
    "slice_int": (lambda a: a[1], [randn(3, 2)]),
    "cat_dim0": (lambda a, b, c: pycnn.cat([a, b, c]), [randn(2, 3), randn(1, 3), randn(3, 3)]),
    "cat_dim1": (lambda a, b: pycnn.cat((a, b), dim=-1), [randn(2, 1), randn(2, 3)]),
    "stack": (lambda a, b: pycnn.stack([a, b]), [randn(2, 3), randn(2, 3)]),
    "stack_dim": (lambda a, b, c: pycnn.stack([a, b, c], dim=1), [randn(2), randn(2), randn(2)]),
    "unsqueeze": (lambda a: a.unsqueeze(1), [randn(2, 3)]),
    "unsqueeze_neg": (lambda a: pycnn.unsqueeze(a, -1), [randn(3)]),
    "squeeze": (lambda a: a.squeeze(), [randn(1, 3, 1)]),
    "squeeze_dim": (lambda a: pycnn.squeeze(a, 0), [randn(1, 3)]),
    "expand": (lambda a: a.expand(2, 3, 4), [randn(3, 1)]),
    "expand_minus1": (lambda a: a.expand(4, -1), [randn(1, 3)]),
    "matmul_1d_1d": (lambda a, b: a @ b, [randn(4), randn(4)]),
    "matmul_1d_2d": (lambda a, b: a @ b, [randn(3), randn(3, 2)]),
    "matmul_2d_1d": (lambda a, b: a @ b, [randn(2, 3), randn(3)]),
    "matmul_2d_2d": (lambda a, b: a @ b, [randn(2, 3), randn(3, 4)]),
    "matmul_batched": (lambda a, b: pycnn.matmul(a, b), [randn(2, 2, 3), randn(2, 3, 2)]),
    "matmul_broadcast_batch": (lambda a, b: a @ b, [randn(2, 1, 2, 3), randn(3, 3, 2)]),
    "matmul_3d_2d": (lambda a, b: a @ b, [randn(2, 2, 3), randn(3, 2)]),
    "matmul_2d_3d": (lambda a, b: a.matmul(b), [randn(2, 3), randn(2, 3, 2)]),
    "matmul_1d_3d": (lambda a, b: a @ b, [randn(3), randn(2, 3, 2)]),
    "matmul_3d_1d": (lambda a, b: a @ b, [randn(2, 2, 3), randn(3)]),
    "linear_bias": (lambda x, w, b: F.linear(x, w, b), [randn(3, 4), randn(2, 4), randn(2)]),
    "linear_no_bias": (lambda x, w: F.linear(x, w), [randn(3, 4), randn(2, 4)]),
    "linear_3d": (lambda x, w, b: F.linear(x, w, b), [randn(2, 2, 3), randn(4, 3), randn(4)]),
    "linear_1d": (lambda x, w, b: F.linear(x, w, b), [randn(3), randn(2, 3), randn(2)]),
    "softmax": (lambda a: F.softmax(a, dim=1), [randn(2, 4)]),
    "softmax_dim0": (lambda a: a.softmax(0), [randn(3, 2)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=-1), [randn(2, 4)]),
    "log_softmax_3d": (lambda a: pycnn.log_softmax(a, 1), [randn(2, 3, 2)]),
    "where": (lambda a, b: pycnn.where(pycnn.tensor([[True, False, True]]), a, b), [randn(2, 3), randn(2, 1)]),
    "pad_constant": (lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), [randn(2, 2, 3)]),
    "pad_last": (lambda a: F.pad(a, (2, 0)), [randn(3)]),
    "clone": (lambda a: a.clone() * 2, [randn(3)]),
    "mse_mean": (lambda a, b: F.mse_loss(a, b), [randn(2, 3), randn(2, 3)]),
    "mse_sum": (lambda a, b: F.mse_loss(a, b, reduction="sum"), [randn(4), randn(4)]),
    "mse_none": (lambda a, b: F.mse_loss(a, b, reduction="none"), [randn(2, 2), randn(2, 2)]),
}

# cross_entropy / nll_loss: (kwargs, logits shape, target)
LOSS_CASES = {
    "mean": (dict(), (3, 4), TARGET3),
    "sum": (dict(reduction="sum"), (3, 4), TARGET3),
    "none": (dict(reduction="none"), (3, 4), TARGET3),
    "weight": (dict(weight=W4), (3, 4), TARGET3),
    "weight_sum": (dict(weight=W4, reduction="sum"), (3, 4), TARGET3),
    "ignore_index": (dict(ignore_index=0), (3, 4), TARGET3),
    "ignore_index_none": (dict(ignore_index=3, reduction="none"), (3, 4), TARGET3),
    "weight_ignore": (dict(weight=W4, ignore_index=2), (3, 4), TARGET3),
    "nd": (dict(), (2, 3, 3), TARGET_ND),
    "nd_none_weight": (dict(reduction="none", weight=W3), (2, 3, 3), TARGET_ND),
    "nd_sum_ignore": (dict(reduction="sum", ignore_index=1), (2, 3, 3), TARGET_ND),
    "single_sample": (dict(), (4,), np.array(1)),
}
SMOOTH_CASES = {
    "ls_mean": (dict(label_smoothing=0.1), (3, 4), TARGET3),
    "ls_sum": (dict(label_smoothing=0.3, reduction="sum"), (3, 4), TARGET3),
    "ls_none": (dict(label_smoothing=0.2, reduction="none"), (3, 4), TARGET3),
    "ls_weight": (dict(label_smoothing=0.2, weight=W4), (3, 4), TARGET3),
    "ls_weight_ignore": (dict(label_smoothing=0.25, weight=W4, ignore_index=0), (3, 4), TARGET3),
    "ls_ignore_none": (dict(label_smoothing=0.1, ignore_index=2, reduction="none"), (3, 4), TARGET3),
    "ls_nd": (dict(label_smoothing=0.15, weight=W3, ignore_index=2), (2, 3, 3), TARGET_ND),
}


def _loss_call(fn, kwargs, dtype="float64"):
    kw = dict(kwargs)
    if "weight" in kw:
        kw["weight"] = T(kw["weight"], dtype)
    return lambda x, t: fn(x, pycnn.tensor(t), **kw)


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradcheck(name):
    fn, arrays = GRAD_CASES[name]
    gradcheck(fn, *arrays)


@pytest.mark.parametrize("name", sorted({**LOSS_CASES, **SMOOTH_CASES}))
def test_gradcheck_cross_entropy(name):
    kwargs, shape, target = {**LOSS_CASES, **SMOOTH_CASES}[name]
    call = _loss_call(F.cross_entropy, kwargs)
    gradcheck(lambda x: call(x, target), randn(*shape))


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_gradcheck_nll_loss(name):
    kwargs, shape, target = LOSS_CASES[name]
    call = _loss_call(F.nll_loss, kwargs)
    gradcheck(lambda x: call(x, target), randn(*shape))


# ----------------------------------------------------------------------------- forward values
UNARY = {
    "exp": (lambda t: t.exp(), np.exp, randn),
    "log": (lambda t: t.log(), np.log, pos),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, pos),
    "abs": (lambda t: t.abs(), np.abs, randn),
    "neg": (lambda t: -t, np.negative, randn),
    "relu": (F.relu, lambda x: np.maximum(x, 0), randn),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), lambda x: ref.leaky_relu(x, 0.1), randn),
    "sigmoid": (F.sigmoid, ref.sigmoid, randn),
    "tanh": (F.tanh, np.tanh, randn),
    "pow": (lambda t: t ** 3, lambda x: x ** 3, randn),
    "softmax": (lambda t: F.softmax(t, 1), lambda x: ref.softmax(x, 1), randn),
    "log_softmax": (lambda t: F.log_softmax(t, 0), lambda x: ref.log_softmax(x, 0), randn),
    "sum": (lambda t: t.sum(1, keepdim=True), lambda x: x.sum(1, keepdims=True), randn),
    "mean": (lambda t: t.mean((0, 2)), lambda x: x.mean((0, 2)), randn),
    "max": (lambda t: t.max(2)[0], lambda x: x.max(2), randn),
    "min": (lambda t: t.min(), lambda x: x.min(), randn),
    "permute": (lambda t: t.permute(1, 2, 0), lambda x: x.transpose(1, 2, 0), randn),
    "slice": (lambda t: t[::-1, 1:, [0, 0, 3]], lambda x: x[::-1, 1:, [0, 0, 3]], randn),
    "pad": (lambda t: F.pad(t, (1, 1, 2, 0), value=-1.0), lambda x: ref.pad_constant(x, (1, 1, 2, 0), -1.0), randn),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_forward_unary(name, dtype):
    fn, reference, make = UNARY[name]
    x = make(3, 5, 4)
    out = fn(T(x, dtype))
    assert out.dtype == np.dtype(dtype)
    assert_close(out, reference(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa, sb", [((4,), (4,)), ((3,), (3, 5)), ((7, 3), (3,)), ((5, 17), (17, 9)),
                                    ((2, 1, 3, 4), (3, 4, 5)), ((3, 2, 4), (4, 2)), ((2, 5), (3, 5, 2))])
def test_forward_matmul(sa, sb, dtype):
    a, b = randn(*sa), randn(*sb)
    out = T(a, dtype) @ T(b, dtype)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, ref.matmul(a, b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, bias", [((5, 7), True), ((2, 3, 7), False), ((7,), True)])
def test_forward_linear(xs, bias, dtype):
    x, w, b = randn(*xs), randn(4, 7), randn(4)
    out = F.linear(T(x, dtype), T(w, dtype), T(b, dtype) if bias else None)
    assert_close(out, ref.linear(x, w, b if bias else None), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted({**LOSS_CASES, **SMOOTH_CASES}))
def test_forward_cross_entropy(name, dtype):
    kwargs, shape, target = {**LOSS_CASES, **SMOOTH_CASES}[name]
    x = randn(*shape)
    out = _loss_call(F.cross_entropy, kwargs, dtype)(T(x, dtype), target)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, ref.cross_entropy(x, target, **kwargs), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_forward_nll_loss(name, dtype):
    kwargs, shape, target = LOSS_CASES[name]
    x = randn(*shape)
    out = _loss_call(F.nll_loss, kwargs, dtype)(T(x, dtype), target)
    assert_close(out, ref.nll_loss(x, target, **kwargs), dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_forward_mse_loss(reduction):
    a, b = randn(3, 4), randn(3, 4)
    assert_close(F.mse_loss(T(a, "float32"), T(b, "float32"), reduction=reduction),
                 ref.mse_loss(a, b, reduction), "float32")


def test_cross_entropy_modules_match_functional():
    x, t = randn(3, 4), pycnn.tensor(TARGET3)
    w = T(W4)
    np.testing.assert_allclose(pycnn.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(T(x), t).item(),
                               ref.cross_entropy(x, TARGET3, W4, label_smoothing=0.1), rtol=1e-12)
    np.testing.assert_allclose(pycnn.nn.NLLLoss(reduction="sum")(T(x), t).item(),
                               ref.nll_loss(x, TARGET3, reduction="sum"), rtol=1e-12)
    np.testing.assert_allclose(pycnn.nn.MSELoss()(T(x), T(x + 1)).item(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_stable_for_large_logits(dtype):
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1003.0, -1001.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm = F.softmax(T(x, dtype), 1)
        lsm = F.log_softmax(T(x, dtype), 1)
        ce = F.cross_entropy(T(x, dtype), pycnn.tensor([2, 0]))
    assert np.all(np.isfinite(sm.numpy())) and np.all(np.isfinite(lsm.numpy()))
    assert_close(sm, ref.softmax(x, 1), dtype)
    assert_close(lsm, ref.log_softmax(x, 1), dtype)
    assert_close(ce, ref.cross_entropy(x, [2, 0]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_large_inputs_no_overflow(dtype):
    x = np.array([-1000.0, -80.0, -1.0, 0.0, 2.0, 80.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid(T(x, dtype, requires_grad=True))
        y.sum().backward()
    assert_close(y, ref.sigmoid(x), dtype)
    assert y.detach().numpy()[0] >= 0 and y.detach().numpy()[-1] == 1.0


def test_max_all_ties_split_gradient_evenly():
    x = T([[1.0, 3.0], [3.0, 0.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5], [0.5, 0]])


def test_max_dim_ties_gradient_to_first():
    x = T([[2.0, 2.0, 1.0]], requires_grad=True)
    v, i = x.max(1)
    assert i.tolist() == [0]
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 0.0]])


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.25, 0.5, 0.8])
def test_dropout_mask_scaling_and_grad(p):
    x = T(pos(40, 25), requires_grad=True)
    pycnn.manual_seed(7)
    y = F.dropout(x, p)
    out = y.detach().numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], x.detach().numpy()[kept] / (1 - p), rtol=1e-12)
    assert abs(kept.mean() - (1 - p)) < 0.05
    g = randn(40, 25)
    y.backward(T(g))
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, g / (1 - p), 0.0), rtol=1e-12)
    pycnn.manual_seed(7)                                  # same seed, same mask
    np.testing.assert_array_equal(F.dropout(x, p).detach().numpy(), out)


def test_dropout_eval_and_edges():
    x = T(randn(3, 4), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert np.all(F.dropout(x, 1.0).detach().numpy() == 0)
    m = pycnn.nn.Dropout(0.5)
    m.eval()
    assert m(x) is x
    m.train()
    assert np.any(m(x).detach().numpy() == 0)
