"""The tape: topological backward, accumulation, no_grad, retain_graph, multi-output nodes."""
import numpy as np
import pytest

import pycnn
from helpers import randn


def leaf(*shape, dtype="float64"):
    return pycnn.tensor(randn(*shape), dtype=dtype, requires_grad=True)


def test_diamond_graph():
    # y = a*b + a/b where a = exp(x) and b = x + 1 both depend on x
    xv = randn(5) ** 2 + 0.5
    x = pycnn.tensor(xv, dtype="float64", requires_grad=True)
    a, b = x.exp(), x + 1
    (a * b + a / b).sum().backward()
    ea, bv = np.exp(xv), xv + 1
    expected = ea * bv + ea + ea / bv - ea / bv ** 2
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_tensor_reused_twice():
    x = leaf(4)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-12)
    y = leaf(3)
    (y + y + y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [3.0, 3.0, 3.0])


def test_grads_accumulate_over_two_backward_calls():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * x.detach().numpy(), rtol=1e-12)


def test_grad_dtype_matches_leaf():
    x = leaf(4, dtype="float32")
    (x * pycnn.tensor(2.0, dtype="float64")).sum().backward()   # graph runs in float64
    assert x.grad.dtype == np.float32
    (x.max() + x.sum()).backward()                             # accumulation keeps float32 too
    assert x.grad.dtype == np.float32


def test_no_grad_context_and_decorator():
    x = leaf(3)
    with pycnn.no_grad():
        y = x * 2
        assert not pycnn.is_grad_enabled()
    assert pycnn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @pycnn.no_grad()
    def f(t):
        return t * 3

    @pycnn.no_grad
    def g(t):
        return t * 4

    assert not f(x).requires_grad and not g(x).requires_grad and pycnn.is_grad_enabled()
    with pycnn.no_grad():
        with pycnn.enable_grad():
            assert (x * 1).requires_grad
        assert not (x * 1).requires_grad


def test_no_grad_restores_mode_on_exception():
    with pytest.raises(KeyError):
        with pycnn.no_grad():
            raise KeyError("x")
    assert pycnn.is_grad_enabled()


def test_retain_graph():
    x = leaf(3)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    x.grad = None
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)


def test_backward_on_shared_subgraph_after_free_raises():
    x = leaf(3)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


def test_nonscalar_backward_needs_gradient():
    x = leaf(2, 3)
    y = x * 3
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    g = randn(2, 3)
    y.backward(pycnn.tensor(g, dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy(), 3 * g)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 3).backward(pycnn.ones(3, 2, dtype="float64"))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        pycnn.ones(2).sum().backward()


def test_no_grad_recorded_for_inputs_without_requires_grad():
    x = leaf(3)
    c = pycnn.tensor(randn(3), dtype="float64")
    out = (x * c + c.exp()).sum()
    out.backward()
    assert c.grad is None and x.grad is not None
    assert not (c * 2).requires_grad


def test_non_leaf_grad_not_stored_and_leaf_flags():
    x = leaf(3)
    h = x * 2
    assert not h.is_leaf and h.requires_grad
    h.sum().backward()
    assert h.grad is None


def test_detach_stops_gradient():
    x = leaf(3)
    y = (x * x.detach()).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), x.detach().numpy())


def test_deep_chain_has_no_recursion_limit():
    x = pycnn.tensor([1.0], dtype="float64", requires_grad=True)
    y = x
    for _ in range(10000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10000], rtol=1e-9)
    # dropping a deep graph that was never backwarded must not crash either
    z = x
    for _ in range(10000):
        z = z + 1.0
    del z


def test_multi_output_max_with_dim():
    xv = randn(3, 5)
    x = pycnn.tensor(xv, dtype="float64", requires_grad=True)
    values, indices = x.max(dim=1)
    res = x.max(dim=1)
    assert res.values.shape == (3,) and res.indices.dtype == np.int64
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), xv.argmax(1))
    np.testing.assert_array_equal(values.detach().numpy(), xv.max(1))
    (values * pycnn.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    expected = np.zeros_like(xv)
    expected[np.arange(3), xv.argmax(1)] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_unused_output_of_multi_output_node():
    # only the min values feed the loss; the indices output gets no grad
    x = leaf(4, 2)
    v, i = pycnn.min(x, dim=0, keepdim=True)
    assert v.shape == (1, 2) and i.shape == (1, 2)
    v.sum().backward()
    assert x.grad.numpy().sum() == 2.0


def test_leaf_grad_is_not_aliased():
    x = leaf(3)
    y = x * 1.0
    y.backward(pycnn.ones(3, dtype="float64"))
    g = x.grad.numpy()
    (x.sum()).backward()
    assert g is not x.grad.numpy() or np.all(g == 2.0)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
