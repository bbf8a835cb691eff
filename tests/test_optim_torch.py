"""AdamW, RMSprop, Adagrad (and SGD, Adam) against torch.optim's update rules, and the schedules of
torch.optim.lr_scheduler against torch's lr sequences.

Without torch: every optimizer's first two steps equal the update rule written out in numpy
(the pseudo-code of torch's docs), a scalar step is worked by hand, state_dict round trips continue
identically, and each schedule hits a few hand-computed values. With torch: 8 steps of a small
least-squares model from the same start give the same parameters to 1e-12 (float64), the state_dicts
load across the two libraries, and 30 scheduler steps give identical lr (and momentum) sequences.
"""
import math
import warnings

import numpy as np
import pytest

import pycnn
from pycnn.optim import lr_scheduler as sched_mod

OPTIM = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]
CONFIGS = {  # name -> (optimizer, options); every option of each optimizer appears at least once
    "sgd_all": ("SGD", dict(lr=0.05, momentum=0.7, dampening=0.2, weight_decay=0.03, maximize=False)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    "adam": ("Adam", dict(lr=0.03)),
    "adam_amsgrad_wd_max": ("Adam", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.05, amsgrad=True,
                                         maximize=True)),
    "adamw": ("AdamW", dict(lr=0.03)),
    "adamw_no_wd": ("AdamW", dict(lr=0.03, weight_decay=0.0, eps=1e-6)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.05, betas=(0.7, 0.9), weight_decay=0.2, amsgrad=True)),
    "adamw_maximize": ("AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True, eps=1e-3)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, eps=1e-6)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.1)),
    "rmsprop_all": ("RMSprop", dict(lr=0.004, alpha=0.8, eps=1e-4, weight_decay=0.05, momentum=0.5,
                                    centered=True, maximize=True)),
    "adagrad": ("Adagrad", dict(lr=0.1)),
    "adagrad_decay": ("Adagrad", dict(lr=0.2, lr_decay=0.3, weight_decay=0.05)),
    "adagrad_init_acc": ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.4, eps=1e-3, maximize=True)),
}

RNG = np.random.default_rng(20261202)
X, Y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 2))
W0, B0 = RNG.standard_normal((3, 2)), RNG.standard_normal(2)


def pycnn_params():
    return (pycnn.tensor(W0.copy(), dtype="float64", requires_grad=True),
            pycnn.tensor(B0.copy(), dtype="float64", requires_grad=True))


def pycnn_loss(w, b):
    """Least squares plus a quartic term, so the gradient is not linear in the parameters."""
    r = pycnn.tensor(X) @ w + b - pycnn.tensor(Y)
    return (r * r).mean() + 0.1 * (w * w * w * w).sum()


def pycnn_run(name, opts, steps, groups=False):
    w, b = pycnn_params()
    params = [{"params": [w]}, {"params": [b], "lr": opts["lr"] * 0.5}] if groups else [w, b]
    opt = getattr(pycnn.optim, name)(params, **opts)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        pycnn_loss(w, b).backward()
        opt.step()
        out.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return out, opt, (w, b)


def torch_run(torch, name, opts, steps, groups=False):
    X_t, Y_t = torch.tensor(X), torch.tensor(Y)
    w = torch.tensor(W0.copy(), requires_grad=True)
    b = torch.tensor(B0.copy(), requires_grad=True)
    params = [{"params": [w]}, {"params": [b], "lr": opts["lr"] * 0.5}] if groups else [w, b]
    opt = getattr(torch.optim, name)(params, foreach=False, **opts)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        r = X_t @ w + b - Y_t
        ((r * r).mean() + 0.1 * (w ** 4).sum()).backward()
        opt.step()
        out.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return out, opt, (w, b)


def assert_trajectories(got, expected, tol=1e-12):
    for step, ((wa, ba), (we, be)) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(wa, we, rtol=tol, atol=tol, err_msg=f"weight after step {step + 1}")
        np.testing.assert_allclose(ba, be, rtol=tol, atol=tol, err_msg=f"bias after step {step + 1}")


# ------------------------------------------------------------------ the update rules written out in numpy
def reference_steps(name, p, grads, lr, **o):
    """The documented algorithm of torch.optim.<name> on one parameter, one step per gradient."""
    p, out, t = p.copy(), [], 0
    wd, maximize = o.get("weight_decay", 1e-2 if name == "AdamW" else 0), o.get("maximize", False)
    m = v = vmax = buf = None
    s = np.full_like(p, o.get("initial_accumulator_value", 0.0))
    for g in grads:
        t += 1
        g = -g if maximize else g
        if name == "SGD":
            mom, damp = o.get("momentum", 0), o.get("dampening", 0)
            g = g + wd * p
            if mom:
                buf = g.copy() if buf is None else mom * buf + (1 - damp) * g
                g = g + mom * buf if o.get("nesterov") else buf
            p = p - lr * g
        elif name in ("Adam", "AdamW"):
            b1, b2 = o.get("betas", (0.9, 0.999))
            eps = o.get("eps", 1e-8)
            if name == "AdamW":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
            v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
            vmax = v if vmax is None else np.maximum(vmax, v)
            vhat = (vmax if o.get("amsgrad") else v) / (1 - b2 ** t)
            p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(vhat) + eps)
        elif name == "RMSprop":
            alpha, eps, mom = o.get("alpha", 0.99), o.get("eps", 1e-8), o.get("momentum", 0)
            g = g + wd * p
            v = (1 - alpha) * g * g if v is None else alpha * v + (1 - alpha) * g * g
            m = (1 - alpha) * g if m is None else alpha * m + (1 - alpha) * g
            denom = np.sqrt(v - m * m if o.get("centered") else v) + eps
            if mom > 0:
                buf = g / denom if buf is None else mom * buf + g / denom
                p = p - lr * buf
            else:
                p = p - lr * g / denom
        elif name == "Adagrad":
            g = g + wd * p
            clr = lr / (1 + (t - 1) * o.get("lr_decay", 0))
            s = s + g * g
            p = p - clr * g / (np.sqrt(s) + o.get("eps", 1e-10))
        out.append(p)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_first_two_steps_match_the_written_out_rule(config, dtype):
    name, opts = CONFIGS[config]
    p0 = RNG.standard_normal((2, 3)).astype(dtype)
    grads = [RNG.standard_normal((2, 3)).astype(dtype) for _ in range(2)]
    p = pycnn.tensor(p0, dtype=dtype, requires_grad=True)
    opt = getattr(pycnn.optim, name)([p], **opts)
    expected = reference_steps(name, p0.astype("float64"), [g.astype("float64") for g in grads], **opts)
    tol = 1e-12 if dtype == "float64" else 2e-5
    for step, g in enumerate(grads):
        version = p._version
        p.grad = pycnn.tensor(g, dtype=dtype)
        opt.step()
        assert p._version > version  # written in place, and the autograd version counter knows it
        assert p.dtype == dtype and all(v.dtype == dtype for v in opt.state[id(p)].values())
        np.testing.assert_allclose(p.detach().numpy(), expected[step], rtol=tol, atol=tol,
                                   err_msg=f"{config}, step {step + 1}")


@pytest.mark.parametrize("name", OPTIM)
def test_step_with_closure(name):
    """step(closure) re-evaluates the loss with grad enabled, returns it, and steps with its gradients."""
    manual, _, _ = pycnn_run(name, dict(lr=0.02), 3)
    w, b = pycnn_params()
    opt = getattr(pycnn.optim, name)([w, b], lr=0.02)

    def closure():
        opt.zero_grad()
        loss = pycnn_loss(w, b)
        loss.backward()
        return loss

    losses = []
    with pycnn.no_grad():  # the closure enables grad itself, as torch's step does
        for _ in range(3):
            losses.append(opt.step(closure).item())
    assert losses[0] == pytest.approx(pycnn_loss(*pycnn_params()).item(), rel=1e-14)
    assert losses[2] < losses[0]
    np.testing.assert_array_equal(w.detach().numpy(), manual[-1][0])
    np.testing.assert_array_equal(b.detach().numpy(), manual[-1][1])


def run_scalar(name, p, grads, **opts):
    t = pycnn.tensor([p], dtype="float64", requires_grad=True)
    opt = getattr(pycnn.optim, name)([t], **opts)
    out = []
    for g in grads:
        t.grad = pycnn.tensor([g], dtype="float64")
        opt.step()
        out.append(t.item())
    return out


def test_scalar_steps_worked_by_hand():
    # AdamW, p=1, g=0.5, lr=0.1, wd=0.1, eps=0: p <- 0.99 (decay), m = 0.05, v = 0.00025,
    # m/(1-0.9) = 0.5, v/(1-0.999) = 0.25, p <- 0.99 - 0.1 * 0.5 / 0.5 = 0.89
    assert run_scalar("AdamW", 1.0, [0.5], lr=0.1, weight_decay=0.1, eps=0.0) == pytest.approx([0.89], rel=1e-12)
    # RMSprop, p=1, g=2, lr=0.01, alpha=0.99, eps=0: v = 0.01 * 4 = 0.04, p <- 1 - 0.01 * 2 / 0.2 = 0.9;
    # then g=2 again: v = 0.99 * 0.04 + 0.04 = 0.0796, p <- 0.9 - 0.02 / sqrt(0.0796)
    got = run_scalar("RMSprop", 1.0, [2.0, 2.0], lr=0.01, eps=0.0)
    assert got == pytest.approx([0.9, 0.9 - 0.02 / math.sqrt(0.0796)], rel=1e-12)
    # centered: v = 0.04, m = 0.02, sqrt(0.04 - 0.0004) = sqrt(0.0396)
    got = run_scalar("RMSprop", 1.0, [2.0], lr=0.01, eps=0.0, centered=True)
    assert got == pytest.approx([1 - 0.02 / math.sqrt(0.0396)], rel=1e-12)
    # RMSprop momentum 0.5: b = 2 / 0.2 = 10, p <- 1 - 0.1; g=2 again: b = 5 + 2 / sqrt(0.0796)
    got = run_scalar("RMSprop", 1.0, [2.0, 2.0], lr=0.01, eps=0.0, momentum=0.5)
    assert got == pytest.approx([0.9, 0.9 - 0.01 * (5 + 2 / math.sqrt(0.0796))], rel=1e-12)
    # Adagrad, p=1, g=2 then g=1, lr=0.1, lr_decay=1, eps=0: s=4, p <- 1 - 0.1*2/2 = 0.9;
    # s=5, clr = 0.1/2, p <- 0.9 - 0.05 / sqrt(5)
    got = run_scalar("Adagrad", 1.0, [2.0, 1.0], lr=0.1, lr_decay=1.0, eps=0.0)
    assert got == pytest.approx([0.9, 0.9 - 0.05 / math.sqrt(5)], rel=1e-12)
    # Adagrad initial_accumulator_value=5, g=2: s=9, p <- 1 - 0.3 * 2 / 3 = 0.8
    assert run_scalar("Adagrad", 1.0, [2.0], lr=0.3, initial_accumulator_value=5.0, eps=0.0) == \
        pytest.approx([0.8], rel=1e-12)


def test_adamw_decay_is_decoupled_from_the_moments():
    # with weight_decay the parameters of AdamW shrink by exactly (1 - lr*wd) relative to AdamW without
    # it on the first step, while Adam's L2 decay enters the normalised step instead
    p0, g = RNG.standard_normal(5), RNG.standard_normal(5)
    outs = {}
    for wd in (0.0, 0.3):
        t = pycnn.tensor(p0, dtype="float64", requires_grad=True)
        opt = pycnn.optim.AdamW([t], lr=0.1, weight_decay=wd)
        t.grad = pycnn.tensor(g)
        opt.step()
        outs[wd] = t.detach().numpy()
    np.testing.assert_allclose(outs[0.3] - outs[0.0], -0.1 * 0.3 * p0, rtol=1e-12, atol=1e-15)
    state = opt.state_dict()["state"][0]
    np.testing.assert_allclose(state["exp_avg"], 0.1 * g, rtol=1e-12)  # no decay term in the moment


def test_adagrad_state_exists_from_construction_and_for_added_groups():
    a, b = pycnn_params()
    opt = pycnn.optim.Adagrad([a], lr=0.1, initial_accumulator_value=0.25)
    sd = opt.state_dict()
    assert set(sd["state"]) == {0} and sd["state"][0]["step"] == 0
    np.testing.assert_array_equal(sd["state"][0]["sum"], np.full(W0.shape, 0.25))
    opt.add_param_group({"params": [b], "initial_accumulator_value": 1.0, "lr": 0.5})
    gb = RNG.standard_normal(2)
    b.grad = pycnn.tensor(gb)
    opt.step()  # a has no grad: untouched
    np.testing.assert_array_equal(a.detach().numpy(), W0)
    np.testing.assert_allclose(b.detach().numpy(), B0 - 0.5 * gb / (np.sqrt(1 + gb * gb) + 1e-10), rtol=1e-12)
    assert opt.state_dict()["state"][0]["step"] == 0 and opt.state_dict()["state"][1]["step"] == 1


@pytest.mark.parametrize("name", OPTIM)
def test_add_param_group_mid_run(name):
    """A group added after some steps gets the defaults and its own lr, and starts fresh state."""
    w, b = pycnn_params()
    opt = getattr(pycnn.optim, name)([w], lr=0.05)
    for _ in range(2):
        opt.zero_grad()
        pycnn_loss(w, b).backward()
        opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), B0)  # not optimised yet
    opt.add_param_group({"params": b, "lr": 0.02})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["lr"] == 0.02
    assert {k: v for k, v in opt.param_groups[1].items() if k not in ("params", "lr")} == \
        {k: v for k, v in opt.defaults.items() if k != "lr"}
    b_before = b.detach().numpy().copy()
    grads = []
    for _ in range(2):
        opt.zero_grad()
        pycnn_loss(w, b).backward()
        grads.append(b.grad.numpy().copy())
        opt.step()
    # the second group's parameter follows the rule from a fresh state (the gradients taken as given)
    expected = reference_steps(name, b_before, grads, lr=0.02)
    np.testing.assert_allclose(b.detach().numpy(), expected[-1], rtol=1e-12)
    with pytest.raises(ValueError, match=f"{name}.*more than one group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="set"):
        opt.add_param_group({"params": {pycnn.ones(2, requires_grad=True)}})
    with pytest.raises(ValueError, match="non-leaf"):
        opt.add_param_group({"params": [pycnn.ones(2, requires_grad=True) * 2]})


@pytest.mark.parametrize("config", ["sgd_all", "adam_amsgrad_wd_max", "adamw_amsgrad", "adamw_maximize",
                                    "rmsprop_all", "rmsprop_momentum", "adagrad_decay", "adagrad_init_acc"])
def test_state_dict_round_trip_continues_identically(config):
    name, opts = CONFIGS[config]
    full, _, _ = pycnn_run(name, opts, 7, groups=True)
    w, b = pycnn_params()
    opt = getattr(pycnn.optim, name)([{"params": [w]}, {"params": [b], "lr": opts["lr"] * 0.5}], **opts)
    for _ in range(3):
        opt.zero_grad()
        pycnn_loss(w, b).backward()
        opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]  # torch's layout: indices, not tensors
    assert set(sd["state"]) <= {0, 1} and all(isinstance(k, int) for k in sd["state"])
    assert sd["param_groups"][1]["lr"] == opts["lr"] * 0.5
    # a fresh optimizer with other hyper-parameters, over copies of the parameters, resumes the run
    w2 = pycnn.tensor(w.detach().numpy().copy(), dtype="float64", requires_grad=True)
    b2 = pycnn.tensor(b.detach().numpy().copy(), dtype="float64", requires_grad=True)
    opt2 = getattr(pycnn.optim, name)([{"params": [w2]}, {"params": [b2]}], lr=9.0)
    opt2.load_state_dict(sd)
    before = {k: np.array(v, copy=True) for k, v in sd["state"][0].items()}
    for _ in range(4):
        opt2.zero_grad()
        pycnn_loss(w2, b2).backward()
        opt2.step()
    for k, v in before.items():  # the loaded state is a copy: stepping opt2 left sd as it was
        np.testing.assert_array_equal(sd["state"][0][k], v)
    np.testing.assert_array_equal(w2.detach().numpy(), full[-1][0])
    np.testing.assert_array_equal(b2.detach().numpy(), full[-1][1])


@pytest.mark.parametrize("name", OPTIM)
def test_load_state_dict_rejects_other_layouts(name):
    w, b = pycnn_params()
    sd = getattr(pycnn.optim, name)([w, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match=f"{name}.load_state_dict"):
        getattr(pycnn.optim, name)([w], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=f"{name}.load_state_dict"):
        getattr(pycnn.optim, name)([{"params": [w]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


BAD_OPTIM_ARGS = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(lr=0.1, momentum=-0.5)), ("SGD", dict(lr=0.1, weight_decay=-1)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("Adam", dict(lr=-1e-3)), ("Adam", dict(betas=(1.0, 0.999))), ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1e-8)), ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1e-3)), ("AdamW", dict(betas=(0.9, 1.5))), ("AdamW", dict(betas=(-0.1, 0.9))),
    ("AdamW", dict(eps=-1.0)), ("AdamW", dict(weight_decay=-0.01)),
    ("RMSprop", dict(lr=-0.01)), ("RMSprop", dict(alpha=-0.5)), ("RMSprop", dict(eps=-1e-8)),
    ("RMSprop", dict(momentum=-0.9)), ("RMSprop", dict(weight_decay=-0.1)),
    ("Adagrad", dict(lr=-0.01)), ("Adagrad", dict(lr_decay=-0.1)), ("Adagrad", dict(weight_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)), ("Adagrad", dict(eps=-1e-10)),
]


@pytest.mark.parametrize("name,kwargs", BAD_OPTIM_ARGS, ids=[f"{n}-{next(iter(k))}" for n, k in BAD_OPTIM_ARGS])
def test_bad_optimizer_arguments(name, kwargs):
    w = pycnn.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=name):
        getattr(pycnn.optim, name)([w], **kwargs)


def test_bad_optimizer_arguments_torch_agrees():
    torch = pytest.importorskip("torch")
    for name, kwargs in BAD_OPTIM_ARGS:
        with pytest.raises(ValueError):
            getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], **kwargs)


# ------------------------------------------------------------------------------------- against torch
@pytest.mark.parametrize("groups", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_trajectory_matches_torch(config, groups):
    torch = pytest.importorskip("torch")
    name, opts = CONFIGS[config]
    ours, _, _ = pycnn_run(name, dict(opts), 8, groups)
    theirs, _, _ = torch_run(torch, name, dict(opts), 8, groups)
    assert not np.allclose(ours[-1][0], W0)  # the run moved
    assert_trajectories(ours, theirs)


def _to_torch_sd(torch, sd):
    return {"state": {i: {k: torch.tensor(np.asarray(v)) if k != "step" else torch.tensor(float(v))
                          for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def _to_numpy_sd(sd):
    return {"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


@pytest.mark.parametrize("config", ["sgd_all", "adam_amsgrad_wd_max", "adamw_amsgrad", "rmsprop_all",
                                    "adagrad_decay"])
def test_state_dict_crosses_to_torch_and_back(config):
    """Our state_dict, as torch tensors, resumes a torch optimizer, and torch's resumes ours."""
    torch = pytest.importorskip("torch")
    name, opts = CONFIGS[config]
    full, _, _ = torch_run(torch, name, dict(opts), 7, groups=True)
    ours, opt, (w, b) = pycnn_run(name, dict(opts), 3, groups=True)
    assert set(opt.state_dict()["param_groups"][0]) >= set(opt.defaults) | {"params"}
    _, topt, (tw, tb) = torch_run(torch, name, dict(opts), 0, groups=True)
    with torch.no_grad():
        tw.copy_(torch.tensor(w.detach().numpy())), tb.copy_(torch.tensor(b.detach().numpy()))
    topt.load_state_dict(_to_torch_sd(torch, opt.state_dict()))
    X_t, Y_t = torch.tensor(X), torch.tensor(Y)
    for _ in range(4):
        topt.zero_grad()
        r = X_t @ tw + tb - Y_t
        ((r * r).mean() + 0.1 * (tw ** 4).sum()).backward()
        topt.step()
    np.testing.assert_allclose(tw.detach().numpy(), full[-1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.detach().numpy(), full[-1][1], rtol=1e-12, atol=1e-12)
    # and back: torch's state after 3 steps loads into a fresh pycnn optimizer
    _, topt3, (tw3, tb3) = torch_run(torch, name, dict(opts), 3, groups=True)
    w2 = pycnn.tensor(tw3.detach().numpy().copy(), dtype="float64", requires_grad=True)
    b2 = pycnn.tensor(tb3.detach().numpy().copy(), dtype="float64", requires_grad=True)
    opt2 = getattr(pycnn.optim, name)([{"params": [w2]}, {"params": [b2]}], lr=1.0)
    opt2.load_state_dict(_to_numpy_sd(topt3.state_dict()))
    for _ in range(4):
        opt2.zero_grad()
        pycnn_loss(w2, b2).backward()
        opt2.step()
    np.testing.assert_allclose(w2.detach().numpy(), full[-1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b2.detach().numpy(), full[-1][1], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------- schedulers
class Decay:
    """A callable object: LambdaLR saves its attributes in state_dict (functions are not saved)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return 1.0 / (1.0 + self.rate * epoch)


METRICS = [1.0, 0.9, 0.95, 0.9, 0.9, 0.91, 0.85, 0.86, 0.87, 0.8501, 0.88, 0.89, 0.9, 0.7, 0.7, 0.7,
           0.70001, 0.7, 0.75, 0.8, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.67, 0.5, 0.5]


def _sequential(L, opt, inner):
    if inner == "exp":
        first = L.LinearLR(opt, start_factor=0.1, total_iters=5)
        return L.SequentialLR(opt, [first, L.ExponentialLR(opt, gamma=0.9)], milestones=[5])
    a = L.LinearLR(opt, start_factor=0.25, end_factor=0.75, total_iters=4)
    b = L.MultiStepLR(opt, milestones=[3, 6, 6], gamma=0.5)
    c = L.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.001)
    return L.SequentialLR(opt, [a, b, c], milestones=[6, 15])


SCHEDULES = {  # name -> (optimizer, builder(lr_scheduler module, optimizer), how to step)
    "step": ("SGD", lambda L, o: L.StepLR(o, step_size=4, gamma=0.3), "step"),
    "cosine": ("SGD", lambda L, o: L.CosineAnnealingLR(o, T_max=7), "step"),             # past two troughs
    "cosine_eta_min": ("Adam", lambda L, o: L.CosineAnnealingLR(o, T_max=11, eta_min=0.004), "step"),
    "multistep": ("SGD", lambda L, o: L.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3), "step"),
    "exponential": ("SGD", lambda L, o: L.ExponentialLR(o, gamma=0.87), "step"),
    "linear_warmup": ("SGD", lambda L, o: L.LinearLR(o, start_factor=0.1, total_iters=9), "step"),
    "linear_decay": ("SGD", lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=17), "step"),
    "lambda": ("SGD", lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e * (1 + e % 3)), "step"),
    "lambda_per_group": ("SGD", lambda L, o: L.LambdaLR(o, [Decay(0.3), lambda e: 1.0 / (e + 1) ** 0.5]), "step"),
    "onecycle_cos_sgd": ("SGD", lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=31), "step"),
    "onecycle_linear_adam": ("Adam", lambda L, o: L.OneCycleLR(
        o, max_lr=[0.4, 0.04], epochs=3, steps_per_epoch=11, pct_start=0.25, anneal_strategy="linear",
        base_momentum=0.8, max_momentum=[0.9, 0.93], div_factor=10.0, final_div_factor=100.0), "step"),
    "onecycle_three_phase_adamw": ("AdamW", lambda L, o: L.OneCycleLR(
        o, max_lr=[0.2, 0.1], total_steps=30, pct_start=0.2, three_phase=True, max_momentum=0.97), "step"),
    "onecycle_three_phase": ("SGD", lambda L, o: L.OneCycleLR(
        o, max_lr=1.0, total_steps=33, pct_start=0.4, three_phase=True), "step"),
    "onecycle_three_phase_linear_no_momentum": ("Adagrad", lambda L, o: L.OneCycleLR(
        o, max_lr=0.3, total_steps=32, three_phase=True, anneal_strategy="linear", cycle_momentum=False), "step"),
    "plateau_min_rel": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, patience=2, factor=0.5), "metric"),
    "plateau_max_abs_cooldown": ("SGD", lambda L, o: L.ReduceLROnPlateau(
        o, mode="max", threshold=0.02, threshold_mode="abs", patience=1, cooldown=2, factor=0.3,
        min_lr=[0.01, 0.004]), "metric"),
    "plateau_min_abs_eps": ("SGD", lambda L, o: L.ReduceLROnPlateau(
        o, threshold=0.01, threshold_mode="abs", patience=0, factor=0.5, min_lr=[0.02, 0.0], eps=0.01), "metric"),
    "plateau_max_rel": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, mode="max", patience=3), "metric"),
    "plateau_ties_do_not_improve": ("SGD", lambda L, o: L.ReduceLROnPlateau(o, threshold=0.0, patience=1), "metric"),
    "sequential_warmup_exp": ("SGD", lambda L, o: _sequential(L, o, "exp"), "step"),
    "sequential_three": ("SGD", lambda L, o: _sequential(L, o, "three"), "step"),
    "warm_restarts": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.002), "step"),
    "warm_restarts_mult": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2), "step"),
    "warm_restarts_fractional": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.01), "fractional"),
    "warm_restarts_fractional_mult1": ("SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=4), "fractional"),
}


def _optimizer(lib, kind, params):
    groups = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.03}]
    extra = {"momentum": 0.9} if kind == "SGD" else {}
    return getattr(lib.optim, kind)(groups, lr=0.1, **extra)


def _step(sched, how, i):
    if how == "metric":
        sched.step(METRICS[i % len(METRICS)])
    elif how == "fractional":
        sched.step(i * 0.4)   # crosses the restarts between integer epochs
    else:
        sched.step()


def _record(sched, opt):
    """The lr (and momentum or beta1) of every group: what a training step would use."""
    row = list(sched.get_last_lr())
    assert row == [g["lr"] for g in opt.param_groups]
    for g in opt.param_groups:
        row.append(g["betas"][0] if "betas" in g else g.get("momentum"))
    return row


def lr_sequence(lib, name, steps=30, resume_at=None, resume_state=None, hand_over_at=None):
    """The recorded rows of `steps` steps. At step resume_at a fresh optimizer and schedule continue
    from the state_dicts: their own, or resume_state (another run's). At step hand_over_at it returns
    the rows so far and the state_dicts instead."""
    kind, build, how = SCHEDULES[name]
    make_params = (lambda: [lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)])
    opt = _optimizer(lib, kind, make_params())
    L = lib.optim.lr_scheduler
    sched = build(L, opt)
    rows = [_record(sched, opt)]
    for i in range(1, steps + 1):
        if i == resume_at:
            opt_sd, sched_sd = resume_state or (opt.state_dict(), sched.state_dict())
            opt = _optimizer(lib, kind, make_params())
            sched = build(L, opt)
            opt.load_state_dict(opt_sd)
            sched.load_state_dict(sched_sd)
        if i == hand_over_at:
            return rows, (opt.state_dict(), sched.state_dict())
        opt.step()
        _step(sched, how, i)
        rows.append(_record(sched, opt))
    return rows


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_torch_exactly(name):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warning for step(epoch)
        theirs = lr_sequence(torch, name)
    ours = lr_sequence(pycnn, name)
    assert len(set(map(tuple, ours))) > 2  # the schedule moves
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {i}: pycnn {a} torch {b}"  # bit for bit, not approximately


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_resumes_from_torch_state(name):
    """torch's optimizer and scheduler state_dicts after 13 steps resume pycnn's, which goes on as torch."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lr_sequence(torch, name)
        _, (opt_sd, sched_sd) = lr_sequence(torch, name, hand_over_at=13)
    opt_sd = _to_numpy_sd(opt_sd)
    ours = lr_sequence(pycnn, name, resume_at=13, resume_state=(opt_sd, sched_sd))
    assert ours[13:] == theirs[13:]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_state_dict_round_trip(name):
    full = lr_sequence(pycnn, name)
    resumed = lr_sequence(pycnn, name, resume_at=13)
    assert resumed == full


def test_lambda_state_dict_keeps_callable_objects_state():
    opt = _optimizer(pycnn, "SGD", [pycnn.ones(1, requires_grad=True), pycnn.ones(1, requires_grad=True)])
    s = sched_mod.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None] and "optimizer" not in sd
    other = Decay(7.0)
    s2 = sched_mod.LambdaLR(opt, [other, lambda e: 2.0])
    s2.load_state_dict(sd)
    assert other.rate == 0.5


def _sgd(lr=1.0, momentum=0.0):
    return pycnn.optim.SGD([pycnn.ones(1, requires_grad=True)], lr=lr, momentum=momentum)


def _lrs(sched, steps, how="step"):
    out = [sched.get_last_lr()[0]]
    for i in range(1, steps + 1):
        _step(sched, how, i)
        out.append(sched.get_last_lr()[0])
    return out


def test_schedules_hand_computed():
    L = sched_mod
    assert _lrs(L.MultiStepLR(_sgd(), [2, 5, 5], gamma=0.5), 6) == [1, 1, 0.5, 0.5, 0.5, 0.125, 0.125]
    assert _lrs(L.ExponentialLR(_sgd(), gamma=0.5), 3) == [1, 0.5, 0.25, 0.125]
    assert _lrs(L.LinearLR(_sgd(0.8), start_factor=0.5, total_iters=4), 5) == \
        pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8, 0.8], rel=1e-12)
    assert _lrs(L.LambdaLR(_sgd(2.0), lambda e: 1 / (e + 1)), 3) == pytest.approx([2, 1, 2 / 3, 0.5])
    # OneCycle, 10 steps, max_lr 1, div 25: starts at 0.04 with momentum 0.95, peaks at step
    # 0.3*10-1 = 2 with momentum 0.85, ends at 0.04/1e4; linear: step 1 is halfway, 0.52
    opt = _sgd(momentum=0.9)
    s = L.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    lrs, moms = [s.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        s.step()
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    assert lrs[0] == pytest.approx(0.04) and lrs[1] == pytest.approx(0.52) and lrs[2] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(4e-6) and moms[0] == pytest.approx(0.95) and moms[2] == pytest.approx(0.85)
    assert moms[-1] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="OneCycleLR.*total_steps is 10"):
        s.step(), s.step()
    # cos annealing: step 3 is 1/7 of the way through the second phase (steps 2..9)
    opt = _sgd(momentum=0.9)
    s = L.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    for _ in range(3):
        s.step()
    assert s.get_last_lr()[0] == pytest.approx(4e-6 + (1 - 4e-6) / 2 * (1 + math.cos(math.pi / 7)))
    # Plateau, patience 2: the 4th equal metric is the 3rd bad epoch, so the lr halves then
    s = L.ReduceLROnPlateau(_sgd(), patience=2, factor=0.5)
    got = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]:
        s.step(m)
        got.append(s.get_last_lr()[0])
    assert got == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5]
    # warm restarts, T_0=2, T_mult=2: periods 2, 4, 8 -> restarts at epochs 2 and 6
    c = (1 + math.cos(math.pi / 4)) / 2
    assert _lrs(L.CosineAnnealingWarmRestarts(_sgd(), T_0=2, T_mult=2), 6) == \
        pytest.approx([1, 0.5, 1, c, 0.5, 1 - c, 1], rel=1e-12, abs=1e-15)
    s = L.CosineAnnealingWarmRestarts(_sgd(), T_0=2, T_mult=2)
    s.step(0.5)
    assert s.get_last_lr()[0] == pytest.approx(c) and s.last_epoch == 0
    s.step(3.0)   # n = floor(log2(3/2 + 1)) = 1 restart: T_cur = 3 - 2 = 1 of T_i = 4
    assert (s.T_cur, s.T_i) == (1, 4) and s.get_last_lr()[0] == pytest.approx(c)
    # sequential: LinearLR(0.5 -> 1 over 2) then, from epoch 3, ExponentialLR(0.5) restarted at base
    opt = _sgd()
    s = L.SequentialLR(opt, [L.LinearLR(opt, start_factor=0.5, total_iters=2), L.ExponentialLR(opt, 0.5)], [3])
    assert _lrs(s, 5) == pytest.approx([0.5, 0.75, 1.0, 1.0, 0.5, 0.25], rel=1e-12)


def test_scheduler_get_last_lr_is_a_snapshot():
    opt = _sgd()
    s = sched_mod.ExponentialLR(opt, gamma=0.5)
    last = s.get_last_lr()
    last[0] = 123.0
    assert s.get_last_lr() == [1.0]
    opt.param_groups[0]["lr"] = 7.0  # set by hand: the chainable form continues from it
    s.step()
    assert s.get_last_lr() == [3.5]
    s.step(4)  # an explicit epoch uses the closed form: base_lr * gamma ** 4
    assert s.get_last_lr() == [0.0625]


def test_resume_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        sched_mod.ExponentialLR(_sgd(), gamma=0.5, last_epoch=3)
    opt = _sgd()
    sched_mod.MultiStepLR(opt, [2])
    s = sched_mod.MultiStepLR(opt, [2], last_epoch=1)  # initial_lr now present: resumes at epoch 2
    assert s.last_epoch == 2


BAD_SCHEDULES = [
    ("LinearLR", lambda L, o: L.LinearLR(o, start_factor=0.0)),
    ("LinearLR", lambda L, o: L.LinearLR(o, start_factor=1.5)),
    ("LinearLR", lambda L, o: L.LinearLR(o, end_factor=-0.1)),
    ("LambdaLR", lambda L, o: L.LambdaLR(o, [lambda e: 1.0] * 3)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=1.0)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=0)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=1.0, epochs=0, steps_per_epoch=3)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5)),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp")),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 2.0, 3.0], total_steps=10)),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, factor=1.0)),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, mode="median")),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, threshold_mode="pct")),
    ("ReduceLROnPlateau", lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1, 0.1, 0.1])),
    ("SequentialLR", lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9)], milestones=[3])),
    ("SequentialLR", lambda L, o: L.SequentialLR(o, [], milestones=[])),
    ("SequentialLR", lambda L, o: L.SequentialLR(o, [L.ReduceLROnPlateau(o), L.ExponentialLR(o, 0.9)], [2])),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0)),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5)),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0)),
]


@pytest.mark.parametrize("i", range(len(BAD_SCHEDULES)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_SCHEDULES)])
def test_bad_scheduler_arguments(i):
    name, build = BAD_SCHEDULES[i]
    opt = _optimizer(pycnn, "SGD", [pycnn.ones(1, requires_grad=True), pycnn.ones(1, requires_grad=True)])
    with pytest.raises(ValueError, match=name):
        build(sched_mod, opt)
    torch = pytest.importorskip("torch")
    topt = _optimizer(torch, "SGD", [torch.ones(1, requires_grad=True), torch.ones(1, requires_grad=True)])
    with pytest.raises(ValueError):
        build(torch.optim.lr_scheduler, topt)


def test_one_cycle_momentum_needs_an_optimizer_with_momentum():
    opt = pycnn.optim.Adagrad([pycnn.ones(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="OneCycleLR.*momentum"):
        sched_mod.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts.*non-negative"):
        sched_mod.CosineAnnealingWarmRestarts(_sgd(), T_0=3).step(-1)
    with pytest.raises(TypeError, match="ExponentialLR"):
        sched_mod.ExponentialLR(object(), gamma=0.5)


@pytest.mark.skipif(not pycnn.cuda.is_available(), reason="device='cuda' unavailable (no GPU, no emulator)")
@pytest.mark.parametrize("config", ["sgd_all", "adam_amsgrad_wd_max", "adamw_amsgrad", "rmsprop_all",
                                    "adagrad_init_acc"])
def test_cuda_parameters_follow_the_cpu_trajectory(config):
    """State lives on the parameter's device; state_dict is host numpy, and loads back onto the device."""
    name, opts = CONFIGS[config]
    out = {}
    for dev in ("cpu", "cuda"):
        w = pycnn.tensor(W0, dtype="float64", device=dev, requires_grad=True)
        opt = getattr(pycnn.optim, name)([w], **opts)
        for i in range(4):
            if i == 2:
                sd = opt.state_dict()
                assert all(isinstance(v, np.ndarray) for v in sd["state"][0].values())
                opt = getattr(pycnn.optim, name)([w], lr=1.0)
                opt.load_state_dict(sd)
            opt.zero_grad()
            (w * w * w).sum().backward()
            opt.step()
        assert w.device == ("cpu" if dev == "cpu" else "cuda:0")
        out[dev] = w.cpu().detach().numpy()
    np.testing.assert_allclose(out["cuda"], out["cpu"], rtol=1e-12, atol=1e-14)
