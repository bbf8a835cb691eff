"""Tensor attributes, conversions, constructors, seeding and dtype promotion (PyTorch rules)."""
import numpy as np
import pytest

import pycnn
from helpers import randn


def test_attributes_default_float32():
    t = pycnn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == pycnn.float32
    assert t.device == "cpu" and t.requires_grad is False and t.grad is None
    assert t.size() == (2, 3) and t.size(1) == 3 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.is_leaf and t.grad_fn is None


@pytest.mark.parametrize("data, dtype", [
    ([1.5, 2.5], "float32"),            # Python floats -> default float32
    ([1, 2, 3], "int64"),               # Python ints -> int64
    (3, "int64"),
    (2.5, "float32"),
    (True, "bool"),
    ([[1, 2], [3.5, 4]], "float32"),    # mixed int/float -> float
    (np.arange(4, dtype=np.float64), "float64"),   # numpy float64 keeps float64
    (np.arange(4, dtype=np.float32), "float32"),
    (np.arange(4, dtype=np.int32), "int64"),
    (np.float64(1.5), "float64"),       # a numpy float64 scalar is float64 in torch too
])
def test_tensor_constructor_dtypes(data, dtype):
    t = pycnn.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_copies_and_accepts_non_contiguous():
    base = randn(4, 6)
    view = base[::2, ::-3].T                 # non-contiguous, negative strides
    t = pycnn.tensor(view)
    np.testing.assert_array_equal(t.numpy(), view)
    assert t.numpy().flags.c_contiguous
    base[...] = 7.0                          # tensor() copies
    assert not np.any(t.numpy() == 7.0)


def test_tensor_explicit_dtype_device_requires_grad():
    t = pycnn.tensor([1, 2], dtype=pycnn.float64, device="cpu", requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    assert pycnn.tensor([1.0], dtype="float32").dtype == np.float32
    assert pycnn.tensor([1.7, -2.7], dtype="int64").tolist() == [1, -2]


def test_tensor_from_list_of_tensors():
    t = pycnn.tensor([pycnn.tensor([1.0, 2.0]), pycnn.tensor([3.0, 4.0])])
    assert t.shape == (2, 2) and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="requires_grad"):
        pycnn.tensor([1, 2], requires_grad=True)


def test_numpy_item_detach():
    t = pycnn.tensor([[2.5]], requires_grad=True)
    with pytest.raises(RuntimeError, match="numpy"):
        t.numpy()
    d = t.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), t.detach().numpy())  # detach shares storage, like torch
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert isinstance(pycnn.tensor([3]).item(), int)
    with pytest.raises(ValueError, match="item"):
        pycnn.ones(2).item()
    assert float(pycnn.tensor(1.5)) == 1.5 and int(pycnn.tensor(4)) == 4


def test_requires_grad_():
    t = pycnn.randn(3)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad


def test_to_dtype_and_device():
    t = pycnn.tensor([1.25, -2.5])
    assert t.to("cpu") is t and t.to(pycnn.float32) is t
    d = t.to(pycnn.float64)
    assert d.dtype == np.float64 and d.tolist() == [1.25, -2.5]
    assert t.to("cpu", "float64").dtype == np.float64
    assert t.to(dtype="int64").tolist() == [1, -2]
    assert t.double().dtype == np.float64 and t.long().dtype == np.int64 and d.float().dtype == np.float32
    # a cast is differentiable
    x = pycnn.tensor([1.0, 2.0], requires_grad=True)
    (x.to(pycnn.float64) * 3).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


def test_to_cuda_unavailable_raises_clearly():
    if pycnn.cuda.is_available():
        pytest.skip("this machine has a GPU: the unavailable-device path cannot be reached")
    with pytest.raises(RuntimeError, match="cuda"):
        pycnn.ones(2).to("cuda")
    with pytest.raises(ValueError, match="device"):
        pycnn.ones(2, device="tpu")


@pytest.mark.parametrize("fn", [pycnn.zeros, pycnn.ones, pycnn.randn, pycnn.rand])
def test_factories(fn):
    t = fn(2, 3)
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert fn((4,)).shape == (4,)
    assert fn(2, dtype=pycnn.float64).dtype == np.float64
    assert fn(2, requires_grad=True).requires_grad


def test_factory_values():
    assert np.all(pycnn.zeros(3).numpy() == 0) and np.all(pycnn.ones(2, 2).numpy() == 1)
    r = pycnn.rand(1000).numpy()
    assert r.min() >= 0 and r.max() < 1 and 0.4 < r.mean() < 0.6
    n = pycnn.randn(4000).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    with pytest.raises(ValueError):
        pycnn.zeros(-1)


def test_full_infers_dtype_from_fill_value():
    assert pycnn.full((2,), 1).dtype == np.int64
    assert pycnn.full((2, 2), 1.5).dtype == np.float32
    assert pycnn.full((2,), 1.5).tolist() == [1.5, 1.5]


def test_arange():
    assert pycnn.arange(5).tolist() == [0, 1, 2, 3, 4] and pycnn.arange(5).dtype == np.int64
    assert pycnn.arange(2, 8, 3).tolist() == [2, 5]
    a = pycnn.arange(0, 1, 0.25)
    assert a.dtype == np.float32 and a.tolist() == [0, 0.25, 0.5, 0.75]
    assert pycnn.arange(3, dtype=pycnn.float64).dtype == np.float64
    with pytest.raises(ValueError, match="arange"):
        pycnn.arange(0, 3, 0)


def test_manual_seed_reproducible():
    pycnn.manual_seed(123)
    a, b = pycnn.randn(5).numpy(), pycnn.rand(3).numpy()
    lin1 = pycnn.nn.Linear(3, 2).weight.detach().numpy().copy()
    pycnn.manual_seed(123)
    np.testing.assert_array_equal(pycnn.randn(5).numpy(), a)
    np.testing.assert_array_equal(pycnn.rand(3).numpy(), b)
    np.testing.assert_array_equal(pycnn.nn.Linear(3, 2).weight.detach().numpy(), lin1)
    assert not np.array_equal(pycnn.randn(5).numpy(), a)


# ----------------------------------------------------------------------------- promotion
F32 = lambda: pycnn.tensor([1.5, 2.5])                      # noqa: E731
F64 = lambda: pycnn.tensor([1.5, 2.5], dtype="float64")     # noqa: E731
I64 = lambda: pycnn.tensor([3, 4])                          # noqa: E731


@pytest.mark.parametrize("expr, dtype", [
    (lambda: F32() + 1.5, "float32"),          # Python float does not widen float32
    (lambda: 2.0 * F32(), "float32"),
    (lambda: F32() + np.float64(1.0), "float32"),
    (lambda: F32() + 2, "float32"),
    (lambda: F32() + F64(), "float64"),        # tensor + tensor: wider float wins
    (lambda: F64() - F32(), "float64"),
    (lambda: I64() + 1.5, "float32"),          # int tensor + float scalar -> default float
    (lambda: I64() * 2, "int64"),
    (lambda: I64() / 2, "float32"),            # true division of ints -> float
    (lambda: I64() / I64(), "float32"),
    (lambda: I64() + F64(), "float64"),
    (lambda: I64() + F32(), "float32"),
    (lambda: F32() ** 2, "float32"),
    (lambda: 2 ** F32(), "float32"),
    (lambda: I64() ** 2, "int64"),
    (lambda: pycnn.cat([F32(), I64()]), "float32"),
    (lambda: pycnn.stack([I64(), F64()]), "float64"),
    (lambda: pycnn.where(pycnn.tensor([True, False]), F32(), 0.0), "float32"),
    (lambda: I64().exp(), "float32"),           # float math on ints -> default float (torch)
    (lambda: pycnn.sqrt(I64()), "float32"),
    (lambda: pycnn.sigmoid(I64()), "float32"),
    (lambda: I64().sum(), "int64"),
    (lambda: pycnn.tensor([True, False]) + pycnn.tensor([True, True]), "bool"),
])
def test_dtype_promotion(expr, dtype):
    assert expr().dtype == np.dtype(dtype)


def test_promotion_values():
    np.testing.assert_allclose((I64() / 2).numpy(), [1.5, 2.0])
    np.testing.assert_allclose((F32() * F64()).numpy(), [2.25, 6.25])
    np.testing.assert_allclose((1 - F32()).numpy(), [-0.5, -1.5])
    np.testing.assert_allclose((3 / F32()).numpy(), [2.0, 1.2], rtol=1e-6)


def test_comparisons_and_inplace():
    t = pycnn.tensor([1.0, 5.0, 3.0])
    assert (t > 2).tolist() == [False, True, True] and (t == 3).tolist() == [False, False, True]
    t.add_(1).mul_(2)
    assert t.tolist() == [4.0, 12.0, 8.0]
    p = pycnn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        p.add_(1)
    with pycnn.no_grad():
        p.sub_(pycnn.tensor([0.5, 0.25]))
    assert p.tolist() == [0.5, 0.75]


def test_repr():
    assert repr(pycnn.tensor([1.0, 2.0])).startswith("tensor([1., 2.]")
    assert "float64" in repr(pycnn.tensor([1.0], dtype="float64"))
    assert "requires_grad=True" in repr(pycnn.ones(1, requires_grad=True))
    assert "grad_fn" in repr(pycnn.ones(1, requires_grad=True) * 2)
