"""Regression tests for the reliability probe (issue 11): each test failed before its fix."""
import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from helpers import randn
from reference import pool as ref


# ----------------------------------------------------------------------------- wrong results
@pytest.mark.parametrize("planes", [1, 5, 6, 7, 12, 33])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool2d_dilated_rows_with_many_planes(planes, dtype):
    """The fixed 2x2 s2 kernel splits a plane's output rows into blocks when there are few planes;
    with padding and row dilation an output's first valid row can lie below the next output's, and
    the block read input rows it had not staged (whole output rows wrong from 6 planes on)."""
    x = randn(planes, 1, 7, 5, dtype=dtype)
    args = ((2, 2), (1, 2), (1, 1), (2, 1), False)
    y, idx = F.max_pool2d(pycnn.tensor(x), *args, return_indices=True)
    ry, ridx = ref.max_pool2d(x, *args)
    np.testing.assert_array_equal(y.numpy(), ry.astype(dtype))
    np.testing.assert_array_equal(idx.numpy(), ridx)


def test_relu_of_minus_inf_is_zero_and_never_negative_zero():
    x = pycnn.tensor([-np.inf, -1.0, 0.0, 2.0, np.nan], requires_grad=True)
    y = F.relu(x)
    out = y.detach().numpy()
    np.testing.assert_array_equal(out[:4], [0.0, 0.0, 0.0, 2.0])
    assert not np.signbit(out[:4]).any()
    assert np.isnan(out[4])
    # an infinite upstream gradient where x <= 0 gives 0, not NaN (a select, not a product)
    y.backward(pycnn.tensor([1.0, np.inf, 1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("op,kwargs", [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                                       ("cross_entropy", {"weight": "ones"}), ("nll_loss", {}),
                                       ("nll_loss", {"weight": "ones"})])
def test_mean_loss_of_a_fully_ignored_batch_has_a_zero_gradient(op, kwargs):
    """PyTorch: the loss is NaN (0/0) but its gradient is zero, so one fully ignored batch does
    not destroy the weights."""
    kwargs = {k: pycnn.ones(4) if v == "ones" else v for k, v in kwargs.items()}
    logits = pycnn.tensor(randn(3, 4), requires_grad=True)
    target = pycnn.full((3,), -100)
    inp = F.log_softmax(logits, 1) if op == "nll_loss" else logits
    loss = getattr(F, op)(inp, target, **kwargs)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(logits.grad.numpy(), np.zeros((3, 4)))
