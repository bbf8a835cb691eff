"""The fusions of eager mode (issue 13): BatchNorm with a following ReLU, and conv with a following
ReLU at inference.

BatchNorm + ReLU (csrc/norm.h: batch_norm_forward relu=True, the backward's relu_output;
pycnn.functional._norm.BatchNormRelu; nn.Sequential's recognized pair) must give the same numbers
as the two ops: on every backend (the CPU kernels, the plain-loop spec, the emulated CUDA device)
the output, dx, dweight, dbias and the running statistics are compared bit for bit with BatchNorm
then F.relu on the same backend, over the norm family's case table (every fast path of the CPU
kernel: serial, parallel, channel-at-a-time and sample-major sweeps), training and eval, with and
without affine; the CPU kernels again at every SIMD level on 1 and 2 threads; and against the
float64 reference.  Then the Sequential rule (which pairs fuse, which do not), the in-place check on
the saved output, a float64 gradcheck and PyTorch itself.

Conv + ReLU (csrc/conv.h: conv2d_forward relu=True, the ReLU in the bias pass) runs only where no
graph is recorded; it is compared bit for bit with conv then relu on every backend over the conv
family's fast paths, and the Sequential rule is checked."""
import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import nn
from cases.norm import BATCH_NORM_CASES, shape_id
from helpers import cpu_simd_levels, gradcheck, num_threads, simd
from reference import norm as ref

EPS = 1e-5


def _data(shape, dtype, seed):
    g = np.random.default_rng(seed)
    x = (0.3 + g.standard_normal(shape)).astype(dtype)  # both signs after normalizing: ReLU masks some
    dy = g.standard_normal(shape).astype(dtype)
    C = shape[1]
    return x, dy, (1 + g.random(C)).astype(dtype) * np.where(np.arange(C) % 2, -1, 1), g.standard_normal(C).astype(dtype)


def _layer(shape, affine, dtype, training, device="cpu"):
    cls = nn.BatchNorm1d if len(shape) <= 3 else nn.BatchNorm2d
    bn = cls(shape[1], affine=affine, dtype=dtype, device=device)
    bn.train(training)
    return bn


def _run(backend, shape, dtype, training, affine, fused, seed=0):
    """(y, dx, dweight, dbias, running_mean, running_var) of BatchNorm + ReLU, fused or not."""
    x0, dy0, w0, b0 = _data(shape, dtype, seed)
    with backend.active():
        bn = _layer(shape, affine, dtype, training, backend.device)
        if affine:
            bn.weight._array[...] = backend.tensor(w0)._array
            bn.bias._array[...] = backend.tensor(b0)._array
        if not training:  # eval: running statistics that are not the batch's
            bn.running_mean._array[...] = backend.tensor(0.2 * w0)._array
            bn.running_var._array[...] = backend.tensor(0.5 + np.abs(b0))._array
        x = backend.tensor(x0, requires_grad=True)
        if fused:
            seq = nn.Sequential(bn, nn.ReLU())
            y = seq(x)
            assert type(y.grad_fn).__name__ == "BatchNormRelu"
        else:
            y = F.relu(bn(x))
            assert type(y.grad_fn).__name__ == "Relu"
        y.backward(backend.tensor(dy0))
        out = [y, x.grad] + ([bn.weight.grad, bn.bias.grad] if affine else []) + [bn.running_mean, bn.running_var]
        return [backend.numpy(t) for t in out]


def _assert_same(fused, unfused):
    assert len(fused) == len(unfused)
    for a, b in zip(fused, unfused):
        np.testing.assert_array_equal(a, b)


# training needs more than one value per channel (the params refuse it, fused or not)
TRAIN_CASES = [s for s in BATCH_NORM_CASES if np.prod(s) > s[1]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", TRAIN_CASES, ids=shape_id)
def test_fused_equals_batch_norm_then_relu_training(backend, shape, dtype):
    _assert_same(_run(backend, shape, dtype, True, True, True), _run(backend, shape, dtype, True, True, False))


MODE_SHAPES = [(2, 3), (3, 5, 7), (2, 3, 5, 7), (2, 33, 4099), (1031, 33)]


# eval (with and without affine) also on one value per channel; training without affine
MODE_CASES = ([pytest.param(s, False, a, id=f"{shape_id(s)}-eval{'' if a else '-no-affine'}")
               for s in MODE_SHAPES + [(1, 3)] for a in (True, False)]
              + [pytest.param(s, True, False, id=f"{shape_id(s)}-training-no-affine") for s in MODE_SHAPES])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,training,affine", MODE_CASES)
def test_fused_equals_unfused_eval_and_without_affine(backend, shape, dtype, training, affine):
    _assert_same(_run(backend, shape, dtype, training, affine, True),
                 _run(backend, shape, dtype, training, affine, False))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", cpu_simd_levels())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_at_every_simd_level_and_thread_count(level, dtype, threads):
    from backends import BACKENDS
    cpu = next(b for b in BACKENDS if b.name == "cpu")
    with simd(level), num_threads(threads):
        for shape in [(7, 31, 151), (2, 4, 4096), (4, 3, 67, 71), (2, 33, 4099), (8209, 5), (3, 2, 17)]:
            for training in (True, False):
                _assert_same(_run(cpu, shape, dtype, training, True, True),
                             _run(cpu, shape, dtype, training, True, False))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 5, 17), (9, 4)], ids=shape_id)
def test_fused_against_the_float64_reference(backend, shape, training):
    """relu(batch_norm(x)) and its gradients from tests/reference/norm.py: dy through ReLU's
    select (where the output is > 0), then BatchNorm's backward."""
    x0, dy0, w0, b0 = _data(shape, "float64", 5)
    rm, rv = 0.2 * w0, 0.5 + np.abs(b0)
    y, dx, dw, db = _run(backend, shape, "float64", training, True, True, seed=5)[:4]
    ref_y = np.maximum(ref.batch_norm(x0, w0, b0, EPS, training, rm, rv), 0)
    ref_dx, ref_dw, ref_db = ref.batch_norm_backward(np.where(ref_y > 0, dy0, 0.0), x0, w0, EPS, training, rm, rv)
    np.testing.assert_allclose(y, ref_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, ref_db, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_fused_gradcheck(training):
    from pycnn.functional._norm import _batch_norm
    g = np.random.default_rng(4)
    rm, rv = pycnn.tensor(g.standard_normal(2)), pycnn.tensor(0.5 + g.random(2))
    gradcheck(lambda t, w, b: _batch_norm(t, rm, rv, w, b, training, 0.0, EPS, relu=True),
              g.standard_normal((3, 2, 4, 5)) + 0.2, np.array([1.3, -0.8]), np.array([0.2, -0.1]))


# ----------------------------------------------------------------------------- which pairs fuse
def _fn_names(seq, x):
    """The grad_fn names along the output's chain of single-input nodes."""
    names, node = [], seq(x).grad_fn
    while node is not None:
        names.append(type(node).__name__)
        inputs = [a for a in (node.inputs or ()) if isinstance(a, pycnn.Tensor) and a.grad_fn is not None]
        node = inputs[0].grad_fn if inputs else None
    return names


def test_sequential_fuses_batch_norm_then_relu_only():
    x = pycnn.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    conv = nn.Conv2d(3, 3, 3, padding=1)
    assert "BatchNormRelu" in _fn_names(nn.Sequential(conv, nn.BatchNorm2d(3), nn.ReLU()), x)
    assert "BatchNormRelu" in _fn_names(nn.Sequential(nn.BatchNorm2d(3), nn.ReLU(inplace=True)), x)
    # not a BatchNorm then a ReLU: the ops as written
    for seq in (nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3)), nn.Sequential(nn.BatchNorm2d(3)),
                nn.Sequential(nn.BatchNorm2d(3), nn.LeakyReLU()), nn.Sequential(nn.BatchNorm2d(3), nn.Identity(), nn.ReLU()),
                nn.Sequential(nn.GroupNorm(1, 3), nn.ReLU()), nn.Sequential(nn.InstanceNorm2d(3), nn.ReLU())):
        assert "BatchNormRelu" not in _fn_names(seq, x), seq

    class LoudBN(nn.BatchNorm2d):  # a subclass's own forward runs as written
        calls = 0

        def forward(self, input):
            LoudBN.calls += 1
            return super().forward(input)

    class Relu7(nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 7

    assert "BatchNormRelu" not in _fn_names(nn.Sequential(LoudBN(3), nn.ReLU()), x) and LoudBN.calls == 1
    bn = nn.BatchNorm2d(3)
    y = nn.Sequential(bn, Relu7())(x)
    np.testing.assert_array_equal(y.detach().numpy(), (F.relu(bn(x)) * 7).detach().numpy())
    assert "BatchNormRelu" not in _fn_names(nn.Sequential(nn.BatchNorm2d(3), Relu7()), x)
    patched = nn.BatchNorm2d(3)
    patched.forward = lambda input: input * 2  # an instance's own forward, too
    np.testing.assert_allclose(nn.Sequential(patched, nn.ReLU())(x).detach().numpy(),
                               np.maximum(2 * x.detach().numpy(), 0))


def test_fused_output_changed_in_place_before_backward_raises():
    x = pycnn.tensor(np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32), requires_grad=True)
    y = nn.Sequential(nn.BatchNorm1d(2), nn.ReLU())(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*BatchNormRelu"):
        y.sum().backward()


def test_fused_backward_binding_checks_relu_output():
    from pycnn import _C
    x = np.ones((2, 3, 4), np.float32)
    p = _C.batch_norm_params("batch_norm", x.shape, None, None, None, None, True, EPS)
    y, m, r = _C.batch_norm_forward(x, None, None, None, None, p, True, 0.1, relu=True)
    with pytest.raises(ValueError, match=r"batch_norm_backward: relu_output shape \(2, 3\) differs from input"):
        _C.batch_norm_backward(x, x, m, r, None, p, True, relu_output=np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="batch_norm_backward: relu_output dtype float64 differs"):
        _C.batch_norm_backward(x, x, m, r, None, p, True, relu_output=np.ones((2, 3, 4)))


def test_fused_pair_matches_torch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(9)
    x0 = g.standard_normal((8, 4, 6, 6)).astype(np.float32)
    ours = nn.Sequential(nn.Conv2d(4, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.Conv2d(4, 5, 3, padding=1), torch.nn.BatchNorm2d(5), torch.nn.ReLU())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        x, tx = pycnn.tensor(x0, requires_grad=True), torch.from_numpy(x0.copy()).requires_grad_()
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours[1].weight.grad.numpy(), theirs[1].weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ours[1].running_var.numpy(), theirs[1].running_var.numpy(), rtol=1e-5)
        for m in (*ours.parameters(), *theirs.parameters()):
            m.grad = None


# ----------------------------------------------------------------------------- conv + ReLU, inference
def _conv_relu_cases():
    from cases.conv import FAST_CASES
    return [c for c in FAST_CASES if c["padding"] != "same"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("c", _conv_relu_cases(), ids=lambda c: __import__("cases.conv", fromlist=["x"]).case_id(c))
def test_conv_relu_equals_conv_then_relu(backend, c, dtype):
    """Every CPU fast path (pointwise, depthwise, wide, padded-wide, im2col, phases), with and
    without bias, through the backend's native conv2d_forward."""
    from pycnn import _backend
    from cases.conv import params
    g = np.random.default_rng(len(str(c)))
    x0 = g.standard_normal((c["N"], c["C_in"], c["H"], c["W"])).astype(dtype)
    w0 = g.standard_normal((c["C_out"], c["C_in"] // c["groups"], *c["k"])).astype(dtype)
    b0 = g.standard_normal(c["C_out"]).astype(dtype)
    p = params(c)
    with backend.active():
        nat = _backend.backend(backend.device).native
        x, w, b = (backend.tensor(a)._array for a in (x0, w0, b0))
        for bias in (b, None):
            fused = nat.conv2d_forward(x, w, bias, p, relu=True)
            plain = nat.activation_forward(nat.conv2d_forward(x, w, bias, p), "relu")
            to_np = (lambda a: backend.numpy(pycnn.Tensor._wrap(a, backend.device)))
            got, want = to_np(fused), to_np(plain)
            assert want.size < 16 or 0 < (want > 0).mean() < 1  # the ReLU cuts somewhere
            np.testing.assert_array_equal(got, want)


def test_sequential_fuses_conv_then_relu_without_a_graph(monkeypatch):
    from pycnn.nn.conv import _Conv
    calls = []
    real = _Conv._forward_relu
    monkeypatch.setattr(_Conv, "_forward_relu", lambda self, x: calls.append(type(self).__name__) or real(self, x))
    g = np.random.default_rng(3)
    x = pycnn.tensor(g.standard_normal((2, 3, 8, 8)).astype(np.float32))
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1), nn.ReLU(inplace=True))
    with pycnn.no_grad():
        fused = seq(x).numpy()
    assert calls == ["Conv2d", "Conv2d"]
    unfused = F.relu(seq[2](F.relu(seq[0](x)))).detach().numpy()
    np.testing.assert_array_equal(fused, unfused)
    # a graph is recorded (parameters require grad): the ops as written, so backward works
    y = seq(x)
    assert calls == ["Conv2d", "Conv2d"] and type(y.grad_fn).__name__ == "Relu"
    # nothing requires grad: no graph even with grad mode on
    for prm in seq.parameters():
        prm.requires_grad_(False)
    np.testing.assert_array_equal(seq(x).numpy(), fused)
    assert len(calls) == 4
    # conv1d too; not for reflect padding, a transposed conv or a ReLU subclass
    x1 = pycnn.tensor(g.standard_normal((2, 3, 11)).astype(np.float32))
    with pycnn.no_grad():
        nn.Sequential(nn.Conv1d(3, 2, 3), nn.ReLU())(x1)
        assert calls[-1] == "Conv1d"
        n = len(calls)
        nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), nn.ReLU())(x)
        nn.Sequential(nn.ConvTranspose2d(3, 2, 3), nn.ReLU())(x)
        nn.Sequential(nn.Conv2d(3, 2, 3), type("MyReLU", (nn.ReLU,), {"forward": lambda self, t: t})())(x)
        assert len(calls) == n


def test_conv_relu_binding_refuses_a_transposed_conv():
    from pycnn import _C
    x, w = np.ones((1, 2, 3, 3), np.float32), np.ones((2, 2, 2, 2), np.float32)
    p = _C.conv_transpose2d_params("conv_transpose2d", 2, x.shape, w.shape, None, (1, 1), (0, 0), (0, 0), 1, (1, 1))
    with pytest.raises(ValueError, match="conv_transpose2d: relu=True is only fused into conv2d's forward"):
        _C.conv_transpose2d_forward(x, w, None, p, relu=True)
