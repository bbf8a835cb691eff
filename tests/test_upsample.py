"""Upsample family: interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear) and the bed-of-nails
upsample on every backend (the ``backend`` fixture: the CPU kernels, the plain-loop spec, and the
CUDA device when present) through pycnn.functional and pycnn.nn, forward and backward, against
the numpy float64 reference (tests/reference/upsample.py) on the family's case table
(cases/upsample.py); the thread count, finite-difference gradchecks, the nn modules, bad input
(and the bindings' own array checks), the identities with conv_transpose2d, and PyTorch."""
import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C, nn
from cases import DTYPES
from cases.upsample import (ARGUMENT_CASES, AXIS_CASES, BED_CASES, INTERPOLATE_CASES, MODES, PLANE_CASES,
                            SCALE_CASES, VOLUME_CASES, VOLUME_MODES, bed_id, case_id, kwargs, out_size, ref_scales)
from helpers import assert_close, gradcheck, num_threads, randn
from reference import upsample as ref

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def T(a, requires_grad=False):
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=a.dtype, requires_grad=requires_grad)


def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def _matrices(c):
    """The reference's per-axis interpolation matrices of a case (H first; 1-D: L only)."""
    return [ref.axis_matrix(n, o, c["mode"], bool(c["ac"]), s)
            for n, o, s in zip(c["shape"][2:], out_size(c), ref_scales(c) or (None,) * (len(c["shape"]) - 2))]


def test_case_table_has_the_awkward_cases():
    """The table reaches the paths of csrc/cpu/upsample.cpp it says it does (cases/upsample.py)."""
    four_d = [c for c in INTERPOLATE_CASES + PLANE_CASES if len(c["shape"]) == 4]
    for mode, ac in MODES:
        mine = [c for c in four_d if (c["mode"], c["ac"]) == (mode, ac)]
        readers = [(M.sum(axis=0) > 0) for c in mine for M in _matrices(c)[:1]]   # per input row: read?
        many = [(M > 0).sum(axis=0).max() for c in mine for M in _matrices(c)[:1]]
        assert any(not r.all() for r in readers), (mode, ac, "an unread input row")
        assert max(many) >= 3, (mode, ac, "an input row read by several output rows")
        planes = {c["shape"][0] * c["shape"][1] for c in mine}
        assert min(planes) == 1 and max(planes) >= 64, (mode, ac, planes)
        assert any(c["shape"][0] * c["shape"][1] == 1 and out_size(c)[0] >= 64 for c in mine), "one tall plane"
        assert any(c["shape"][3] in (17, 33, 65) for c in mine), "a tile+1 width"
        assert any(c["size"] is None and not c["recompute"] for c in mine)
        assert any(c["recompute"] for c in mine)
        if mode == "bilinear":
            # one axis 1-tap (out == in, or in == 1), the other 2-tap; both ways round
            taps = [[int((M > 0).sum(axis=1).max()) for M in _matrices(c)] for c in mine]
            assert [1, 2] in taps and [2, 1] in taps, (mode, ac)
            assert any(out_size(c)[0] == 1 and c["shape"][2] > 1 for c in mine)     # out == 1
        if mode == "bicubic":
            # four taps inside, fewer distinct ones where they clamp at an edge, an input read twice by one output
            rows = [(M != 0).sum(axis=1) for c in mine for M in _matrices(c) if M.shape[1] >= 4]
            assert any((r == 4).any() for r in rows) and any((r < 4).any() for r in rows), (mode, ac)
        if not ac:
            # a given scale factor that picks other sources than in/out would
            assert any(not np.array_equal(_matrices(c)[1], ref.axis_matrix(c["shape"][3], out_size(c)[1], mode))
                       for c in mine if ref_scales(c)), (mode, "scale used")
    # the nearest shortcuts with a scale factor that disagrees: out == in by 1.1, out == 2 * in by 2.1
    near = [c for c in SCALE_CASES if c["mode"] == "nearest" and not c["recompute"]]
    assert any(out_size(c)[0] == c["shape"][2] and c["scale"][0] == 1.1 for c in near)
    assert any(out_size(c)[0] == 2 * c["shape"][2] and c["scale"][0] == 2.1 for c in near)
    assert any(len(c["shape"]) == 3 for c in ARGUMENT_CASES) and AXIS_CASES and PLANE_CASES
    # 5-D: per mode a depth axis up, down past unread depths, unchanged, from 1; size and scale forms; planes
    for mode, ac in VOLUME_MODES:
        mine = [c for c in VOLUME_CASES + PLANE_CASES if (c["mode"], c["ac"]) == (mode, ac)]
        depth = [(c["shape"][2], out_size(c)[0]) for c in mine]
        assert any(o > n for n, o in depth) and any(n == o for n, o in depth) and any(n == 1 < o for n, o in depth)
        assert any(not (_matrices(c)[0].sum(axis=0) > 0).all() for c in mine), (mode, ac, "an unread depth")
        assert any(c["size"] is None for c in mine) and any(c["recompute"] for c in mine)
        planes = {c["shape"][0] * c["shape"][1] for c in mine}
        assert min(planes) == 1 and max(planes) >= 64


# ----------------------------------------------------------------------------- the case table, every backend
def _run(backend, c, x, dy):
    """F.interpolate of case c on x, then backward of dy: (y, dx) as host arrays."""
    xt = backend.tensor(x, requires_grad=True)
    y = F.interpolate(xt, **kwargs(c))
    assert y.shape == dy.shape and y.dtype == x.dtype
    y.backward(backend.tensor(dy))
    assert xt.grad.dtype == x.dtype
    return backend.numpy(y), backend.numpy(xt.grad)


def _expected(c, x, dy):
    args = (c["mode"], bool(c["ac"]), ref_scales(c))
    return ref.interpolate_forward(x, out_size(c), *args), ref.interpolate_backward(dy, c["shape"][2:], *args)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", INTERPOLATE_CASES, ids=case_id)
def test_interpolate(backend, c, dtype):
    x = randn(*c["shape"], dtype=dtype)
    dy = randn(*c["shape"][:2], *out_size(c), dtype=dtype)
    y, dx = _run(backend, c, x, dy)
    ry, rdx = _expected(c, x, dy)
    assert_close(y, ry, dtype, what="forward")
    assert_close(dx, rdx, dtype, what="backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", PLANE_CASES, ids=case_id)
def test_interpolate_thread_counts(backend, c, dtype):
    """On 1, 2 and 3 threads (the rows of one plane split, or whole planes): each matches the
    reference, and forward and backward are the same bit for bit whatever the thread count (the
    backward gathers per input row: no races, no order that depends on the split)."""
    x = randn(*c["shape"], dtype=dtype)
    dy = randn(*c["shape"][:2], *out_size(c), dtype=dtype)
    ry, rdx = _expected(c, x, dy)
    first = None
    for n in (1, 2, 3):
        with num_threads(n):
            y, dx = _run(backend, c, x, dy)
        assert_close(y, ry, dtype, what=f"forward on {n} threads")
        assert_close(dx, rdx, dtype, what=f"backward on {n} threads")
        if first is None:
            first = y, dx
            continue
        np.testing.assert_array_equal(y, first[0], err_msg=f"forward on {n} threads vs 1")
        np.testing.assert_array_equal(dx, first[1], err_msg=f"backward on {n} threads vs 1")


@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolate_non_contiguous_input(backend, dtype):
    """A tensor made from a strided array, a transposed tensor, and a transpose after the op (its
    gradient arrives transposed) are read by their values.  (pycnn tensors are C-contiguous --
    tensor() and transpose copy -- so strided arrays reach the kernels only through the bindings:
    test_bindings_check_their_arrays.)"""
    base = randn(2, 3, 9, 5, dtype=dtype)
    x = base.transpose(0, 1, 3, 2)
    assert not x.flags["C_CONTIGUOUS"]
    for xt in (backend.tensor(x, requires_grad=True), backend.tensor(base, requires_grad=True).transpose(2, 3)):
        y = F.interpolate(xt, size=(4, 13), mode="bilinear")
        assert_close(y, ref.interpolate_forward(np.ascontiguousarray(x), (4, 13), "bilinear"), dtype)
    xt = backend.tensor(x, requires_grad=True)
    y = F.interpolate(xt, size=(13, 4), mode="nearest").transpose(2, 3)
    g = randn(2, 3, 4, 13, dtype=dtype)
    y.backward(backend.tensor(g))
    assert_close(xt.grad, ref.interpolate_backward(np.ascontiguousarray(g.transpose(0, 1, 3, 2)), (5, 9), "nearest"),
                 dtype)


def test_interpolate_empty_batch(backend):
    for shape in ((0, 3, 4, 5), (2, 0, 4, 5)):
        for mode in ("nearest", "bilinear"):
            xt = backend.tensor(np.ones(shape, np.float32), requires_grad=True)
            y = F.interpolate(xt, size=(7, 3), mode=mode)
            assert y.shape == shape[:2] + (7, 3)
            y.backward(backend.tensor(np.ones(y.shape, np.float32)))
            assert xt.grad.shape == shape
    y = F.upsample_bed_of_nails(backend.tensor(np.ones((0, 3, 4, 5), np.float32)), (2, 3))
    assert y.shape == (0, 3, 8, 15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", BED_CASES, ids=bed_id)
def test_bed_of_nails(backend, c, dtype):
    """Forward is a copy and backward a strided slice: exact, on 1 and 2 threads."""
    shape, (sH, sW) = c
    x = randn(*shape, dtype=dtype)
    dy = randn(shape[0], shape[1], shape[2] * sH, shape[3] * sW, dtype=dtype)
    for n in (1, 2):
        xt = backend.tensor(x, requires_grad=True)
        with num_threads(n):
            y = F.upsample_bed_of_nails(xt, (sH, sW))
        assert y.dtype == np.dtype(dtype) and y.shape == dy.shape
        np.testing.assert_array_equal(backend.numpy(y), ref.bed_of_nails_forward(x, sH, sW))
        with num_threads(n):
            y.backward(backend.tensor(dy))
        np.testing.assert_array_equal(backend.numpy(xt.grad), ref.bed_of_nails_backward(dy, sH, sW))


# ----------------------------------------------------------------------------- Python ops and semantics
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,scale", [((2, 3, 5, 7), 2), ((3, 4, 1), (3, 2)), ((1, 1, 1, 1), (1, 4))])
def test_bed_of_nails_forms_and_module(backend, shape, scale, dtype):
    """int and pair scales, (C, H, W) input, and the nn layer."""
    x = randn(*shape, dtype=dtype)
    xt = backend.tensor(x, requires_grad=True)
    sH, sW = (scale, scale) if isinstance(scale, int) else scale
    y = F.upsample_bed_of_nails(xt, scale)
    np.testing.assert_array_equal(backend.numpy(y), ref.bed_of_nails_forward(x, sH, sW))
    g = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(g))
    np.testing.assert_array_equal(backend.numpy(xt.grad), ref.bed_of_nails_backward(g, sH, sW))
    layer = nn.BedOfNailsUpsample(scale)
    np.testing.assert_array_equal(backend.numpy(layer(backend.tensor(x))), backend.numpy(y))


@pytest.mark.parametrize("mode,ac,shape,kw", [
    ("nearest", None, (1, 2, 3, 4), dict(size=(5, 3))),
    ("nearest", None, (2, 1, 5), dict(scale_factor=1.7)),
    ("nearest-exact", None, (1, 2, 4, 3), dict(scale_factor=(0.5, 2.5))),
    ("linear", None, (2, 2, 5), dict(size=3)),
    ("linear", True, (1, 2, 4), dict(scale_factor=1.7)),
    ("bilinear", False, (1, 2, 3, 4), dict(size=(5, 3))),
    ("bilinear", True, (1, 2, 3, 4), dict(scale_factor=(1.7, 0.5))),
    ("bicubic", False, (1, 2, 3, 4), dict(size=(5, 3))),
    ("bicubic", True, (1, 2, 5, 4), dict(scale_factor=(1.7, 0.5))),
    ("bicubic", False, (1, 1, 4, 3), dict(scale_factor=1.1)),   # unchanged size, resampled by the scale
    ("trilinear", False, (1, 2, 3, 2, 4), dict(size=(4, 3, 2))),
    ("trilinear", True, (1, 1, 2, 3, 3), dict(scale_factor=(2, 0.7, 1.5))),
    ("nearest", None, (1, 2, 2, 3, 2), dict(scale_factor=(2, 1.5, 0.5))),
    ("nearest-exact", None, (1, 1, 3, 2, 3), dict(size=(2, 5, 4))),
    ("area", None, (1, 2, 5, 4), dict(size=(2, 3))),
])
def test_interpolate_gradcheck(mode, ac, shape, kw):
    gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=ac, **kw), randn(*shape))


def test_interpolate_inside_a_graph_gradcheck():
    """An interpolate node inside a longer graph accumulates its grad like any op."""
    gradcheck(lambda t: F.interpolate(t * t, scale_factor=2, mode="bilinear").tanh() * 3.0, randn(1, 2, 3, 2))


def test_bed_of_nails_gradcheck():
    gradcheck(lambda t: F.upsample_bed_of_nails(t, (2, 3)), randn(1, 2, 3, 2))
    gradcheck(lambda t: F.upsample_bed_of_nails(t * t, 2).tanh(), randn(2, 3, 2))


def test_interpolate_same_size_is_a_copy(backend):
    x = randn(2, 3, 5, 7)
    for mode, ac in (("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)):
        y = F.interpolate(backend.tensor(x), size=(5, 7), mode=mode, align_corners=ac)
        np.testing.assert_array_equal(backend.numpy(y), x)
        if mode != "nearest-exact":  # floor(1.1 n) == n: the copy shortcut (nearest-exact has none)
            y = F.interpolate(backend.tensor(x), scale_factor=1.1, mode=mode, align_corners=ac)
            np.testing.assert_array_equal(backend.numpy(y), x)


def test_nearest_integer_scale_repeats_each_value(backend):
    x = randn(2, 3, 4, 5)
    y = backend.numpy(F.interpolate(backend.tensor(x), scale_factor=(2, 3), mode="nearest"))
    np.testing.assert_array_equal(y, x.repeat(2, axis=2).repeat(3, axis=3))


def test_deprecated_aliases(backend):
    x = backend.tensor(randn(1, 2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        a = F.upsample_bilinear(x, scale_factor=2)
    assert_close(a, backend.numpy(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)))
    with pytest.warns(UserWarning, match="deprecated"):
        b = F.upsample_nearest(x, size=(5, 5))
    assert_close(b, backend.numpy(F.interpolate(x, size=5)))
    with pytest.warns(UserWarning, match="deprecated"):
        c = F.upsample(x, size=(2, 6), mode="bilinear")
    assert_close(c, backend.numpy(F.interpolate(x, size=(2, 6), mode="bilinear")))


# ----------------------------------------------------------------------------- four ways back up
def _depthwise(backend, kernel, C, dtype):
    return backend.tensor(np.broadcast_to(kernel, (C, 1) + kernel.shape).astype(dtype))


def _same_with_grads(backend, x, fa, fb, dtype):
    """fa(x) == fb(x), and so are their input gradients for one random dy."""
    tx1, tx2 = backend.tensor(x, requires_grad=True), backend.tensor(x, requires_grad=True)
    a, b = fa(tx1), fb(tx2)
    assert_close(a, backend.numpy(b), dtype)
    g = randn(*a.shape, dtype=dtype)
    a.backward(backend.tensor(g))
    b.backward(backend.tensor(g))
    assert_close(tx1.grad, backend.numpy(tx2.grad), dtype)


@pytest.mark.parametrize("s", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bed_of_nails_is_conv_transpose_with_a_one_hot_kernel(backend, s, dtype):
    one_hot = np.zeros((s, s))
    one_hot[0, 0] = 1
    w = _depthwise(backend, one_hot, 3, dtype)
    _same_with_grads(backend, randn(2, 3, 5, 4, dtype=dtype), lambda t: F.upsample_bed_of_nails(t, s),
                     lambda t: F.conv_transpose2d(t, w, stride=s, groups=3), dtype)


@pytest.mark.parametrize("s", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_is_conv_transpose_with_an_all_ones_kernel(backend, s, dtype):
    w = _depthwise(backend, np.ones((s, s)), 3, dtype)
    # both gradients: the s x s block sum of dy
    _same_with_grads(backend, randn(2, 3, 5, 4, dtype=dtype),
                     lambda t: F.interpolate(t, scale_factor=s, mode="nearest"),
                     lambda t: F.conv_transpose2d(t, w, stride=s, groups=3), dtype)


def test_nearest_is_bed_of_nails_with_each_block_filled(backend):
    x = randn(2, 3, 5, 4)
    nails = backend.numpy(F.upsample_bed_of_nails(backend.tensor(x), 3))
    filled = nails.reshape(2, 3, 5, 3, 4, 3)[:, :, :, :1, :, :1] * np.ones((1, 1, 1, 3, 1, 3))
    assert_close(F.interpolate(backend.tensor(x), scale_factor=3), filled.reshape(2, 3, 15, 12))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_x2_is_conv_transpose_with_the_bilinear_kernel(backend, dtype):
    """align_corners=False: stride-2 transposed conv with k (x) k, k = [1,3,3,1]/4, on the
    replicate-padded input (the padding reproduces torch's clamped border)."""
    k = np.array([0.25, 0.75, 0.75, 0.25])
    w = _depthwise(backend, np.outer(k, k), 3, dtype)
    _same_with_grads(backend, randn(2, 3, 5, 6, dtype=dtype),
                     lambda t: F.interpolate(t, scale_factor=2, mode="bilinear"),
                     lambda t: F.conv_transpose2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), w, stride=2, padding=3,
                                                  groups=3), dtype)


def _top_left_indices(shape, s):
    N, C, H, W = shape
    rows = (np.arange(H) * s)[:, None] * (W * s) + (np.arange(W) * s)[None, :]
    return np.broadcast_to(rows, shape).astype(np.int64)


def test_bed_of_nails_is_max_unpool_at_the_top_left(backend):
    x = randn(2, 3, 5, 4)
    idx = backend.tensor(_top_left_indices(x.shape, 2))
    np.testing.assert_array_equal(backend.numpy(F.max_unpool2d(backend.tensor(x), idx, 2)),
                                  backend.numpy(F.upsample_bed_of_nails(backend.tensor(x), 2)))
    _same_with_grads(backend, x, lambda t: F.max_unpool2d(t, idx, 2), lambda t: F.upsample_bed_of_nails(t, 2),
                     "float64")


@needs_torch
def test_bed_of_nails_is_torch_max_unpool_at_the_top_left():
    x = randn(2, 3, 5, 4)
    idx = _top_left_indices(x.shape, 3)
    expected = TF.max_unpool2d(torch.from_numpy(x), torch.from_numpy(idx.copy()), 3).numpy()
    np.testing.assert_array_equal(F.upsample_bed_of_nails(T(x), 3).numpy(), expected)


# ----------------------------------------------------------------------------- nn modules
def test_modules_forward_and_repr(backend):
    x = backend.tensor(randn(2, 3, 4, 5))
    up = nn.Upsample(scale_factor=2, mode="bilinear")
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert_close(up(x), backend.numpy(F.interpolate(x, scale_factor=2.0, mode="bilinear")))
    assert repr(nn.Upsample(size=(3, 4))) == "Upsample(size=(3, 4), mode='nearest')"
    assert repr(nn.Upsample(scale_factor=(2, 3))) == "Upsample(scale_factor=(2.0, 3.0), mode='nearest')"
    ub = nn.UpsamplingBilinear2d(size=7)
    assert repr(ub) == "UpsamplingBilinear2d(size=7, mode='bilinear')" and ub.align_corners is True
    assert_close(ub(x), backend.numpy(F.interpolate(x, size=7, mode="bilinear", align_corners=True)))
    un = nn.UpsamplingNearest2d(scale_factor=3)
    assert repr(un) == "UpsamplingNearest2d(scale_factor=3.0, mode='nearest')"
    assert_close(un(x), backend.numpy(F.interpolate(x, scale_factor=3)))
    assert repr(nn.BedOfNailsUpsample((2, 3))) == "BedOfNailsUpsample(scale_factor=(2, 3))"
    assert list(up.parameters()) == [] and up.state_dict() == {}


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_backward(backend, dtype):
    """nn.Upsample (recompute_scale_factor kept) and the torch-named subclasses, through autodiff."""
    x = randn(2, 3, 5, 7, dtype=dtype)
    for module, c in [
        (nn.Upsample(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
         dict(mode="bilinear", ac=False, out=(8, 11), scales=None)),
        (nn.Upsample(scale_factor=(1.7, 0.5), mode="nearest-exact"),
         dict(mode="nearest-exact", ac=False, out=(8, 3), scales=(1.7, 0.5))),
        (nn.UpsamplingBilinear2d(size=(3, 13)), dict(mode="bilinear", ac=True, out=(3, 13), scales=None)),
        (nn.UpsamplingNearest2d(scale_factor=3), dict(mode="nearest", ac=False, out=(15, 21), scales=(3.0, 3.0))),
    ]:
        xt = backend.tensor(x, requires_grad=True)
        y = module(xt)
        args = (c["mode"], c["ac"], c["scales"])
        assert_close(y, ref.interpolate_forward(x, c["out"], *args), dtype, what=repr(module))
        dy = randn(*y.shape, dtype=dtype)
        y.backward(backend.tensor(dy))
        assert_close(xt.grad, ref.interpolate_backward(dy, x.shape[2:], *args), dtype, what=repr(module))


@needs_torch
def test_module_reprs_match_torch():
    for args, kw in [((), dict(scale_factor=2, mode="bilinear")), ((), dict(size=(3, 4))),
                     ((), dict(scale_factor=(2, 3), mode="nearest-exact")), ((5,), dict(mode="linear"))]:
        assert repr(nn.Upsample(*args, **kw)) == repr(torch.nn.Upsample(*args, **kw))
    assert repr(nn.UpsamplingBilinear2d(scale_factor=2)) == repr(torch.nn.UpsamplingBilinear2d(scale_factor=2))
    assert repr(nn.UpsamplingNearest2d(size=3)) == repr(torch.nn.UpsamplingNearest2d(size=3))


# ----------------------------------------------------------------------------- bad input
def test_bad_input(backend):
    x = backend.tensor(randn(1, 2, 3, 4))
    x3 = backend.tensor(randn(1, 2, 5))
    cases = [
        (ValueError, "only one of size or scale_factor", lambda: F.interpolate(x, size=4, scale_factor=2)),
        (ValueError, "either size or scale_factor", lambda: F.interpolate(x)),
        (ValueError, "align_corners option can only be set", lambda: F.interpolate(x, size=4, align_corners=True)),
        (ValueError, "align_corners option can only be set",
         lambda: F.interpolate(x, size=4, mode="nearest-exact", align_corners=False)),
        (NotImplementedError, r"got 3D input of shape \(1, 2, 5\), but bilinear mode needs 4D",
         lambda: F.interpolate(x3, size=4, mode="bilinear")),
        (NotImplementedError, r"got 4D input of shape \(1, 2, 3, 4\), but linear mode needs 3D",
         lambda: F.interpolate(x, size=4, mode="linear")),
        (ValueError, r"input must be 3-D \(N, C, L\), 4-D \(N, C, H, W\) or 5-D \(N, C, D, H, W\), got 6-D",
         lambda: F.interpolate(backend.tensor(randn(1, 1, 2, 2, 2, 2)), size=3)),
        (NotImplementedError, r"got 5D input of shape \(1, 1, 2, 2, 2\), but bicubic mode needs 4D",
         lambda: F.interpolate(backend.tensor(randn(1, 1, 2, 2, 2)), size=4, mode="bicubic")),
        (NotImplementedError, r"got 4D input of shape \(1, 2, 3, 4\), but trilinear mode needs 5D",
         lambda: F.interpolate(x, size=4, mode="trilinear")),
        (NotImplementedError, r"mode 'area' on 5-D input",
         lambda: F.interpolate(backend.tensor(randn(1, 1, 2, 2, 2)), size=4, mode="area")),
        (ValueError, "mode must be one of", lambda: F.interpolate(x, size=4, mode="cubic")),
        (ValueError, r"sizes should be greater than 0.*\(3, 4\).*\(0, 2\)", lambda: F.interpolate(x, size=(0, 2))),
        (ValueError, r"sizes should be greater than 0.*\(3, 4\).*\(-1, -1\)", lambda: F.interpolate(x, size=-1)),
        (ValueError, r"sizes should be greater than 0.*\(0, 1\)", lambda: F.interpolate(x, scale_factor=0.3)),
        (ValueError, r"sizes should be greater than 0.*\(0, 4\) \(shape \(1, 2, 0, 4\)\)",
         lambda: F.interpolate(backend.tensor(np.ones((1, 2, 0, 4))), size=3)),
        (ValueError, "scale_factor must be positive", lambda: F.interpolate(x, scale_factor=-2)),
        (ValueError, "scale_factor must be positive", lambda: F.interpolate(x, scale_factor=float("inf"))),
        (ValueError, r"spatial dimensions of \[3, 4\] and output size \(2, 3, 4\)",
         lambda: F.interpolate(x, size=(2, 3, 4))),
        (ValueError, "spatial dimensions", lambda: F.interpolate(x3, scale_factor=(2, 2))),
        (TypeError, "size must be an int", lambda: F.interpolate(x, size=4.0)),
        (TypeError, "scale_factor must be a number", lambda: F.interpolate(x, scale_factor="2")),
        (ValueError, "recompute_scale_factor is not meaningful",
         lambda: F.interpolate(x, size=4, recompute_scale_factor=True)),
        (NotImplementedError, "antialias", lambda: F.interpolate(x, size=4, mode="bilinear", antialias=True)),
        (TypeError, r"interpolate: expected a floating point tensor, got dtype int64 with shape \(1, 2, 3, 4\)",
         lambda: F.interpolate(backend.tensor(np.ones((1, 2, 3, 4), np.int64)), size=4)),
        (TypeError, "interpolate: input must be a Tensor", lambda: F.interpolate(randn(1, 2, 3, 4), size=4)),
        # from the params constructor (C++): the output size overflows int64
        (ValueError, r"interpolate: the output size \(1, 2, 1, 1099511627776, 1099511627776\) has more elements than "
                     r"int64 can count",
         lambda: F.interpolate(x, size=(2 ** 40, 2 ** 40))),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got 1\.5", lambda: F.upsample_bed_of_nails(x, 1.5)),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got 2\.0", lambda: F.upsample_bed_of_nails(x, 2.0)),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got \(2, 1\.5\)",
         lambda: F.upsample_bed_of_nails(x, (2, 1.5))),
        (TypeError, "upsample_bed_of_nails: scale_factor", lambda: F.upsample_bed_of_nails(x, (2, 2, 2))),
        (TypeError, "upsample_bed_of_nails: scale_factor", lambda: F.upsample_bed_of_nails(x, True)),
        (ValueError, r"upsample_bed_of_nails: scale_factor must be positive integers, got \(0, 0\)",
         lambda: F.upsample_bed_of_nails(x, 0)),
        (ValueError, r"upsample_bed_of_nails: input must be .* got shape \(3, 4\)",
         lambda: F.upsample_bed_of_nails(backend.tensor(randn(3, 4)), 2)),
        (TypeError, r"upsample_bed_of_nails: expected a floating point tensor, got dtype int64",
         lambda: F.upsample_bed_of_nails(backend.tensor(np.ones((1, 2, 3, 4), np.int64)), 2)),
        # from the params constructor (C++)
        (ValueError, r"upsample_bed_of_nails: the output size overflows int64 \(3 \* 4611686018427387904\)",
         lambda: F.upsample_bed_of_nails(x, 2 ** 62)),
        (TypeError, r"BedOfNailsUpsample: scale_factor .* got 1\.5", lambda: nn.BedOfNailsUpsample(1.5)),
    ]
    for exc, pattern, fn in cases:
        _raises(exc, pattern, fn)


def test_params_constructors_hold_the_rules():
    """The rules the kernels rely on live in the *_params constructors (csrc/params), whatever
    Python checked first."""
    P = _C.upsample_params
    none3 = [None, None, None]
    _raises(ValueError, r"interpolate: input shape must have 5 values, got \(2, 3, 4\)", P,
            "interpolate", (2, 3, 4), (1, 2, 2), "nearest", False, none3)
    _raises(ValueError, r"interpolate: output size must have 3 values, got \(2, 2\)", P,
            "interpolate", (1, 2, 1, 3, 4), (2, 2), "nearest", False, none3)
    _raises(ValueError, r"interpolate: input and output sizes should be greater than 0, got input \(D: 1, H: 3, W: 4\) "
            r"output \(D: 1, H: 0, W: 2\)", P, "interpolate", (1, 2, 1, 3, 4), (1, 0, 2), "nearest", False, none3)
    _raises(ValueError, r"interpolate: input and output sizes should be greater than 0, got input \(D: 0, H: 3, W: 4\)",
            P, "interpolate", (1, 2, 0, 3, 4), (2, 2, 2), "linear", False, none3)
    _raises(ValueError, r"interpolate: batch/channel sizes must be >= 0, got N=-1 C=2", P,
            "interpolate", (-1, 2, 1, 3, 4), (1, 2, 2), "nearest", False, none3)
    _raises(ValueError, r"interpolate: mode must be 'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear' or "
            r"'bicubic', got 'area'", P, "interpolate", (1, 2, 1, 3, 4), (1, 2, 2), "area", False, none3)
    _raises(ValueError, r"interpolate: align_corners can only be set with the linear and cubic modes, got mode "
            r"'nearest'", P, "interpolate", (1, 2, 1, 3, 4), (1, 2, 2), "nearest", True, none3)
    _raises(ValueError, r"interpolate: scale factors must be positive and finite, got -1", P,
            "interpolate", (1, 2, 1, 3, 4), (1, 2, 2), "nearest", False, [None, None, -1.0])
    _raises(ValueError, r"interpolate: scale factors must be positive and finite, got inf", P,
            "interpolate", (1, 2, 1, 3, 4), (1, 2, 2), "bilinear", False, [float("inf"), None, None])
    _raises(ValueError, r"interpolate: scales must be \(scale_d, scale_h, scale_w\), got 2 values", P,
            "interpolate", (1, 2, 1, 3, 4), (1, 2, 2), "nearest", False, [None, None])
    _raises(ValueError, r"interpolate: the output size \(1, 2, 1, 1099511627776, 1099511627776\) has more elements",
            P, "interpolate", (1, 2, 1, 3, 4), (1, 2 ** 40, 2 ** 40), "nearest", False, none3)
    B = _C.bed_of_nails_params
    _raises(ValueError, r"upsample_bed_of_nails: scale_factor must be positive integers, got \(0, 2\)", B,
            "upsample_bed_of_nails", (1, 2, 3, 4), (0, 2))
    _raises(ValueError, r"upsample_bed_of_nails: sizes must be >= 0, got \(1, -2, 3, 4\)", B,
            "upsample_bed_of_nails", (1, -2, 3, 4), (2, 2))
    _raises(ValueError, r"upsample_bed_of_nails: scale_factor must have 2 values", B,
            "upsample_bed_of_nails", (1, 2, 3, 4), (2,))
    _raises(ValueError, r"upsample_bed_of_nails: the output size overflows int64", B,
            "upsample_bed_of_nails", (1, 2, 3, 4), (2 ** 62, 1))
    p = P("interpolate", (2, 3, 6, 5, 7), (3, 4, 9), "trilinear", True, [2.0, None, 1.5])
    assert (p.N, p.C, p.D, p.H, p.W, p.D_out, p.H_out, p.W_out) == (2, 3, 6, 5, 7, 3, 4, 9)
    assert (p.mode, p.align_corners) == ("linear", True) and P("x", (1, 1, 1, 1, 1), (1, 1, 1), "bicubic", False,
                                                                none3).mode == "bicubic"
    assert p.in_shape == (2, 3, 6, 5, 7) and p.out_shape == (2, 3, 3, 4, 9) and p.scales == (2.0, 0.0, 1.5)
    b = B("upsample_bed_of_nails", (2, 3, 5, 7), (3, 2))
    assert b.in_shape == (2, 3, 5, 7) and b.out_shape == (2, 3, 15, 14) and (b.scale_h, b.scale_w) == (3, 2)


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
def test_bindings_check_their_arrays(reference):
    """The kernel bindings (fast and plain-loop) adapt arrays to their params: a dtype the kernels
    lack and a shape other than the params' are refused; a strided array is read by its values."""
    kw = dict(reference=reference)
    p = _C.upsample_params("interpolate", (1, 2, 1, 3, 4), (1, 5, 6), "bilinear", False, [None, None, None])
    b = _C.bed_of_nails_params("upsample_bed_of_nails", (1, 2, 3, 4), (2, 2))
    x, x5 = randn(1, 2, 3, 4), randn(1, 2, 1, 3, 4)
    _raises(TypeError, r"interpolate: input must be float32 or float64, got dtype int32 with shape \(1, 2, 1, 3, 4\)",
            _C.upsample_forward, x5.astype(np.int32), p, **kw)
    _raises(TypeError, r"interpolate: grad_output must be float32 or float64, got dtype float16",
            _C.upsample_backward, randn(1, 2, 1, 5, 6).astype(np.float16), p, **kw)
    _raises(ValueError, r"interpolate: input \(1, 2, 1, 4, 3\) does not match the shape \(1, 2, 1, 3, 4\)",
            _C.upsample_forward, randn(1, 2, 1, 4, 3), p, **kw)
    _raises(ValueError, r"interpolate: input \(1, 2, 3, 4\) does not match the shape \(1, 2, 1, 3, 4\)",
            _C.upsample_forward, x, p, **kw)
    _raises(ValueError, r"interpolate: grad_output \(1, 2, 1, 3, 4\) does not match the shape \(1, 2, 1, 5, 6\)",
            _C.upsample_backward, x5, p, **kw)
    _raises(TypeError, r"upsample_bed_of_nails: input must be float32 or float64, got dtype int64",
            _C.bed_of_nails_forward, x.astype(np.int64), b, **kw)
    _raises(ValueError, r"upsample_bed_of_nails: input \(1, 2, 6, 8\) does not match the shape \(1, 2, 3, 4\)",
            _C.bed_of_nails_forward, randn(1, 2, 6, 8), b, **kw)
    _raises(ValueError, r"upsample_bed_of_nails: grad_output \(1, 2, 3, 4\) does not match the shape \(1, 2, 6, 8\)",
            _C.bed_of_nails_backward, x, b, **kw)
    # strided arrays: made contiguous by the binding
    xs = randn(1, 2, 1, 4, 3).transpose(0, 1, 2, 4, 3)
    assert not xs.flags["C_CONTIGUOUS"]
    assert_close(_C.upsample_forward(xs, p, **kw)[:, :, 0],
                 ref.interpolate_forward(np.ascontiguousarray(xs[:, :, 0]), (5, 6), "bilinear"))
    gs = randn(1, 2, 1, 6, 5).transpose(0, 1, 2, 4, 3)
    assert_close(_C.upsample_backward(gs, p, **kw)[:, :, 0],
                 ref.interpolate_backward(np.ascontiguousarray(gs[:, :, 0]), (3, 4), "bilinear"))
    gb = randn(1, 2, 12, 8)[:, :, ::2]
    np.testing.assert_array_equal(_C.bed_of_nails_backward(gb, b, **kw), ref.bed_of_nails_backward(gb, 2, 2))


# ----------------------------------------------------------------------------- PyTorch
TORCH_CASES = [
    # (mode, align_corners, shape, kwargs)
    *[(m, None, (2, 3, h, w), dict(size=o)) for m in ("nearest", "nearest-exact")
      for (h, w), o in [((7, 5), (3, 13)), ((5, 13), (13, 4)), ((1, 4), (4, 1)), ((4, 1), (1, 7)), ((6, 6), 37)]],
    *[(m, None, (2, 3, 7, 5), dict(scale_factor=s)) for m in ("nearest", "nearest-exact")
      for s in (2, 3, 0.5, 1.7, (1.7, 0.5), 0.3)],
    *[(m, None, (2, 3, 13), dict(size=o)) for m in ("nearest", "nearest-exact") for o in (1, 4, 7, 29)],
    *[(m, None, (2, 3, 7), dict(scale_factor=s)) for m in ("nearest", "nearest-exact") for s in (2, 3, 0.5, 1.7)],
    *[(m, None, (1, 2, 6, 5), dict(scale_factor=s, recompute_scale_factor=True))
      for m in ("nearest", "nearest-exact") for s in (1.7, 0.5)],
    *[("bilinear", ac, (2, 3, h, w), dict(size=o)) for ac in (None, False, True)
      for (h, w), o in [((7, 5), (3, 13)), ((1, 4), (4, 1)), ((4, 1), (1, 7)), ((5, 5), (5, 11))]],
    *[("bilinear", ac, (2, 3, 7, 5), dict(scale_factor=s)) for ac in (False, True)
      for s in (2, 3, 0.5, 1.7, (1.7, 0.5), 1.1)],
    *[("bilinear", False, (1, 2, 6, 5), dict(scale_factor=s, recompute_scale_factor=True)) for s in (1.7, 0.5)],
    *[("linear", ac, (2, 3, 7), kw) for ac in (False, True)
      for kw in (dict(size=13), dict(size=3), dict(size=1), dict(scale_factor=1.7), dict(scale_factor=0.5),
                 dict(scale_factor=3))],
    ("linear", False, (2, 3, 1), dict(size=5)),
    *[("bicubic", ac, (2, 3, h, w), dict(size=o)) for ac in (None, False, True)
      for (h, w), o in [((7, 5), (3, 13)), ((1, 4), (4, 1)), ((4, 1), (1, 7)), ((5, 5), (5, 11)), ((9, 8), (4, 3))]],
    *[("bicubic", ac, (2, 3, 7, 5), dict(scale_factor=s)) for ac in (False, True)
      for s in (2, 3, 0.5, 1.7, (1.7, 0.5), 1.1)],
    *[(m, ac, (2, 3, 4, 5, 3), kw) for m, ac in (("nearest", None), ("nearest-exact", None), ("trilinear", False),
                                                  ("trilinear", True), ("trilinear", None))
      for kw in (dict(size=(7, 3, 5)), dict(size=(1, 9, 2)), dict(scale_factor=2), dict(scale_factor=(1.7, 0.5, 3)),
                 dict(scale_factor=(0.5, 1.7, 2), recompute_scale_factor=True))],
]


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,ac,shape,kw", TORCH_CASES)
def test_interpolate_matches_torch(mode, ac, shape, kw, dtype):
    x = randn(*shape, dtype=dtype)
    t = T(x, requires_grad=True)
    y = F.interpolate(t, mode=mode, align_corners=ac, **kw)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = TF.interpolate(tx, mode=mode, align_corners=ac, **kw)
    assert y.shape == tuple(ty.shape)
    assert_close(y, ty.detach().numpy(), dtype)
    g = randn(*y.shape, dtype=dtype)
    y.backward(T(g))
    ty.backward(torch.from_numpy(g))
    if mode == "bicubic" and y.shape == shape and "scale_factor" in kw:
        # torch's backward copies an unchanged size while its forward resamples by the scale: not
        # the adjoint of its forward (pycnn's is; the docstring of pycnn/functional/_upsample.py)
        np.testing.assert_array_equal(tx.grad.numpy(), g)
        scales = (float(kw["scale_factor"]),) * 2
        assert_close(t.grad, ref.interpolate_backward(g, shape[2:], mode, bool(ac), scales), dtype)
        return
    assert_close(t.grad, tx.grad.numpy(), dtype)


@needs_torch
def test_nearest_1d_unchanged_size_by_a_scale_factor_follows_torch_2d():
    """L=3, scale_factor=1.1 keeps L: torch's 1-D forward reads floor(i/1.1) = [0, 0, 1] but its
    backward and its 2-D forward use the copy shortcut; pycnn uses the shortcut throughout."""
    x = randn(2, 3, 3)
    y = F.interpolate(T(x), scale_factor=1.1).numpy()
    t2d = TF.interpolate(torch.from_numpy(x[:, :, None, :]), scale_factor=(1, 1.1)).numpy()[:, :, 0]
    np.testing.assert_array_equal(y, t2d)
    np.testing.assert_array_equal(y, x)
    tx = torch.from_numpy(x).requires_grad_(True)
    g = randn(2, 3, 3)
    TF.interpolate(tx, scale_factor=1.1).backward(torch.from_numpy(g))
    t = T(x, requires_grad=True)
    F.interpolate(t, scale_factor=1.1).backward(T(g))
    np.testing.assert_array_equal(t.grad.numpy(), tx.grad.numpy())
