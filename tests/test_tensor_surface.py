"""The rest of torch's tensor surface (issue 15, "Tensors and functions"; pycnn/ops_extra.py):
values and gradients against PyTorch where it is importable, float64 finite differences always."""
import numpy as np
import pytest

import pycnn
from helpers import gradcheck, randn

# (name, pycnn function of tensors, torch function of tensors, input shapes)
DIFFERENTIABLE = [
    ("clamp", lambda x: x.clamp(-0.4, 0.6), lambda x: x.clamp(-0.4, 0.6), [(3, 5)]),
    ("clamp_min", lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), [(7,)]),
    ("clip_max", lambda x: pycnn.clip(x, max=0.2), None, [(2, 3)]),
    ("var", lambda x: x.var(), lambda x: x.var(), [(4, 5)]),
    ("var_dim", lambda x: x.var(1, keepdim=True), lambda x: x.var(1, keepdim=True), [(4, 5)]),
    ("var_biased", lambda x: x.var(0, unbiased=False), lambda x: x.var(0, unbiased=False), [(4, 5)]),
    ("var_correction", lambda x: x.var((0, 2), correction=2), lambda x: x.var((0, 2), correction=2), [(3, 2, 4)]),
    ("std", lambda x: x.std(-1), lambda x: x.std(-1), [(3, 6)]),
    ("norm", lambda x: x.norm(), lambda x: x.norm(), [(3, 4)]),
    ("norm_dim", lambda x: x.norm(dim=1, keepdim=True), lambda x: x.norm(dim=1, keepdim=True), [(3, 4)]),
    ("norm_p1", lambda x: x.norm(p=1, dim=0), lambda x: x.norm(p=1, dim=0), [(3, 4)]),
    ("norm_p3", lambda x: x.norm(p=3), lambda x: x.norm(p=3), [(5,)]),
    ("norm_inf", lambda x: x.norm(p=float("inf"), dim=1), lambda x: x.norm(p=float("inf"), dim=1), [(3, 4)]),
    ("prod", lambda x: x.prod(), lambda x: x.prod(), [(2, 3)]),
    ("prod_dim", lambda x: x.prod(1), lambda x: x.prod(1), [(3, 4)]),
    ("prod_keepdim", lambda x: x.prod(0, keepdim=True), lambda x: x.prod(0, keepdim=True), [(3, 4)]),
    ("cumsum", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [(3, 5)]),
    ("repeat", lambda x: x.repeat(2, 3), lambda x: x.repeat(2, 3), [(2, 3)]),
    ("repeat_newdim", lambda x: x.repeat(2, 1, 2), lambda x: x.repeat(2, 1, 2), [(2, 3)]),
    ("tile", lambda x: x.tile((2,)), lambda x: x.tile((2,)), [(2, 3)]),
    ("flip", lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), [(2, 3, 4)]),
    ("roll", lambda x: x.roll((1, -2), (0, 1)), lambda x: x.roll((1, -2), (0, 1)), [(3, 5)]),
    ("roll_flat", lambda x: x.roll(4), lambda x: x.roll(4), [(3, 5)]),
    ("narrow", lambda x: x.narrow(1, 1, 3), lambda x: x.narrow(1, 1, 3), [(2, 5)]),
    ("split", lambda x: x.split(2, 1)[2], lambda x: x.split(2, 1)[2], [(2, 5)]),
    ("split_sections", lambda x: x.split([1, 4], 1)[1], lambda x: x.split([1, 4], 1)[1], [(2, 5)]),
    ("chunk", lambda x: x.chunk(3, 0)[1], lambda x: x.chunk(3, 0)[1], [(7, 2)]),
    ("unflatten", lambda x: x.unflatten(1, (2, -1)), lambda x: x.unflatten(1, (2, -1)), [(3, 6)]),
    ("expand_as", lambda x, y: x.expand_as(y) * y, lambda x, y: x.expand_as(y) * y, [(1, 4), (3, 4)]),
    ("masked_fill", lambda x: x.masked_fill(pycnn.tensor(MASK), 2.5),
     lambda x: x.masked_fill(__import__("torch").tensor(MASK), 2.5), [(3, 4)]),
    ("sort", lambda x: x.sort(1)[0], lambda x: x.sort(1)[0], [(3, 6)]),
    ("sort_desc", lambda x: x.sort(0, descending=True)[0], lambda x: x.sort(0, descending=True)[0], [(5, 3)]),
    ("topk", lambda x: x.topk(3)[0], lambda x: x.topk(3)[0], [(4, 7)]),
    ("topk_smallest", lambda x: x.topk(2, dim=0, largest=False)[0], lambda x: x.topk(2, dim=0, largest=False)[0],
     [(5, 3)]),
    ("log1p", lambda x: (x * x).log1p(), lambda x: (x * x).log1p(), [(3, 4)]),
    ("rsqrt", lambda x: (x * x + 0.5).rsqrt(), lambda x: (x * x + 0.5).rsqrt(), [(3, 4)]),
    ("maximum", lambda x, y: pycnn.maximum(x, y), None, [(3, 4), (4,)]),
    ("minimum", lambda x, y: pycnn.minimum(x, y), None, [(3, 4), (3, 1)]),
    ("remainder", lambda x, y: x % (y * y + 1), lambda x, y: x % (y * y + 1), [(3, 4), (3, 4)]),
    ("mm", lambda x, y: pycnn.mm(x, y), lambda x, y: x.mm(y), [(3, 4), (4, 2)]),
    ("bmm", lambda x, y: pycnn.bmm(x, y), lambda x, y: x.bmm(y), [(2, 3, 4), (2, 4, 5)]),
    ("einsum_mm", lambda x, y: pycnn.einsum("ij,jk->ik", x, y), None, [(3, 4), (4, 2)]),
    ("einsum_outer_sum", lambda x, y: pycnn.einsum("i,j", x, y), None, [(3,), (4,)]),
    ("einsum_reduce", lambda x, y: pycnn.einsum("bij,bjk->b", x, y), None, [(2, 3, 4), (2, 4, 5)]),
    ("einsum_trace", lambda x: pycnn.einsum("ii->", x), None, [(4, 4)]),
    ("einsum_diag", lambda x, y: pycnn.einsum("ii,i->i", x, y), None, [(3, 3), (3,)]),
    ("einsum_unused_index", lambda x, y: pycnn.einsum("ij,k->i", x, y), None, [(3, 4), (5,)]),
    *[(f"einsum_ellipsis_{i}", (lambda eq: lambda *t: pycnn.einsum(eq, *t))(eq),
       (lambda eq: lambda *t: __import__("torch").einsum(eq, *t))(eq), shapes)
      for i, (eq, shapes) in enumerate([
          ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)]),   # batched matmul
          ("...ij,...jk", [(3, 2, 4), (1, 4, 2)]),          # implicit output, a size-1 '...' dim broadcast
          ("i...,i...->...", [(3, 2, 4), (3, 1, 4)]),
          ("b...c->bc", [(2, 3, 2, 4)]),
          ("...,...", [(3, 4), (4,)]),                       # operands with different '...' ranks
          ("ij...->ji...", [(2, 3, 4)])])],
]
MASK = np.random.default_rng(5).random((3, 4)) > 0.5


@pytest.mark.parametrize("name,fn,_,shapes", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_gradient_matches_finite_differences(name, fn, _, shapes):
    arrays = [randn(*s) for s in shapes]
    if name.startswith("clamp") or name == "clip_max":  # keep the samples away from the kinks
        arrays = [np.where(np.abs(a - 0.6) < 1e-3, a + 0.01, a) for a in arrays]
    gradcheck(fn, *arrays)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,fn,torch_fn,shapes", [c for c in DIFFERENTIABLE if c[2] is not None],
                         ids=[c[0] for c in DIFFERENTIABLE if c[2] is not None])
def test_values_and_gradients_match_torch(name, fn, torch_fn, shapes, dtype):
    torch = pytest.importorskip("torch")
    arrays = [randn(*s).astype(dtype) for s in shapes]
    ours = [pycnn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(*ours), torch_fn(*theirs)
    r = randn(*ty.shape).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    (y * pycnn.tensor(r)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


def test_maximum_minimum_ties_split_the_gradient_as_torch():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 2.0, 3.0, np.nan])
    b = np.array([1.0, 5.0, 0.0, 1.0])
    for name in ("maximum", "minimum"):
        x, y = pycnn.tensor(a, requires_grad=True), pycnn.tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, tout = getattr(pycnn, name)(x, y), getattr(torch, name)(tx, ty)
        np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


def test_sort_argsort_topk_indices_and_nan_order_match_torch():
    torch = pytest.importorskip("torch")
    a = randn(4, 9)
    a[1, 3] = np.nan
    a[2, :3] = 0.5  # ties
    for desc in (False, True):
        v, i = pycnn.tensor(a).sort(1, descending=desc, stable=True)
        tv, ti = torch.tensor(a).sort(dim=1, descending=desc, stable=True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(pycnn.tensor(a).argsort(0, descending=desc).numpy()[:, 0],
                                      torch.tensor(a).argsort(dim=0, descending=desc, stable=True).numpy()[:, 0])
    ints = np.random.default_rng(1).integers(-2 ** 62, 2 ** 62, (3, 6))
    v, _ = pycnn.tensor(ints).sort(descending=True)
    np.testing.assert_array_equal(v.numpy(), torch.tensor(ints).sort(descending=True)[0].numpy())
    b = randn(3, 8)
    v, i = pycnn.tensor(b).topk(4, dim=1)
    tv, ti = torch.tensor(b).topk(4, dim=1)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    with pytest.raises(RuntimeError, match="topk: selected index k=9 out of range"):
        pycnn.tensor(b).topk(9)


def test_piecewise_constant_ops_have_zero_gradient_and_torch_values():
    torch = pytest.importorskip("torch")
    a = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 2.7])
    for name in ("sign", "floor", "ceil", "round"):
        x = pycnn.tensor(a, requires_grad=True)
        y = getattr(x, name)()
        np.testing.assert_array_equal(y.detach().numpy(), getattr(torch.tensor(a), name)().numpy())
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(a))


def test_integer_and_bool_operators_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([-7, -3, 0, 4, 9])
    b = np.array([2, -3, 5, 3, -4])
    x, y, tx, ty = pycnn.tensor(a), pycnn.tensor(b), torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal((x // y).numpy(), (tx // ty).numpy())
    np.testing.assert_array_equal((x % y).numpy(), (tx % ty).numpy())
    np.testing.assert_array_equal((~x).numpy(), (~tx).numpy())
    m = pycnn.tensor([True, False])
    np.testing.assert_array_equal((~m).numpy(), [False, True])
    with pytest.raises(TypeError, match="bitwise_not"):
        ~pycnn.tensor([1.0])
    assert [10, 20, 30][pycnn.tensor(2)] == 30
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][pycnn.tensor(1.0)]
    assert x.eq(x).all().item() and not x.ne(x).any().item() and x.le(x).all().item()
    np.testing.assert_array_equal(x.gt(y).numpy(), a > b)
    np.testing.assert_array_equal(pycnn.any(pycnn.tensor([[0, 1], [0, 0]]), dim=1).numpy(), [True, False])


def test_predicates_and_closeness():
    x = pycnn.tensor([1.0, np.nan, np.inf, -2.0])
    np.testing.assert_array_equal(pycnn.isnan(x).numpy(), [False, True, False, False])
    np.testing.assert_array_equal(x.isfinite().numpy(), [True, False, False, True])
    a = pycnn.tensor(randn(5))
    assert pycnn.allclose(a, a + 1e-9) and not pycnn.allclose(a, a + 1e-3)
    np.testing.assert_array_equal(pycnn.isclose(a, a * 1.0).numpy(), np.ones(5, bool))
    assert pycnn.is_tensor(a) and not pycnn.is_tensor(a.numpy())


def test_set_grad_enabled_as_call_context_and_decorator():
    x = pycnn.tensor(randn(3), requires_grad=True)
    with pycnn.set_grad_enabled(False):
        assert (x * 2).grad_fn is None
    assert (x * 2).grad_fn is not None
    pycnn.set_grad_enabled(False)
    try:
        assert not pycnn.is_grad_enabled()
    finally:
        pycnn.set_grad_enabled(True)

    @pycnn.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert pycnn.is_grad_enabled() and f(x).grad_fn is None and pycnn.is_grad_enabled()


def test_hooks_and_retain_grad():
    x = pycnn.tensor(randn(2, 3), requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)  # a returned tensor replaces the gradient
    (y * y).sum().backward()
    yv = 3 * x.detach().numpy()
    np.testing.assert_allclose(y.grad.numpy(), 2 * yv)  # retained before the doubling hook ran
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * (2 * yv))
    np.testing.assert_allclose(seen[0], x.grad.numpy())
    h.remove()
    x.grad = None
    (x * 1.0).sum().backward()
    assert len(seen) == 1 and y.retains_grad and not x.retains_grad


def test_bad_arguments_name_the_op():
    x = pycnn.tensor(randn(2, 3))
    with pytest.raises(RuntimeError, match="clamp: at least one"):
        x.clamp()
    with pytest.raises(RuntimeError, match="repeat: the number of repeat dims"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="narrow: start"):
        x.narrow(1, 2, 5)
    with pytest.raises(RuntimeError, match="split: sections"):
        x.split([1, 1], 1)
    with pytest.raises(RuntimeError, match="unflatten"):
        x.unflatten(1, (2, 2))
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(pycnn.ones(2, 3), 0.0)
    with pytest.raises(ValueError, match="einsum: subscripts 'ijk'"):
        pycnn.einsum("ijk->i", x)
    with pytest.raises(ValueError, match=r"einsum: the '\.\.\.' dims of the operands do not broadcast"):
        pycnn.einsum("...i,...i", pycnn.tensor(randn(2, 3)), pycnn.tensor(randn(4, 3)))
    with pytest.raises(ValueError, match=r"einsum: subscripts '\.\.\.ijk' do not match an operand of shape"):
        pycnn.einsum("...ijk", x)
    with pytest.raises(RuntimeError, match="mm: both arguments must be 2-D"):
        pycnn.mm(x, pycnn.tensor(randn(3)))
    with pytest.raises(TypeError, match="clamp\\(\\): argument 'input' must be a Tensor"):
        pycnn.clamp([1.0], 0.0)


def test_in_place_clamp_and_masked_fill():
    x = pycnn.tensor(randn(4))
    y = x
    y.clamp_(-0.1, 0.1)
    assert x is y and float(x.abs().max().item()) <= 0.1
    x.masked_fill_(pycnn.tensor([True, False, False, True]), 7.0)
    assert x.numpy()[0] == 7.0 and x.numpy()[3] == 7.0


# ----------------------------------------------------------------------------- creation, import paths, data
def test_creation_functions_follow_torch():
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(pycnn.eye(3, 4).numpy(), torch.eye(3, 4).numpy())
    np.testing.assert_allclose(pycnn.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy(), rtol=1e-6)
    x = pycnn.tensor(randn(2, 3))
    for like in ("full_like", "randn_like", "rand_like", "empty_like"):
        args = (x, 1.5) if like == "full_like" else (x,)
        y = getattr(pycnn, like)(*args)
        assert y.shape == x.shape and y.dtype == x.dtype
    assert pycnn.empty(2, 3).shape == (2, 3) and pycnn.randint(5, (6,)).shape == (6,)
    assert pycnn.randint(2, 5, (3, 2)).shape == (3, 2)


def test_from_numpy_and_as_tensor_share_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = pycnn.from_numpy(a)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t += 1
    assert a[0, 0] == 43.0
    assert pycnn.as_tensor(a)._array is a and pycnn.as_tensor(t) is t
    copied = pycnn.from_numpy(a.T)  # non-contiguous: copied (pycnn tensors are C-contiguous)
    a[0, 0] = 0.0
    assert copied[0, 0].item() == 43.0
    with pytest.raises(TypeError, match="from_numpy"):
        pycnn.from_numpy([1, 2])


def test_torch_import_paths():
    import pycnn.nn.functional as F
    from pycnn.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

    assert F is pycnn.functional and DataLoader is pycnn.data.DataLoader and issubclass(TensorDataset, Dataset)
    ds = TensorDataset(pycnn.arange(10), pycnn.arange(10) * 2)
    parts = random_split(ds, [0.7, 0.3])
    assert [len(p) for p in parts] == [7, 3]
    seen = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    both = ConcatDataset([Subset(ds, [1, 2]), Subset(ds, [5])])
    assert len(both) == 3 and int(both[2][1].item()) == 10 and int(both[-1][0].item()) == 5
    batch = default_collate([{"x": pycnn.ones(2), "y": 1}, {"x": pycnn.zeros(2), "y": 0}])
    assert batch["x"].shape == (2, 2) and batch["y"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="random_split: sum of input lengths"):
        random_split(ds, [3, 3])


# ----------------------------------------------------------------------------- edge cases torch defines
@pytest.mark.parametrize("shapes", [((2, 0), (0, 3)), ((0, 4), (4, 3)), ((2, 4), (4, 0)), ((3, 0, 4), (4, 2))])
def test_matmul_with_a_zero_size_dim_forward_and_backward(shapes):
    a = pycnn.ones(*shapes[0], requires_grad=True)
    b = pycnn.ones(*shapes[1], requires_grad=True)
    y = a @ b
    expected = tuple(np.broadcast_shapes(shapes[0][:-2], ())) + (shapes[0][-2], shapes[1][-1])
    assert y.shape == expected
    y.sum().backward()
    assert a.grad.shape == shapes[0] and b.grad.shape == shapes[1]
    assert float(np.abs(a.grad.numpy()).sum() + np.abs(b.grad.numpy()).sum()) == 0.0  # nothing to sum


def test_reductions_squeeze_on_0d_tensors_as_torch():
    x = pycnn.tensor(3.0, requires_grad=True)
    for y in (x.sum(0), x.mean(-1), x.sum(dim=(0,)), x.squeeze(0), x.squeeze()):
        assert y.shape == () and y.item() == 3.0
    x.sum(0).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError, match="sum: dim 1 out of range"):
        x.sum(1)
