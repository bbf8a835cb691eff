"""Activations and losses of issue 15 (pycnn/functional/_activation.py, pycnn/nn/activation.py):
values and gradients against PyTorch where importable, float64 finite differences always."""
import numpy as np
import pytest

import pycnn
import pycnn.nn.functional as F
from helpers import gradcheck, randn

RNG = np.random.default_rng(11)
PROB = RNG.uniform(0.05, 0.95, (3, 4))
BITS = (RNG.random((3, 4)) > 0.5).astype(np.float64)

# (name, pycnn fn, torch fn (same call on torch tensors / torch.nn.functional), input shapes)
CASES = [
    ("elu", lambda F, x: F.elu(x), [(3, 5)]),
    ("elu_alpha", lambda F, x: F.elu(x, alpha=0.3), [(3, 5)]),
    ("gelu", lambda F, x: F.gelu(x), [(4, 5)]),
    ("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), [(4, 5)]),
    ("silu", lambda F, x: F.silu(x), [(3, 5)]),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x * 4), [(3, 5)]),
    ("hardswish", lambda F, x: F.hardswish(x * 4), [(3, 5)]),
    ("softplus", lambda F, x: F.softplus(x * 3), [(3, 5)]),
    ("softplus_beta", lambda F, x: F.softplus(x * 9, beta=2.0, threshold=5.0), [(3, 5)]),
    ("l1", lambda F, x, y: F.l1_loss(x, y), [(3, 4), (3, 4)]),
    ("l1_none", lambda F, x, y: F.l1_loss(x, y, reduction="none"), [(3, 4), (3, 4)]),
    ("smooth_l1", lambda F, x, y: F.smooth_l1_loss(x, y, beta=0.5), [(3, 4), (3, 4)]),
    ("smooth_l1_sum", lambda F, x, y: F.smooth_l1_loss(x, y, reduction="sum"), [(3, 4), (3, 4)]),
    ("huber", lambda F, x, y: F.huber_loss(x, y, delta=0.7), [(3, 4), (3, 4)]),
    ("bce", lambda F, x: F.binary_cross_entropy((x * 0.1).sigmoid(), _t(F, PROB)), [(3, 4)]),
    ("bce_weight", lambda F, x: F.binary_cross_entropy((x * 0.1).sigmoid(), _t(F, BITS), weight=_t(F, PROB)),
     [(3, 4)]),
    ("bce_logits", lambda F, x: F.binary_cross_entropy_with_logits(x * 5, _t(F, PROB)), [(3, 4)]),
    ("bce_logits_pos", lambda F, x: F.binary_cross_entropy_with_logits(
        x * 5, _t(F, BITS), pos_weight=_t(F, np.array([1.0, 2.0, 0.5, 3.0])), reduction="sum"), [(3, 4)]),
    ("kl_div", lambda F, x: F.kl_div(F.log_softmax(x, 1), _t(F, PROB / PROB.sum(1, keepdims=True)),
                                     reduction="batchmean"), [(3, 4)]),
    ("kl_div_log", lambda F, x: F.kl_div(F.log_softmax(x, 1), _t(F, np.log(PROB)), reduction="sum",
                                         log_target=True), [(3, 4)]),
    ("normalize", lambda F, x: F.normalize(x, dim=1), [(3, 4)]),
    ("normalize_p1", lambda F, x: F.normalize(x, p=1.0, dim=0), [(3, 4)]),
    ("cosine", lambda F, x, y: F.cosine_similarity(x, y), [(3, 4), (3, 4)]),
]


def _t(F, a):
    """A constant of the library that F belongs to."""
    if F is pycnn.functional:
        return pycnn.tensor(a)
    import torch
    return torch.tensor(a)


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_finite_differences(name, fn, shapes):
    arrays = [randn(*s) for s in shapes]
    gradcheck(lambda *t: fn(F, *t), *arrays, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, fn, shapes):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    arrays = [randn(*s) for s in shapes]
    ours = [pycnn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(F, *ours), fn(tf, *theirs)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    r = randn(*ty.shape)
    (y * pycnn.tensor(r)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    # torch's hardsigmoid/hardswish backward use the float constant 1.0f / 6.0f even in float64
    rtol = 1e-7 if name.startswith("hard") else 1e-9
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=1e-12)


def test_modules_match_torch_reprs_and_outputs():
    torch = pytest.importorskip("torch")
    x = randn(2, 6).astype(np.float32)
    for name, kw in [("ELU", {"alpha": 0.5}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Hardswish", {}),
                     ("Hardsigmoid", {}), ("Softplus", {"beta": 2.0}), ("ReLU6", {})]:
        ours, theirs = getattr(pycnn.nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(pycnn.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
    y = RNG.random((2, 6)).astype(np.float32)
    for name in ("L1Loss", "SmoothL1Loss", "HuberLoss", "BCEWithLogitsLoss"):
        ours = getattr(pycnn.nn, name)()(pycnn.tensor(x), pycnn.tensor(y))
        theirs = getattr(torch.nn, name)()(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6)


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    t = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(pycnn.tensor(t)).numpy(), torch.nn.functional.one_hot(torch.tensor(t)).numpy())
    assert F.one_hot(pycnn.tensor([1]), num_classes=5).shape == (1, 5)
    with pytest.raises(RuntimeError, match="one_hot: class values must be smaller"):
        F.one_hot(pycnn.tensor([5]), num_classes=3)


def test_bad_input_names_the_op():
    x = pycnn.tensor(randn(2, 3))
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x, pycnn.tensor(PROB[:2, :3]))
    with pytest.raises(ValueError, match="l1_loss: target shape"):
        F.l1_loss(x, pycnn.tensor(randn(3, 2)))
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="elu\\(\\): argument 'input' must be a Tensor"):
        F.elu([1.0])
    with pytest.raises(ValueError, match="huber_loss: reduction"):
        F.huber_loss(x, x, reduction="avg")


def test_inplace_activations_write_into_the_input():
    x = pycnn.tensor(randn(3, 4))
    expected = F.silu(x).numpy()
    y = pycnn.nn.SiLU(inplace=True)(x)
    assert y is x
    np.testing.assert_allclose(x.numpy(), expected)
