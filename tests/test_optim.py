"""SGD against the update rule written out in numpy (reference.core.sgd_steps), parameter
groups, state_dict round trips, and the two LR schedules against their closed forms."""
import numpy as np
import pytest

import pycnn
from helpers import randn
from reference import core as ref

OPTIONS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.8, dampening=0.3),
    "weight_decay": dict(lr=0.1, weight_decay=0.01),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "nesterov_wd": dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.1),
    "maximize": dict(lr=0.1, maximize=True),
    "all": dict(lr=0.07, momentum=0.6, dampening=0.2, weight_decay=0.05, maximize=True),
}


def run_sgd(p0, grads, dtype="float64", **opts):
    p = pycnn.tensor(p0, dtype=dtype, requires_grad=True)
    opt = pycnn.optim.SGD([p], **opts)
    out = []
    for g in grads:
        p.grad = pycnn.tensor(g, dtype=dtype)
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_sgd_matches_hand_computed_steps(name, dtype):
    p0, grads = randn(2, 3), [randn(2, 3) for _ in range(3)]
    got = run_sgd(p0, grads, dtype, **OPTIONS[name])
    expected = ref.sgd_steps(p0, grads, **OPTIONS[name])
    tol = 1e-12 if dtype == "float64" else 1e-5
    for step, (a, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=f"step {step + 1}")


def test_sgd_momentum_written_out():
    # p=1, g=(1, 2, 3), lr=0.1, momentum=0.5: b = 1, 2.5, 4.25; p = 0.9, 0.65, 0.225
    got = run_sgd(np.array([1.0]), [np.array([1.0]), np.array([2.0]), np.array([3.0])], lr=0.1, momentum=0.5)
    np.testing.assert_allclose(np.concatenate(got), [0.9, 0.65, 0.225], rtol=1e-12)


def test_sgd_with_backward_and_closure():
    w = pycnn.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    opt = pycnn.optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.5, -1.0])   # w - 0.25 * 2w


def test_sgd_skips_params_without_grad():
    a = pycnn.tensor([1.0], requires_grad=True)
    b = pycnn.tensor([2.0], requires_grad=True)
    opt = pycnn.optim.SGD([a, b], lr=1.0, momentum=0.9)
    a.grad = pycnn.tensor([1.0])
    opt.step()
    assert a.tolist() == [0.0] and b.tolist() == [2.0]
    assert len(opt.state_dict()["state"]) == 1


def test_param_groups_different_lr():
    a, b = (pycnn.tensor(randn(3), dtype="float64", requires_grad=True) for _ in range(2))
    a0, b0 = a.detach().numpy().copy(), b.detach().numpy().copy()
    opt = pycnn.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    ga, gb = randn(3), randn(3)
    a.grad, b.grad = pycnn.tensor(ga), pycnn.tensor(gb)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), a0 - 0.1 * ga, rtol=1e-12)
    np.testing.assert_allclose(b.detach().numpy(), b0 - 0.5 * gb, rtol=1e-12)
    c = pycnn.tensor(randn(2), dtype="float64", requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 0.01})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["momentum"] == 0


def test_zero_grad():
    net = pycnn.nn.Linear(3, 2)
    opt = pycnn.optim.SGD(net.parameters(), lr=0.1)
    net(pycnn.randn(4, 3)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("name", ["momentum", "nesterov_wd", "all"])
def test_state_dict_round_trip_continues_identically(name):
    p0, grads = randn(4), [randn(4) for _ in range(5)]
    p = pycnn.tensor(p0, dtype="float64", requires_grad=True)
    opt = pycnn.optim.SGD([p], **OPTIONS[name])
    for g in grads[:2]:
        p.grad = pycnn.tensor(g)
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0]
    # a fresh optimizer over a copy of the parameter, with other hyper-parameters, loads the state
    q = pycnn.tensor(p.detach().numpy().copy(), dtype="float64", requires_grad=True)
    opt2 = pycnn.optim.SGD([q], lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == OPTIONS[name]["lr"]
    for g in grads[2:]:
        p.grad, q.grad = pycnn.tensor(g), pycnn.tensor(g)
        opt.step()
        opt2.step()
    np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())
    np.testing.assert_allclose(p.detach().numpy(), ref.sgd_steps(p0, grads, **OPTIONS[name])[-1], rtol=1e-12)


def test_state_dict_is_a_copy():
    p = pycnn.tensor([1.0], requires_grad=True)
    opt = pycnn.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = pycnn.tensor([1.0])
    opt.step()
    sd = opt.state_dict()
    opt.step()
    assert sd["state"][0]["momentum_buffer"].tolist() == [1.0]


def test_load_state_dict_mismatched_groups():
    a, b = pycnn.ones(2, requires_grad=True), pycnn.ones(2, requires_grad=True)
    sd = pycnn.optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="SGD.load_state_dict"):
        pycnn.optim.SGD([a], lr=0.1).load_state_dict(sd)


# ----------------------------------------------------------------------------- schedulers
def test_step_lr_closed_form():
    opt = pycnn.optim.SGD([pycnn.ones(1, requires_grad=True)], lr=0.5)
    sched = pycnn.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.2)
    for epoch in range(10):
        assert opt.param_groups[0]["lr"] == pytest.approx(ref.step_lr(0.5, 3, 0.2, epoch), rel=1e-12)
        assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]
        opt.step()
        sched.step()


def test_cosine_annealing_closed_form_and_groups():
    a, b = pycnn.ones(1, requires_grad=True), pycnn.ones(1, requires_grad=True)
    opt = pycnn.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    sched = pycnn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.001)
    for epoch in range(16):      # past T_max too: the cosine continues
        lrs = [g["lr"] for g in opt.param_groups]
        assert lrs[0] == pytest.approx(ref.cosine_lr(0.1, 7, 0.001, epoch), rel=1e-12)
        assert lrs[1] == pytest.approx(ref.cosine_lr(0.01, 7, 0.001, epoch), rel=1e-12)
        sched.step()
    assert ref.cosine_lr(0.1, 7, 0.001, 7) == pytest.approx(0.001)


def test_scheduler_state_dict_round_trip():
    opt = pycnn.optim.SGD([pycnn.ones(1, requires_grad=True)], lr=1.0)
    sched = pycnn.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    opt2 = pycnn.optim.SGD([pycnn.ones(1, requires_grad=True)], lr=1.0)
    sched2 = pycnn.optim.lr_scheduler.StepLR(opt2, step_size=5, gamma=0.9)
    # the chainable form steps from the group's lr, so the optimizer's state comes along (as in torch)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    sched.step()
    sched2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.25
