"""Extra checks against PyTorch itself, when it happens to be importable (never a dependency;
the numpy-reference tests in the other files are the required ones)."""
from collections import OrderedDict

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from helpers import randn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def nets():
    def build(nn):
        return nn.Sequential(OrderedDict([
            ("features", nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4, bias=False))),
            ("act", nn.ReLU()),
            ("head", nn.Sequential(nn.Dropout(0.1), nn.Linear(4, 3))),
        ]))
    return build(pycnn.nn), build(torch.nn)


def test_state_dict_keys_shapes_and_transfer_match_torch():
    ours, theirs = nets()
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours) == list(sd_theirs)
    assert {k: v.shape for k, v in sd_ours.items()} == {k: tuple(v.shape) for k, v in sd_theirs.items()}
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in sd_theirs.items()})      # torch -> pycnn
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    x = randn(7, 6).astype(np.float32)
    np.testing.assert_allclose(ours(pycnn.tensor(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_linear_default_init_matches_torch_distribution():
    pycnn.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = pycnn.nn.Linear(400, 50), torch.nn.Linear(400, 50)
    a, b = ours.weight.detach().numpy(), theirs.weight.detach().numpy()
    assert abs(np.abs(a).max() - np.abs(b).max()) < 0.01 * np.abs(b).max()
    assert abs(a.std() - b.std()) < 0.05 * b.std()
    bound = 1 / np.sqrt(400)
    assert np.abs(ours.bias.detach().numpy()).max() <= bound and np.abs(theirs.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("opts", [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
                                  dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
                                  dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                                  dict(lr=0.1, momentum=0.5, maximize=True)])
def test_sgd_matches_torch(opts):
    p0, grads = randn(3, 2), [randn(3, 2) for _ in range(3)]
    p = pycnn.tensor(p0, dtype="float64", requires_grad=True)
    q = torch.tensor(p0, requires_grad=True)
    ours, theirs = pycnn.optim.SGD([p], **opts), torch.optim.SGD([q], **opts)
    for g in grads:
        p.grad, q.grad = pycnn.tensor(g), torch.tensor(g)
        ours.step()
        theirs.step()
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_schedulers_match_torch():
    for make in (lambda m, o: m.StepLR(o, step_size=3, gamma=0.3),
                 lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01)):
        po = pycnn.optim.SGD([pycnn.ones(1, requires_grad=True)], lr=0.2)
        to = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.2)
        ps, ts = make(pycnn.optim.lr_scheduler, po), make(torch.optim.lr_scheduler, to)
        for _ in range(12):
            assert po.param_groups[0]["lr"] == pytest.approx(to.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
            to.step()
            ps.step()
            ts.step()


CE_CASES = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(weight=True),
            dict(ignore_index=1), dict(weight=True, ignore_index=2, reduction="sum"),
            dict(label_smoothing=0.2), dict(label_smoothing=0.1, weight=True, ignore_index=0),
            dict(label_smoothing=0.3, reduction="none", ignore_index=2),
            dict(label_smoothing=0.3, reduction="sum", weight=True)]


@pytest.mark.parametrize("nd", [False, True])
@pytest.mark.parametrize("kw", CE_CASES)
def test_cross_entropy_and_nll_match_torch(kw, nd):
    shape, tshape = ((2, 3, 4), (2, 4)) if nd else ((5, 3), (5,))
    x = randn(*shape)
    t = np.random.default_rng(0).integers(0, 3, tshape)
    w = np.array([0.4, 1.3, 2.0])
    kw_ours = dict(kw, weight=pycnn.tensor(w, dtype="float64")) if kw.get("weight") else dict(kw)
    kw_torch = dict(kw, weight=torch.tensor(w)) if kw.get("weight") else dict(kw)
    for ours_fn, torch_fn in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
        if ours_fn is F.nll_loss:
            kw_ours.pop("label_smoothing", None), kw_torch.pop("label_smoothing", None)
        a = pycnn.tensor(x, dtype="float64", requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        la, lb = ours_fn(a, pycnn.tensor(t), **kw_ours), torch_fn(b, torch.tensor(t), **kw_torch)
        np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = randn(*la.shape)
        la.backward(pycnn.tensor(g, dtype="float64"))
        lb.backward(torch.tensor(g))
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


OPS = {
    "softmax": (lambda m, x: m.softmax(x, 1) if m is F else TF.softmax(x, 1)),
    "log_softmax": (lambda m, x: F.log_softmax(x, 0) if m is F else TF.log_softmax(x, 0)),
    "sigmoid": (lambda m, x: x.sigmoid()),
    "max_dim": (lambda m, x: x.max(1)[0]),
    "max_all": (lambda m, x: x.max()),
    "amax": (lambda m, x: pycnn.amax(x, (0, 1)) if m is F else torch.amax(x, (0, 1))),
    "slicing": (lambda m, x: x[::2, [2, 0, 2]] if m is F else x[::2][:, [2, 0, 2]]),
    "matmul_broadcast": (lambda m, x: x @ x.transpose(0, 1).reshape(1, 4, 3) if m is F else
                         x @ x.transpose(0, 1).reshape(1, 4, 3)),
    "pad": (lambda m, x: F.pad(x, (1, 2, 2, 0), value=0.3) if m is F else TF.pad(x, (1, 2, 2, 0), value=0.3)),
    "leaky_relu": (lambda m, x: F.leaky_relu(x, 0.3) if m is F else TF.leaky_relu(x, 0.3)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_match_torch(name):
    x = randn(3, 4)
    x[0, 1] = x[2, 3] = x.max() + 1      # a tie for the max-style ops
    a = pycnn.tensor(x, dtype="float64", requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = OPS[name](F, a), OPS[name](torch, b)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-12)
    g = randn(*ya.shape)
    ya.backward(pycnn.tensor(g, dtype="float64"))
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1.5, 2.5]) + 1.5, lambda m: m.tensor([3, 4]) / 2, lambda m: m.tensor([3, 4]) + 1.5,
    lambda m: m.tensor([1.0], dtype=m.float64) * m.tensor([2.0]), lambda m: m.tensor([3, 4]) * 2,
    lambda m: m.arange(3).exp(), lambda m: m.full((2,), 1), lambda m: m.tensor(np.float64(2.0)),
    lambda m: m.cat([m.ones(2), m.arange(2)]), lambda m: m.arange(0, 1, 0.5), lambda m: m.tensor([1, 2.5])])
def test_dtype_rules_match_torch(make):
    assert str(make(pycnn).dtype) == str(make(torch).dtype).replace("torch.", "")
