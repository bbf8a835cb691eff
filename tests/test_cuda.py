"""device='cuda': pycnn.device, moving tensors and modules, what a CUDA tensor refuses, the device
generators, mixed-device errors, pycnn.cuda's queries and their reasons, and the emulated device
itself (its barriers, shuffles, deadlock detection and host/device separation).

In this process 'cuda' is a GPU when one is present, else the emulated device (conftest.py); the
availability messages are checked in subprocesses with the emulator off."""
import os

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import nn, optim
from helpers import randn, run_python

pytestmark = pytest.mark.skipif(not pycnn.cuda.is_available(), reason=f"device='cuda' unavailable: "
                                f"{pycnn.cuda.unavailable_reason()}")
EMULATED = pycnn.cuda.is_emulated()


# ----------------------------------------------------------------------------- pycnn.device
def test_device_objects():
    d = pycnn.device("cuda", 0)
    assert d == "cuda:0" and d == pycnn.device("cuda:0") and d != "cuda" and d != "cpu"
    assert (d.type, d.index) == ("cuda", 0) and str(d) == "cuda:0"
    assert repr(d) == "device(type='cuda', index=0)" and repr(pycnn.device("cpu")) == "device(type='cpu')"
    assert pycnn.device("cpu") == "cpu" and pycnn.device(pycnn.device("cuda:1")).index == 1
    assert len({pycnn.device("cuda", 0), pycnn.device("cuda:0")}) == 1 and hash(d) == hash("cuda:0")
    for bad, exc in (("tpu", ValueError), ("cuda:x", ValueError), ("cuda:0", ValueError), (3, TypeError)):
        with pytest.raises(exc, match="device"):
            pycnn.device(bad, 1) if bad == "cuda:0" else pycnn.device(bad)
    with pytest.raises(ValueError, match="cpu"):
        pycnn.device("cpu", 1)


# ----------------------------------------------------------------------------- tensors
def test_to_and_back_keeps_values_dtype_and_grad():
    for dtype in ("float32", "float64", "int64", "bool"):
        a = (randn(3, 4) > 0) if dtype == "bool" else (randn(3, 4) * 10).astype(dtype)
        t = pycnn.tensor(a)
        c = t.to("cuda")
        assert c.device == "cuda:0" and c.is_cuda and c.dtype == t.dtype and c.shape == t.shape
        np.testing.assert_array_equal(c.cpu().numpy(), a)
        assert c.cuda() is c and t.cpu() is t
    x = pycnn.tensor(randn(2, 3), requires_grad=True)
    y = (x.cuda() * 3).sum()  # the copy is differentiable: the gradient comes back to the CPU
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0))
    z = pycnn.zeros(2, 3, device="cuda", dtype="float64").to(x)
    assert z.device == "cpu" and z.dtype == x.dtype


def test_a_cuda_tensor_converts_to_host_only_explicitly():
    t = pycnn.tensor([[1.5, 2.0], [3.0, 4.0]], device="cuda")
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy; use Tensor.cpu\(\)"):
        t.numpy()
    with pytest.raises(TypeError, match="cuda:0"):
        np.asarray(t)
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]] and t[1, 0].item() == 3.0 and float(t.sum()) == 10.5
    assert "device='cuda:0'" in repr(t) and "3." in repr(t)


def test_mixed_devices_raise_naming_both():
    a, b = pycnn.randn(2, 3), pycnn.randn(2, 3, device="cuda")
    for fn in (lambda: a + b, lambda: b * a, lambda: F.conv2d(pycnn.randn(1, 1, 4, 4, device="cuda"),
                                                                pycnn.randn(1, 1, 3, 3))):
        with pytest.raises(RuntimeError, match=r"same device.*(cpu.*cuda:0|cuda:0.*cpu)"):
            fn()
    with pytest.raises(RuntimeError, match="cuda:0.*cpu|cpu.*cuda:0"):
        pycnn.where(a > 0, b, b)
    with pytest.raises(RuntimeError, match="in-place"):
        with pycnn.no_grad():
            b.add_(a)


def test_creation_on_the_device_and_like():
    for make in (lambda: pycnn.zeros(2, 3, device="cuda"), lambda: pycnn.ones(2, device="cuda"),
                 lambda: pycnn.full((2, 2), 7.0, device="cuda"), lambda: pycnn.arange(5, device="cuda"),
                 lambda: pycnn.randn(3, device="cuda"), lambda: pycnn.rand(3, device="cuda"),
                 lambda: pycnn.randint(0, 5, (4,), device="cuda"), lambda: pycnn.randperm(6, device="cuda")):
        t = make()
        assert t.device == "cuda:0"
        assert isinstance(t._array, pycnn._backend.backend("cuda").xp.ndarray)
    t = pycnn.randn(2, 2, device="cuda")
    assert pycnn.zeros_like(t).device == "cuda:0" and pycnn.ones_like(t, device="cpu").device == "cpu"
    assert sorted(pycnn.randperm(6, device="cuda").tolist()) == list(range(6))


def test_device_random_numbers_follow_manual_seed():
    pycnn.manual_seed(3)
    a = pycnn.randn(5, device="cuda").tolist()
    c = pycnn.randn(5).tolist()
    pycnn.manual_seed(3)
    assert pycnn.randn(5, device="cuda").tolist() == a and pycnn.randn(5).tolist() == c
    x = pycnn.ones(1000, device="cuda")
    pycnn.manual_seed(4)
    d1 = F.dropout(x, 0.5).tolist()
    pycnn.manual_seed(4)
    assert F.dropout(x, 0.5).tolist() == d1 and 300 < sum(v > 0 for v in d1) < 700


def test_module_to_moves_parameters_buffers_and_grads():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    x = pycnn.randn(2, 1, 6, 6)
    m(x).sum().backward()
    m.to("cuda")
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        assert t.device == "cuda:0", name
    assert m[1].num_batches_tracked.dtype == np.int64  # an integer buffer moves too, uncast
    assert all(p.grad.device == "cuda:0" for p in m.parameters())
    sd = m.state_dict()  # detached device tensors sharing storage, torch's keys
    assert all(type(v) is pycnn.Tensor and v.device == "cuda:0" for v in sd.values()) and "1.running_var" in sd
    m2 = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).cuda()
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2[0].weight.cpu().detach().numpy(), sd["0.weight"].cpu().numpy())
    m.cpu()
    assert all(p.device == "cpu" for p in m.parameters())


def test_sgd_on_the_device_matches_the_cpu():
    pycnn.manual_seed(0)
    cpu = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    gpu = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    gpu.load_state_dict(cpu.state_dict())
    gpu.cuda()
    x, y = pycnn.randn(8, 5), pycnn.randint(0, 3, (8,))
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3) for m in (cpu, gpu)]
    for _ in range(3):
        for m, opt, (xx, yy) in zip((cpu, gpu), opts, ((x, y), (x.cuda(), y.cuda()))):
            opt.zero_grad()
            F.cross_entropy(m(xx), yy).backward()
            opt.step()
    for (k, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values()):
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    state = opts[1].state_dict()["state"][0]["momentum_buffer"]
    assert isinstance(state, np.ndarray)  # the optimizer's state_dict is on the host too
    opts[1].load_state_dict(opts[1].state_dict())
    assert next(iter(opts[1].state.values()))["momentum_buffer"].__class__ is gpu[0].weight._array.__class__


def test_save_and_load_a_cuda_model(tmp_path):
    m = nn.Linear(3, 2).cuda()
    pycnn.save(m.state_dict(), tmp_path / "m.npz")
    back = pycnn.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back["weight"], m.weight.detach().cpu().numpy())


def test_cuda_queries():
    assert pycnn.cuda.is_available() and pycnn.cuda.device_count() >= 1 and pycnn.cuda.current_device() == 0
    assert isinstance(pycnn.cuda.get_device_name(0), str)
    pycnn.cuda.synchronize()
    before = pycnn.cuda.memory_allocated()
    t = pycnn.zeros(1 << 16, device="cuda")
    assert pycnn.cuda.memory_allocated() >= before + 4 * (1 << 16)
    del t
    info = pycnn.build_info()
    assert info["cuda_available"] and info["cuda_device"].startswith("emulated" if EMULATED else "")


# ----------------------------------------------------------------------------- availability (subprocesses)
def _without_emulator(code):
    env = {k: v for k, v in os.environ.items() if k != "PYCNN_CUDA_EMULATOR"}
    return run_python("-c", code, env=env)


@pytest.mark.skipif(pycnn.cuda.gpu_count() > 0, reason="a GPU is present: 'cuda' is available without the emulator")
def test_without_a_gpu_cuda_says_why():
    out = _without_emulator(
        "import pycnn\n"
        "print(pycnn.cuda.is_available(), pycnn.cuda.device_count())\n"
        "try:\n    pycnn.zeros(2, device='cuda')\nexcept RuntimeError as e:\n    print('ERROR', e)\n"
        "try:\n    pycnn.cuda.get_device_name(0)\nexcept RuntimeError as e:\n    print('ERROR', e)\n")
    assert out.returncode == 0, out.stderr
    first, *errors = out.stdout.strip().splitlines()
    assert first == "False 0"
    assert len(errors) == 2 and all("PYCNN_CUDA_EMULATOR=1" in e for e in errors)
    assert "device 'cuda' requested" in errors[0] and "get_device_name" in errors[1]


def test_the_emulator_needs_the_environment_variable_before_the_first_cuda_tensor():
    out = run_python("-c", "import pycnn, pycnn.functional as F; x = pycnn.randn(2, 3, 8, 8, device='cuda'); "
                     "print(F.max_pool2d(x, 2).cpu().shape)", env=dict(os.environ, PYCNN_CUDA_EMULATOR="1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 3, 4, 4)"


# ----------------------------------------------------------------------------- the emulated device
emulator_only = pytest.mark.skipif(not EMULATED, reason="tests of the emulated device itself")


@emulator_only
def test_emulated_device_memory_refuses_host_arrays():
    xp = pycnn._backend.backend("cuda").xp
    d = xp.ones(3)
    with pytest.raises(TypeError, match="host numpy array"):
        d + np.ones(3)
    with pytest.raises(TypeError, match="host numpy array"):
        xp.concatenate([d, np.ones(2)])
    assert (d + 1).get().tolist() == [2.0, 2.0, 2.0] and float(d.sum()) == 3.0  # scalars mix freely


@emulator_only
def test_emulated_barriers_shuffles_atomics_and_deadlocks():
    e = pycnn.cuda._cuda_emu
    x = np.random.default_rng(11).standard_normal(256)
    np.testing.assert_allclose(e._selftest("tree_sum", list(x)), x.reshape(4, 64).sum(1), rtol=1e-12)
    np.testing.assert_allclose(e._selftest("shuffle_sum", list(x)), x.reshape(8, 32).sum(1), rtol=1e-12)
    np.testing.assert_allclose(e._selftest("atomic_add", list(x)), [x.sum()], rtol=1e-12)
    # without its first __syncthreads a thread reads a partner's value before it is stored: the
    # blocks whose threads run in order (even blocks) get a wrong sum
    y = np.random.default_rng(12).standard_normal(256)
    wrong = np.abs(np.array(e._selftest("tree_sum_missing_barrier", list(y))) - y.reshape(4, 64).sum(1)) > 1e-9
    assert wrong[0] and wrong[2]
    with pytest.raises(RuntimeError, match="deadlock"):
        e._selftest("deadlock")


@emulator_only
def test_emulated_device_works_in_a_forked_child():
    """The emulator's worker threads do not exist in a forked child: it starts new ones."""
    out = run_python("-c", "import os, pycnn, pycnn.functional as F\n"
                     "x = pycnn.randn(4, 8, 16, 16, device='cuda'); F.avg_pool2d(x, 2)\n"
                     "pid = os.fork()\n"
                     "if pid == 0:\n    F.avg_pool2d(x, 2).sum().item(); os._exit(7)\n"
                     "print(os.waitpid(pid, 0)[1] >> 8)", env=dict(os.environ, PYCNN_CUDA_EMULATOR="1"), timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "7", out.stderr
