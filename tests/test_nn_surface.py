"""nn surface of issue 15: containers (item assignment, del, insert, slicing, ModuleDict,
ParameterList/Dict), Dropout2d, Unflatten, nn.utils' gradient helpers; against torch where it is
importable and against the defining rules always."""
import numpy as np
import pytest

import pycnn
from pycnn import nn
from helpers import randn


def _edit(lib):
    s = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
    s[1] = lib.nn.Tanh()
    del s[0]
    s.insert(0, lib.nn.Linear(2, 4))
    s.append(lib.nn.Sigmoid())
    s.insert(-1, lib.nn.Identity())
    return s


def test_sequential_editing_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _edit(pycnn), _edit(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours[1:3]) == repr(theirs[1:3])
    assert repr(ours + nn.Sequential(nn.ReLU())) == repr(theirs + torch.nn.Sequential(torch.nn.ReLU()))


def test_sequential_and_modulelist_rules():
    s = _edit(pycnn)
    assert [type(m).__name__ for m in s] == ["Linear", "Tanh", "Linear", "Identity", "Sigmoid"]
    assert isinstance(s.pop(1), nn.Tanh) and len(s) == 4 and list(s._modules) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="Sequential.__getitem__: index 9 is out of range for length 4"):
        s[9]
    ml = nn.ModuleList([nn.ReLU()])
    ml.extend([nn.Tanh(), nn.Sigmoid()]).insert(1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Identity", "Tanh", "Sigmoid"]
    assert len(ml[1:]) == 3 and isinstance(ml[-1], nn.Sigmoid)
    del ml[1:3]
    assert [type(m).__name__ for m in ml] == ["ReLU", "Sigmoid"]


def test_moduledict_parameterlist_parameterdict():
    torch = pytest.importorskip("torch")
    d = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    td = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(1, 2, 3), "act": torch.nn.ReLU()})
    assert repr(d) == repr(td) and list(d.state_dict()) == list(td.state_dict()) and "act" in d
    d["pool"] = nn.MaxPool2d(2)
    assert list(d.keys()) == ["conv", "act", "pool"]
    pl = nn.ParameterList([pycnn.ones(2), nn.Parameter(pycnn.zeros(3))])
    assert [p.shape for p in pl.parameters()] == [(2,), (3,)] and all(isinstance(p, nn.Parameter) for p in pl)
    pdict = nn.ParameterDict({"a": pycnn.ones(1)})
    assert list(dict(pdict.named_parameters())) == ["a"]
    with pytest.raises(TypeError, match="ParameterList: expected a Parameter or a Tensor"):
        pl.append(3.0)


def test_dropout2d_drops_whole_channels_and_scales():
    pycnn.manual_seed(0)
    x = pycnn.ones(64, 16, 3, 3, requires_grad=True)
    y = nn.Dropout2d(0.25)(x)
    a = y.detach().numpy()
    per_channel = a.reshape(64, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 1 / 0.75).all(-1)).all()  # whole channels
    assert 0.15 < (per_channel[..., 0] == 0).mean() < 0.35
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)  # d/dx of mask * x / (1 - p)
    m = nn.Dropout2d(0.25).eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="dropout2d: expected a 3-D or 4-D input"):
        nn.functional.dropout2d(pycnn.ones(2, 3))


def test_unflatten_matches_torch():
    torch = pytest.importorskip("torch")
    a = randn(2, 12)
    np.testing.assert_array_equal(nn.Unflatten(1, (3, -1))(pycnn.tensor(a)).numpy(),
                                  torch.nn.Unflatten(1, (3, -1))(torch.tensor(a)).numpy())
    assert repr(nn.Unflatten(1, (3, 4))) == repr(torch.nn.Unflatten(1, (3, 4)))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = [randn(3, 4), randn(5)]
    ours = [nn.Parameter(pycnn.tensor(randn(*g.shape))) for g in grads]
    theirs = [torch.nn.Parameter(torch.tensor(p.detach().numpy())) for p in ours]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = pycnn.tensor(g), torch.tensor(g)
    n = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(n.item(), tn.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_vector_round_trip():
    p = nn.Parameter(pycnn.tensor(randn(2, 3)))
    p.grad = pycnn.tensor(randn(2, 3) * 3)
    nn.utils.clip_grad_value_([p], 0.5)
    assert np.abs(p.grad.numpy()).max() <= 0.5
    q = nn.Parameter(pycnn.tensor(randn(4)))
    vec = nn.utils.parameters_to_vector([p, q])
    assert vec.shape == (10,)
    nn.utils.vector_to_parameters(vec * 2, [p, q])
    np.testing.assert_allclose(q.detach().numpy(), vec.detach().numpy()[6:] * 2)
    with pytest.raises(ValueError, match="vector_to_parameters: the vector has 3 elements"):
        nn.utils.vector_to_parameters(pycnn.ones(3), [p, q])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm"):
        p.grad = pycnn.tensor([[np.inf, 0, 0], [0, 0, 0]])
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_cross_entropy_with_probability_targets_matches_torch():
    torch = pytest.importorskip("torch")
    logits = randn(4, 5, 3)
    probs = np.random.default_rng(2).random((4, 5, 3))
    probs /= probs.sum(1, keepdims=True)
    w = np.random.default_rng(3).random(5) + 0.5
    for kw in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"label_smoothing": 0.2}, {"weight": "w"}):
        ours_kw = {k: (pycnn.tensor(w) if v == "w" else v) for k, v in kw.items()}
        theirs_kw = {k: (torch.tensor(w) if v == "w" else v) for k, v in kw.items()}
        x, tx = pycnn.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
        y = nn.functional.cross_entropy(x, pycnn.tensor(probs), **ours_kw)
        ty = torch.nn.functional.cross_entropy(tx, torch.tensor(probs), **theirs_kw)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(TypeError, match="cross_entropy: target must be int64 class indices"):
        nn.functional.cross_entropy(pycnn.tensor(logits), pycnn.tensor(probs[:2]))  # torch: not Long


def test_trunc_normal_and_orthogonal_init():
    torch = pytest.importorskip("torch")
    pycnn.manual_seed(0)
    t = nn.init.trunc_normal_(pycnn.zeros(20000), mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = t.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    ref = torch.nn.init.trunc_normal_(torch.zeros(200000, dtype=torch.float64), 0.5, 1.0, -1.0, 1.5).numpy()
    assert abs(a.mean() - ref.mean()) < 0.02 and abs(a.std() - ref.std()) < 0.02  # the same distribution
    for shape in [(6, 4), (3, 8), (4, 2, 3, 3)]:
        w = nn.init.orthogonal_(pycnn.zeros(*shape, dtype=pycnn.float64), gain=2.0).numpy().reshape(shape[0], -1)
        small = min(w.shape)
        gram = w @ w.T if w.shape[0] == small else w.T @ w
        np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    assert nn.init.calculate_gain("relu") == torch.nn.init.calculate_gain("relu")
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more"):
        nn.init.orthogonal_(pycnn.zeros(3))


PAD_MODULES = [f"{kind}Pad{d}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
               for d in (1, 2, 3)]


@pytest.mark.parametrize("name", PAD_MODULES)
def test_padding_modules_are_f_pad_with_their_mode(name):
    """Each padding module is F.pad with its mode over its dims (int or tuple padding, crops too);
    checked against F.pad always (F.pad itself against np.pad in test_conv_extra.py)."""
    d = int(name[-2])
    mode = {"Zero": "constant", "Cons": "constant", "Refl": "reflect", "Repl": "replicate", "Circ": "circular"}[name[:4]]
    args = (3.5,) if name.startswith("Constant") else ()
    x = pycnn.tensor(randn(*(2, 3, 4, 5, 6)[3 - d:]))
    for padding in (2, (1, -1) * d):
        m = getattr(nn, name)(padding, *args)
        pad = (padding,) * 2 * d if isinstance(padding, int) else padding
        assert m.padding == pad
        expected = pycnn.nn.functional.pad(x, pad, mode, *args)
        np.testing.assert_array_equal(m(x).numpy(), expected.numpy())
    with pytest.raises(ValueError, match=rf"{name}: padding must be an int or a tuple of {2 * d} ints, got \(1, 2, 3\)"):
        getattr(nn, name)((1, 2, 3), *args)


@pytest.mark.parametrize("name", PAD_MODULES)
def test_padding_modules_match_torch(name):
    torch = pytest.importorskip("torch")
    d = int(name[-2])
    args = (3.5,) if name.startswith("Constant") else ()
    x = randn(*(2, 3, 6, 7, 8)[3 - d:])
    for padding in (2, (1, -1) * d, tuple(range(2 * d))):
        ours, theirs = getattr(nn, name)(padding, *args), getattr(torch.nn, name)(padding, *args)
        assert repr(ours) == repr(theirs)
        np.testing.assert_array_equal(ours(pycnn.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
