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


# ----------------------------------------------------------------------------- in place (item 7)
def test_augmented_assignment_is_in_place():
    a = pycnn.tensor(randn(3))
    before = a.numpy().copy()
    b = a
    b += 1
    assert b is a
    np.testing.assert_allclose(a.numpy(), before + 1, rtol=1e-6)
    v = a.reshape(3)  # a view sees the write, as in torch
    a *= 2
    np.testing.assert_allclose(v.numpy(), (before + 1) * 2, rtol=1e-6)
    a -= 1
    a /= 4
    np.testing.assert_allclose(a.numpy(), ((before + 1) * 2 - 1) / 4, rtol=1e-6)
    assert a._version == 4


def test_manual_sgd_step_in_no_grad_updates_the_parameter():
    p = pycnn.tensor(randn(4, 3), requires_grad=True)
    (p * p).sum().backward()
    before, g = p.detach().numpy().copy(), p.grad.numpy().copy()
    with pycnn.no_grad():
        p -= 0.1 * p.grad
    np.testing.assert_allclose(p.detach().numpy(), before - 0.1 * g, rtol=1e-6)
    assert p.is_leaf and p.requires_grad


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__", "add_", "mul_", "relu_"])
def test_in_place_on_a_leaf_that_requires_grad_raises(op):
    p = pycnn.tensor(randn(3), requires_grad=True)
    args = () if op == "relu_" else (2.0,)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        getattr(p, op)(*args)


def test_modified_saved_tensor_makes_backward_raise():
    x = pycnn.tensor(randn(3), requires_grad=True)
    w = pycnn.tensor(randn(3), requires_grad=True)
    h = x * 1.0
    y = (h * w).sum()  # mul saves h
    with pycnn.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    # a saved output (exp keeps its result) is checked too
    e = x.exp()
    z = e.sum()
    e2 = e * 1.0
    loss = (e * 2).sum()
    e.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    del z, e2


def test_optimizer_step_then_backward_through_a_retained_graph_raises():
    lin = pycnn.nn.Linear(3, 2)
    opt = pycnn.optim.SGD(lin.parameters(), lr=0.1)
    loss = lin(pycnn.tensor(randn(4, 3, dtype="float32"))).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def _numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "relu"])
def test_recorded_in_place_ops_give_the_right_gradient(op):
    """y = x*w; y <op>= z; loss = sum(y * c): the in-place op rebases y onto its node, and every
    gradient (x, w, z) matches a float64 finite difference."""
    rng = np.random.default_rng(3)
    xs, ws, zs, c = (rng.standard_normal((2, 3)) + 3 * (i == 2) for i in range(4))

    def run(xa, wa, za, grad=False):
        x, w, z = (pycnn.tensor(a, requires_grad=grad) for a in (xa, wa, za))
        y = x * w
        if op == "add":
            y += z
        elif op == "sub":
            y -= z
        elif op == "mul":
            y *= z
        elif op == "div":
            y /= z
        else:
            y.relu_()
        loss = (y * pycnn.tensor(c)).sum()
        if grad:
            loss.backward()
            return x, w, z
        return loss.item()

    x, w, z = run(xs, ws, zs, grad=True)
    np.testing.assert_allclose(x.grad.numpy(), _numeric_grad(lambda a: run(a, ws, zs), xs), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(w.grad.numpy(), _numeric_grad(lambda a: run(xs, a, zs), ws), rtol=1e-6, atol=1e-8)
    if op != "relu":
        np.testing.assert_allclose(z.grad.numpy(), _numeric_grad(lambda a: run(xs, ws, a), zs), rtol=1e-6, atol=1e-8)


def test_residual_add_in_place_matches_out_of_place():
    """torchvision's BasicBlock does `out += identity` on a BatchNorm output."""
    pycnn.manual_seed(0)
    conv, bn = pycnn.nn.Conv2d(3, 3, 3, padding=1), pycnn.nn.BatchNorm2d(3)
    x0 = randn(2, 3, 5, 5, dtype="float32")
    grads = []
    for in_place in (False, True):
        x = pycnn.tensor(x0, requires_grad=True)
        out = bn(conv(x))
        out = out.__iadd__(x) if in_place else out + x
        F.relu(out, inplace=in_place).sum().backward()
        grads.append((x.grad.numpy().copy(), conv.weight.grad.numpy().copy()))
        conv.zero_grad()
        bn.zero_grad()
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_relu_module_inplace_really_works_in_place():
    x = pycnn.tensor(randn(2, 3))
    y = pycnn.nn.ReLU(inplace=True)(x)
    assert y is x and (x.numpy() >= 0).all()


def test_in_place_type_and_shape_rules_follow_torch():
    i = pycnn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 1.5
    a = pycnn.tensor(randn(3))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        a += pycnn.tensor(randn(2, 3))
    f32 = pycnn.ones(3)
    f32 += pycnn.ones(3, dtype=pycnn.float64)  # float64 operand, float32 result, as torch
    assert f32.dtype == pycnn.float32


def test_in_place_on_a_view_while_recording_raises_not_a_wrong_gradient():
    x = pycnn.tensor(randn(2, 3), requires_grad=True)
    y = x * 2
    v = y.reshape(6)
    with pytest.raises(RuntimeError, match="shares its memory"):
        v *= 3


# ----------------------------------------------------------------------------- crashes and hangs
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402


def _run(code, timeout=120):
    """Runs code in a fresh interpreter; returns (returncode, output). A signal is a negative code."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       cwd=tempfile.gettempdir(),  # not the checkout: its pycnn/ has no compiled module
                       timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "2"})
    return r.returncode, r.stdout + r.stderr


_MEMORY_LIMITED = """
    import resource, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    import pycnn
    import pycnn.functional as F
    pycnn.set_num_threads(2)
    def vm():
        for line in open('/proc/self/status'):
            if line.startswith('VmSize'):
                return int(line.split()[1]) * 1024
    rng = np.random.default_rng(0)
    t = lambda *s: pycnn.tensor(rng.standard_normal(s).astype(np.float32))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_allocation_failure_inside_a_parallel_region_is_a_memory_error():
    """Two images of a 7x7 conv: each thread's im2col scratch (205 MB) is allocated inside the
    OpenMP region; with room for one, the other thread's bad_alloc used to abort the process."""
    rc, out = _run(_MEMORY_LIMITED.format(tests=os.path.dirname(__file__)) + """
    x, w = t(2, 256, 64, 64), t(4, 256, 7, 7)
    limit = vm() + (300 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        F.conv2d(x, w, padding=3)
        print("NO ERROR")
    except MemoryError:
        print("MEMORYERROR")
    """)
    assert rc == 0 and "MEMORYERROR" in out, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_huge_strides_size_buffers_by_the_image():
    """The column-phase copy of a plane was sized by the stride (2^31 columns for a 7-wide row:
    bad_alloc, an abort); within 64 MB of headroom both convs must run and be right."""
    rc, out = _run(_MEMORY_LIMITED.format(tests=os.path.dirname(__file__)) + """
    from reference import conv as ref
    x, w = t(1, 1, 7, 7), t(1, 1, 3, 3)
    x2 = t(1, 1, 64, 64)
    limit = vm() + (64 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    y = F.conv2d(x, w, stride=2 ** 31)
    y2 = F.conv2d(x2, w, stride=(1, 2 ** 25))
    np.testing.assert_allclose(y.numpy(), ref.conv2d(x.numpy().astype(np.float64), w.numpy().astype(np.float64), None, (2 ** 31, 2 ** 31)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y2.numpy(), ref.conv2d(x2.numpy().astype(np.float64), w.numpy().astype(np.float64), None, (1, 2 ** 25)), rtol=1e-5, atol=1e-5)
    g = pycnn.tensor(x2.numpy(), requires_grad=True)
    F.conv2d(g, w, stride=(1, 2 ** 25)).sum().backward()
    print("OK", y.shape, y2.shape)
    """)
    assert rc == 0 and "OK (1, 1, 1, 1) (1, 1, 62, 1)" in out, out


@pytest.mark.parametrize("n,exc", [(2 ** 31 - 1, ValueError), (1000, ValueError), (0, ValueError),
                                   (-1, ValueError), (2 ** 70, ValueError), (1.9, TypeError),
                                   (True, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects_what_libgomp_cannot_run(n, exc):
    before = pycnn.get_num_threads()
    with pytest.raises(exc, match="set_num_threads"):
        pycnn.set_num_threads(n)
    assert pycnn.get_num_threads() == before
    x = pycnn.tensor(randn(2, 3, 16, 16))
    assert F.conv2d(x, pycnn.tensor(randn(4, 3, 3, 3))).shape == (2, 4, 14, 14)


_FORK_WORK = """
    import os, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    import pycnn
    import pycnn.functional as F
    pycnn.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = pycnn.tensor(rng.standard_normal((8, 16, 48, 48)).astype(np.float32))
    w = pycnn.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32))
    expected = F.conv2d(x, w).numpy()  # the parent's OpenMP threads now exist
"""


def test_fork_after_a_multithreaded_kernel_runs_the_child_on_one_thread():
    tests = os.path.dirname(__file__)
    rc, out = _run(_FORK_WORK.format(tests=tests) + """
    pid = os.fork()
    if pid == 0:
        ok = np.allclose(F.conv2d(x, w).numpy(), expected, rtol=1e-5, atol=1e-4)
        try:
            pycnn.set_num_threads(2)
            code = 3
        except RuntimeError as e:
            code = 0 if ok and "forked" in str(e) and pycnn.get_num_threads() == 1 else 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("CHILD", os.waitstatus_to_exitcode(status))
    """, timeout=90)
    assert rc == 0 and "CHILD 0" in out, out


def test_multiprocessing_fork_pool_after_a_multithreaded_kernel_does_not_hang():
    tests = os.path.dirname(__file__)
    rc, out = _run(_FORK_WORK.format(tests=tests) + """
    import multiprocessing as mp
    def work(i):
        return float(F.conv2d(x[i:i + 1], w).sum().item())
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map(work, range(4))
    np.testing.assert_allclose(got, expected[:4].reshape(4, -1).sum(1), rtol=1e-4)
    print("POOL OK")
    """, timeout=90)
    assert rc == 0 and "POOL OK" in out, out
