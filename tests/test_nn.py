"""Module machinery, Linear and activations, state_dict naming and loading, save/load."""
import math
import os
from collections import OrderedDict

import numpy as np
import pytest

import pycnn
import pycnn.nn as nn
from helpers import randn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.Tanh()
        self.scale = nn.Parameter(pycnn.ones(3))
        self.register_buffer("count", pycnn.zeros(1))
        self.register_buffer("scratch", pycnn.zeros(2), persistent=False)
        self.plain = 5   # not registered

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


def make_net():
    pycnn.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 4),
        nn.ReLU(),
        nn.Sequential(nn.Linear(4, 4, bias=False), nn.Sigmoid()),
        Block(),
        nn.Flatten(),
        nn.Dropout(0.25),
    )


# keys as PyTorch names them: Sequential children by index, parameters then buffers per module
NET_KEYS = ["0.weight", "0.bias", "2.0.weight", "3.scale", "3.count", "3.fc.weight", "3.fc.bias"]
NET_SHAPES = {"0.weight": (4, 6), "0.bias": (4,), "2.0.weight": (4, 4), "3.scale": (3,), "3.count": (1,),
              "3.fc.weight": (3, 4), "3.fc.bias": (3,)}


def test_registration_and_traversal():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == ["count", "scratch"]
    assert [type(m).__name__ for m in b.children()] == ["Linear", "Tanh"]
    assert [n for n, _ in b.named_modules()] == ["", "fc", "act"]
    assert b.plain == 5 and "plain" not in dict(b.named_parameters())
    assert len(list(b.parameters())) == 3 and len(list(b.parameters(recurse=False))) == 1
    with pytest.raises(AttributeError):
        b.missing_attribute
    del b.act
    assert [n for n, _ in b.named_children()] == ["fc"]


def test_parameter_is_leaf_requiring_grad():
    p = nn.Parameter(pycnn.randn(2, 3))
    assert p.requires_grad and p.is_leaf and isinstance(p, pycnn.Tensor)
    assert not nn.Parameter(pycnn.randn(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:")


def test_state_dict_keys_and_shapes_match_torch_naming():
    net = make_net()
    sd = net.state_dict()
    assert list(sd) == NET_KEYS
    assert {k: v.shape for k, v in sd.items()} == NET_SHAPES
    assert all(type(v) is pycnn.Tensor and not v.requires_grad for v in sd.values())
    sd["0.bias"].numpy()[...] = 99.0               # shares storage with the parameter, as in torch
    assert np.all(net[0].bias.detach().numpy() == 99.0)


def test_shared_module_listed_once_but_keyed_twice():
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(net.modules())) == 3           # Sequential, Linear, ReLU
    assert len(list(net.parameters())) == 2
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_indexing_and_slicing():
    net = make_net()
    assert isinstance(net[1], nn.ReLU) and isinstance(net[-1], nn.Dropout) and len(net) == 6
    tail = net[2:4]
    assert isinstance(tail, nn.Sequential) and list(tail.state_dict())[:1] == ["2.0.weight"]
    assert [type(m).__name__ for m in net][:2] == ["Linear", "ReLU"]
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    named.append(nn.Linear(3, 1))
    assert "2.weight" in named.state_dict()
    ml = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2)])
    assert len(ml) == 2 and list(ml.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_forward_train_eval_zero_grad():
    net = make_net()
    x = pycnn.randn(5, 6)
    out = net(x)
    assert out.shape == (5, 3)
    net.eval()
    assert all(not m.training for m in net.modules())
    a, b = net(x).detach().numpy(), net(x).detach().numpy()
    np.testing.assert_array_equal(a, b)             # dropout is off in eval
    net.train()
    assert all(m.training for m in net.modules())
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_module_to_dtype():
    net = make_net()
    x = pycnn.randn(2, 6)
    ref = net.eval()(x).detach().numpy()
    params = list(net.parameters())
    assert net.to(pycnn.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters()) and net[3].count.dtype == np.float64
    assert all(a is b for a, b in zip(params, net.parameters()))   # same Parameter objects
    out = net(x.double())
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    assert net.float()[0].weight.dtype == np.float32


def test_repr_tree():
    net = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2, bias=False)), nn.Flatten())
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=6, out_features=4, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=2, bias=False)\n"
        "  )\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        ")")


@pytest.mark.parametrize("fan_in, out", [(1, 3), (7, 5), (300, 20)])
def test_linear_default_init_bounds(fan_in, out):
    pycnn.manual_seed(fan_in)
    lin = nn.Linear(fan_in, out)
    bound = 1 / math.sqrt(fan_in)   # kaiming_uniform(a=sqrt(5)) and the bias rule give the same bound
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (out, fan_in) and b.shape == (out,) and w.dtype == np.float32
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
    if w.size >= 1000:    # uniform on [-bound, bound]: std = bound / sqrt(3)
        assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
        assert np.abs(w).max() > 0.95 * bound
    assert lin.bias is not None and nn.Linear(2, 2, bias=False).bias is None
    assert list(nn.Linear(2, 2, bias=False).state_dict()) == ["weight"]


def test_linear_module_forward():
    lin = nn.Linear(3, 2).double()
    x = randn(4, 3)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(pycnn.tensor(x)).detach().numpy(), x @ w.T + b, rtol=1e-12)


def test_activation_modules():
    x = randn(3, 4)
    t = pycnn.tensor(x, dtype="float64")
    np.testing.assert_allclose(nn.ReLU()(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(t).numpy(), np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(nn.Sigmoid()(t).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(t).numpy(), np.where(x > 0, x, 0.2 * x), rtol=1e-12)
    np.testing.assert_allclose(nn.Softmax(dim=1)(t).numpy().sum(1), 1.0, rtol=1e-12)
    # dim=None: torch's legacy implicit dim (1 for 2-D and 4-D input, 0 for 1-D and 3-D), with a warning
    for shape, axis in (((4, 3), 1), ((2, 3, 4, 5), 1), ((3, 4, 5), 0), ((7,), 0)):
        x = np.random.default_rng(0).standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            np.testing.assert_allclose(nn.Softmax()(pycnn.tensor(x)).numpy().sum(axis), 1.0, rtol=1e-12)
        with pytest.warns(UserWarning, match="Implicit dimension choice for logsoftmax"):
            np.testing.assert_allclose(np.exp(nn.LogSoftmax()(pycnn.tensor(x)).numpy()).sum(axis), 1.0,
                                       rtol=1e-12)
    assert nn.Flatten()(pycnn.ones(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0)(pycnn.ones(2, 3)).shape == (6,)
    assert nn.Identity()(t) is t


# ----------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_numpy_and_tensors():
    src, dst = make_net(), make_net()
    with pycnn.no_grad():
        for p in dst.parameters():
            p.fill_(0.5)
    sd = src.state_dict()
    sd["3.count"] = np.array([7.0])
    dst_params = list(dst.parameters())
    result = dst.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    assert all(a is b for a, b in zip(dst_params, dst.parameters()))
    tensors = {k: pycnn.tensor(v * 2) for k, v in sd.items()}
    tensors["0.weight"] = tensors["0.weight"].requires_grad_()
    dst.load_state_dict(tensors)
    np.testing.assert_array_equal(dst.state_dict()["0.weight"], sd["0.weight"] * 2)


def test_load_state_dict_float64_into_float32_casts():
    lin = nn.Linear(2, 3)
    sd = {k: v.numpy().astype(np.float64) + 1 for k, v in lin.state_dict().items()}
    lin.load_state_dict(sd)
    assert lin.weight.dtype == np.float32
    np.testing.assert_allclose(lin.weight.detach().numpy(), sd["weight"], rtol=1e-6)


def test_load_state_dict_errors_name_keys():
    net = make_net()
    sd = net.state_dict()
    before = net.state_dict()
    missing = dict(sd)
    del missing["3.fc.bias"]
    with pytest.raises(RuntimeError, match=r"load_state_dict.*missing.*3\.fc\.bias"):
        net.load_state_dict(missing)
    extra = dict(sd, **{"9.weight": np.ones(2)})
    with pytest.raises(RuntimeError, match=r"unexpected.*9\.weight"):
        net.load_state_dict(extra)
    bad = dict(sd, **{"0.weight": np.ones((6, 4))})
    with pytest.raises(RuntimeError, match=r"size mismatch.*0\.weight.*\(6, 4\).*\(4, 6\)"):
        net.load_state_dict(bad)
    with pytest.raises(RuntimeError, match=r"size mismatch.*0\.weight"):
        net.load_state_dict(bad, strict=False)
    for k, v in net.state_dict().items():           # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])
    # strict=False tolerates missing and unexpected keys and reports them
    partial = {"0.bias": np.full(4, 3.0), "junk": np.ones(1)}
    result = net.load_state_dict(partial, strict=False)
    assert "3.fc.weight" in result.missing_keys and result.unexpected_keys == ["junk"]
    np.testing.assert_array_equal(net[0].bias.detach().numpy(), np.full(4, 3.0))


# ----------------------------------------------------------------------------- save / load
def test_save_load_state_dict_round_trip(tmp_path):
    net = make_net()
    path = tmp_path / "net.npz"
    pycnn.save(net.state_dict(), path)
    loaded = pycnn.load(path)
    assert list(loaded) == NET_KEYS
    other = make_net()
    with pycnn.no_grad():
        for p in other.parameters():
            p.fill_(0.0)
    other.load_state_dict(loaded)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    with np.load(path) as raw:                        # a plain .npz under the state_dict's keys
        np.testing.assert_array_equal(raw["0.weight"], net.state_dict()["0.weight"])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask    # not mkstemp's 0600


def test_save_load_nested_checkpoint(tmp_path):
    net = make_net()
    opt = pycnn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(pycnn.randn(2, 6)).sum().backward()
    opt.step()
    ckpt = {"model": net.state_dict(), "optim": opt.state_dict(), "epoch": 3, "acc": 0.97,
            "name": "lenet", "best": None, "shape": (2, 3), "t": pycnn.tensor([1.5, 2.0])}
    path = str(tmp_path / "ckpt.npz")
    pycnn.save(ckpt, path)
    back = pycnn.load(path)
    assert back["epoch"] == 3 and back["acc"] == 0.97 and back["name"] == "lenet" and back["best"] is None
    assert back["shape"] == (2, 3)
    np.testing.assert_array_equal(back["t"], [1.5, 2.0])
    assert list(back["model"]) == NET_KEYS
    assert back["optim"]["param_groups"][0]["momentum"] == 0.9
    assert set(back["optim"]["state"]) == set(opt.state_dict()["state"])   # int keys survive
    opt2 = pycnn.optim.SGD(make_net().parameters(), lr=0.5)
    opt2.load_state_dict(back["optim"])
    assert opt2.param_groups[0]["lr"] == 0.1


def test_save_is_atomic(tmp_path):
    path = tmp_path / "model.npz"
    pycnn.save({"w": np.ones(3)}, path)
    with pytest.raises(TypeError, match="save"):
        pycnn.save({"w": np.zeros(2), "bad": object()}, path)
    with pytest.raises(TypeError, match="save"):
        pycnn.save({"w": np.array([object()])}, path)
    np.testing.assert_array_equal(pycnn.load(path)["w"], np.ones(3))   # old file intact
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]                # no temp files left
    with pytest.raises(TypeError, match="save"):
        pycnn.save([1, 2], tmp_path / "x.npz")
    with pytest.raises(OSError):
        pycnn.save({"w": np.ones(1)}, tmp_path / "no_such_dir" / "x.npz")
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_save_keys_that_clash_with_numpy_arguments(tmp_path):
    sd = {"file": np.ones(2), "allow_pickle": np.zeros(1), "args": np.arange(3)}
    pycnn.save(sd, tmp_path / "k.npz")
    back = pycnn.load(tmp_path / "k.npz")
    assert set(back) == set(sd) and back["args"].tolist() == [0, 1, 2]


def test_attribute_assignment_rules():
    b = Block()
    with pytest.raises(TypeError, match="parameter 'scale'"):
        b.scale = pycnn.ones(3)                      # a plain Tensor may not replace a Parameter
    b.scale = nn.Parameter(pycnn.zeros(3))
    assert b.scale.tolist() == [0.0, 0.0, 0.0] and "scale" in dict(b.named_parameters())
    b.count = pycnn.full((1,), 4.0)                  # assigning to a buffer's name updates the buffer
    assert b.state_dict()["count"].tolist() == [4.0]
    with pytest.raises(TypeError, match="buffer 'count'"):
        b.count = 3
    b.scale = None
    assert b.scale is None and "scale" not in b.state_dict()
    with pytest.raises(TypeError, match="child module 'fc'"):
        b.fc = 3
    with pytest.raises(KeyError, match="add_module"):
        b.add_module("a.b", nn.ReLU())
    lin = nn.Linear(2, 2, bias=False)
    assert lin.bias is None and list(dict(lin.named_parameters())) == ["weight"]
