"""The upsample family: interpolate (nearest, nearest-exact, linear, bilinear), the bed-of-nails
upsample, their native kernels (ref and cpu) against the numpy float64 reference
(tests/reference/upsample.py) on awkward up- and downsampling sizes, finite-difference
gradchecks, the nn modules, bad input, the identities with conv_transpose2d, and PyTorch."""
import itertools
import math

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import nn

from cases import BATCH, CHANNELS, DTYPES, SPATIAL
from helpers import assert_close, gradcheck, randn
from reference import upsample as ref

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# (mode name given to the kernel, align_corners)
KERNEL_MODES = [("nearest", False), ("nearest-exact", False), ("bilinear", False), ("bilinear", True)]
# (in, out) pairs per axis: up, down, identity, 1 -> n, n -> 1, primes
AXIS_PAIRS = [(7, 3), (5, 13), (1, 4), (4, 1), (2, 5), (11, 11), (13, 7), (1, 1), (3, 6)]
SCALES = (2, 3, 0.5, 1.7)


def T(a, requires_grad=False):
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=a.dtype.name, requires_grad=requires_grad)


def _out_size(n, s):
    return math.floor(float(n) * s)


def _kernel_cases():
    """(mode, align_corners, shape, (H_out, W_out), scales) over the sizes of tests/cases.py."""
    cases = []
    for k, ((mode, ac), (hp, wp)) in enumerate(itertools.product(KERNEL_MODES, zip(AXIS_PAIRS, AXIS_PAIRS[3:] + AXIS_PAIRS[:3]))):
        N, C = BATCH[k % len(BATCH)], CHANNELS[(k // 2) % len(CHANNELS)]
        cases.append((mode, ac, (N, C, hp[0], wp[0]), (hp[1], wp[1]), (None, None)))
    for k, ((mode, ac), s, H) in enumerate(itertools.product(KERNEL_MODES, SCALES, (5, 13))):
        W = SPATIAL[(k % (len(SPATIAL) - 1)) + 1]
        sw = SCALES[(k + 1) % len(SCALES)]
        out = (_out_size(H, s), _out_size(W, sw))
        if min(out) < 1:
            continue
        # align_corners ignores the scale factor (torch: scale = (in-1)/(out-1)); pass it anyway
        cases.append((mode, ac, (2, 3, H, W), out, (float(s), float(sw))))
    return cases


KERNEL_CASES = _kernel_cases()


# ============================================================================ native kernels
@pytest.mark.parametrize("impl", ["ref", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,ac,shape,out,scales", KERNEL_CASES)
def test_upsample_native_forward_backward(mode, ac, shape, out, scales, dtype, impl):
    x = randn(*shape, dtype=dtype)
    y = pycnn._C.upsample2d_forward(x, list(out), mode, ac, list(scales), reference=impl == "ref")
    expected = ref.interpolate_forward(x, out, mode, ac, scales)
    assert y.dtype == np.dtype(dtype) and y.shape == expected.shape
    assert_close(y, expected, dtype, what=f"{mode} forward")
    g = randn(*expected.shape, dtype=dtype)
    dx = pycnn._C.upsample2d_backward(g, list(shape[2:]), mode, ac, list(scales), reference=impl == "ref")
    assert dx.dtype == np.dtype(dtype) and dx.shape == shape
    assert_close(dx, ref.interpolate_backward(g, shape[2:], mode, ac, scales), dtype, what=f"{mode} backward")


@pytest.mark.parametrize("mode,ac", KERNEL_MODES)
@pytest.mark.parametrize("shape,out", [((3, 5, 33, 65), (70, 31)),   # many planes
                                       ((1, 1, 97, 41), (200, 83)),  # one plane, rows split
                                       ((2, 1, 64, 64), (32, 32))])  # downsampling
def test_upsample_cpu_threads_match_reference(mode, ac, shape, out):
    """Sizes big enough for every OpenMP thread to get work, forward and backward, float32."""
    threads = pycnn.get_num_threads()
    pycnn.set_num_threads(2)
    x, g = randn(*shape, dtype="float32"), randn(*shape[:2], *out, dtype="float32")
    y = pycnn._C.upsample2d_forward(x, list(out), mode, ac, [None, None])
    assert_close(y, ref.interpolate_forward(x, out, mode, ac), "float32")
    dx = pycnn._C.upsample2d_backward(g, list(shape[2:]), mode, ac, [None, None])
    assert_close(dx, ref.interpolate_backward(g, shape[2:], mode, ac), "float32", rtol=1e-4, atol=1e-4)
    # the threaded backward is deterministic and equals the single-thread one bit for bit
    pycnn.set_num_threads(1)
    try:
        np.testing.assert_array_equal(pycnn._C.upsample2d_backward(g, list(shape[2:]), mode, ac, [None, None]), dx)
    finally:
        pycnn.set_num_threads(threads)


def test_upsample_native_non_contiguous_input():
    """A strided view (here the transpose of a C-contiguous array) is read by its values."""
    base = randn(2, 3, 9, 5)
    x = base.transpose(0, 1, 3, 2)
    assert not x.flags["C_CONTIGUOUS"]
    y = pycnn._C.upsample2d_forward(x, [4, 13], "bilinear", False, [None, None])
    assert_close(y, ref.interpolate_forward(np.ascontiguousarray(x), (4, 13), "bilinear"))
    g = randn(2, 3, 13, 4).transpose(0, 1, 3, 2)
    dx = pycnn._C.upsample2d_backward(g, [9, 5], "nearest", False, [None, None])
    assert_close(dx, ref.interpolate_backward(np.ascontiguousarray(g), (9, 5), "nearest"))


BED_CASES = [((1, 1, 1, 1), 2, 2), ((2, 3, 5, 7), 2, 3), ((3, 5, 7, 1), 3, 1), ((1, 3, 2, 11), 1, 1),
             ((2, 1, 13, 5), 4, 2), ((3, 5, 33, 17), 2, 2)]


@pytest.mark.parametrize("impl", ["ref", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,sH,sW", BED_CASES)
def test_bed_of_nails_native(shape, sH, sW, dtype, impl):
    x = randn(*shape, dtype=dtype)
    y = pycnn._C.bed_of_nails_forward(x, sH, sW, reference=impl == "ref")
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, ref.bed_of_nails_forward(x, sH, sW))  # a copy: exact
    g = randn(*y.shape, dtype=dtype)
    dx = pycnn._C.bed_of_nails_backward(g, sH, sW, reference=impl == "ref")
    np.testing.assert_array_equal(dx, ref.bed_of_nails_backward(g, sH, sW))


def test_native_bad_input():
    x = randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="interpolate: input must be 4-D"):
        pycnn._C.upsample2d_forward(randn(2, 3, 4), [2, 2], "nearest")
    with pytest.raises(ValueError, match="interpolate: input and output sizes should be greater than 0"):
        pycnn._C.upsample2d_forward(x, [0, 2], "nearest")
    with pytest.raises(ValueError, match="interpolate: mode"):
        pycnn._C.upsample2d_forward(x, [2, 2], "bicubic")
    with pytest.raises(ValueError, match="interpolate: align_corners"):
        pycnn._C.upsample2d_forward(x, [2, 2], "nearest", True)
    with pytest.raises(ValueError, match="interpolate: scale factors must be positive"):
        pycnn._C.upsample2d_forward(x, [2, 2], "nearest", False, [None, -1.0])
    with pytest.raises(TypeError, match="interpolate: input must be float32 or float64"):
        pycnn._C.upsample2d_forward(x.astype(np.int32), [2, 2], "nearest")
    with pytest.raises(ValueError, match="upsample_bed_of_nails: scale_factor must be positive"):
        pycnn._C.bed_of_nails_forward(x, 0, 2)
    with pytest.raises(ValueError, match=r"upsample_bed_of_nails: grad_output shape \(1, 2, 3, 4\) is not a multiple"):
        pycnn._C.bed_of_nails_backward(x, 2, 2)


# ============================================================================ interpolate
def _scales_for(x, scale_factor, recompute):
    if scale_factor is None or recompute:
        return None
    return tuple(scale_factor) if isinstance(scale_factor, tuple) else (scale_factor,) * (x.ndim - 2)


F_CASES = [
    # (mode, align_corners, shape, size, scale_factor, recompute_scale_factor)
    ("nearest", None, (2, 3, 7), 3, None, None),
    ("nearest", None, (1, 2, 5), None, 1.7, None),
    ("nearest", None, (2, 3, 5, 7), (13, 3), None, None),
    ("nearest", None, (1, 2, 4, 5), None, (0.5, 3), None),
    ("nearest", None, (1, 2, 7, 5), None, 1.7, True),
    ("nearest-exact", None, (2, 1, 11), 4, None, None),
    ("nearest-exact", None, (2, 3, 5, 1), None, (1.7, 4), None),
    ("nearest-exact", None, (1, 3, 7, 7), (3, 13), None, None),
    ("linear", None, (2, 3, 7), 13, None, None),
    ("linear", True, (2, 3, 7), None, 0.5, None),
    ("linear", False, (1, 2, 1), 4, None, None),
    ("bilinear", None, (2, 3, 5, 7), (13, 3), None, None),
    ("bilinear", True, (1, 2, 4, 1), (1, 4), None, None),
    ("bilinear", False, (2, 2, 5, 6), None, (1.7, 0.5), None),
    ("bilinear", True, (2, 2, 5, 6), None, 3, None),
    ("bilinear", False, (1, 3, 7, 5), None, 1.7, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,ac,shape,size,sf,rsf", F_CASES)
def test_interpolate_values_and_grads(mode, ac, shape, size, sf, rsf, dtype):
    x = randn(*shape, dtype=dtype)
    t = T(x, requires_grad=True)
    y = F.interpolate(t, size=size, scale_factor=sf, mode=mode, align_corners=ac, recompute_scale_factor=rsf)
    kmode = "bilinear" if mode == "linear" else mode
    out = y.shape[2:]
    if size is not None:
        assert out == ((size,) * (x.ndim - 2) if isinstance(size, int) else tuple(size))
    else:
        sfs = sf if isinstance(sf, tuple) else (sf,) * (x.ndim - 2)
        assert out == tuple(_out_size(n, s) for n, s in zip(shape[2:], sfs))
    expected = ref.interpolate_forward(x, out, kmode, bool(ac), _scales_for(x, sf, rsf))
    assert y.dtype == dtype
    assert_close(y, expected, dtype)
    g = randn(*y.shape, dtype=dtype)
    (y * T(g)).sum().backward()
    assert_close(t.grad, ref.interpolate_backward(g, shape[2:], kmode, bool(ac), _scales_for(x, sf, rsf)), dtype)


@pytest.mark.parametrize("mode,ac,shape,kw", [
    ("nearest", None, (1, 2, 3, 4), dict(size=(5, 3))),
    ("nearest", None, (2, 1, 5), dict(scale_factor=1.7)),
    ("nearest-exact", None, (1, 2, 4, 3), dict(scale_factor=(0.5, 2.5))),
    ("linear", None, (2, 2, 5), dict(size=3)),
    ("linear", True, (1, 2, 4), dict(scale_factor=1.7)),
    ("bilinear", False, (1, 2, 3, 4), dict(size=(5, 3))),
    ("bilinear", True, (1, 2, 3, 4), dict(scale_factor=(1.7, 0.5))),
])
def test_interpolate_gradcheck(mode, ac, shape, kw):
    gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=ac, **kw), randn(*shape))


def test_interpolate_inside_a_graph_gradcheck():
    """An interpolate node inside a longer graph accumulates its grad like any op."""
    gradcheck(lambda t: F.interpolate(t * t, scale_factor=2, mode="bilinear").tanh() * 3.0, randn(1, 2, 3, 2))


def test_interpolate_same_size_is_a_copy():
    x = randn(2, 3, 5, 7)
    for mode, ac in (("nearest", None), ("bilinear", False), ("bilinear", True)):
        np.testing.assert_array_equal(F.interpolate(T(x), size=(5, 7), mode=mode, align_corners=ac).numpy(), x)


def test_nearest_integer_scale_repeats_each_value():
    x = randn(2, 3, 4, 5)
    y = F.interpolate(T(x), scale_factor=(2, 3), mode="nearest").numpy()
    np.testing.assert_array_equal(y, x.repeat(2, axis=2).repeat(3, axis=3))


def test_deprecated_aliases():
    x = T(randn(1, 2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        a = F.upsample_bilinear(x, scale_factor=2)
    assert_close(a, F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True).numpy())
    with pytest.warns(UserWarning, match="deprecated"):
        b = F.upsample_nearest(x, size=(5, 5))
    assert_close(b, F.interpolate(x, size=5).numpy())
    with pytest.warns(UserWarning, match="deprecated"):
        c = F.upsample(x, size=(2, 6), mode="bilinear")
    assert_close(c, F.interpolate(x, size=(2, 6), mode="bilinear").numpy())


# ============================================================================ bed of nails
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,scale", [((2, 3, 5, 7), 2), ((3, 4, 1), (3, 2)), ((1, 1, 1, 1), (1, 4))])
def test_bed_of_nails_values_and_grads(shape, scale, dtype):
    x = randn(*shape, dtype=dtype)
    t = T(x, requires_grad=True)
    sH, sW = (scale, scale) if isinstance(scale, int) else scale
    y = F.upsample_bed_of_nails(t, scale)
    np.testing.assert_array_equal(y.detach().numpy(), ref.bed_of_nails_forward(x, sH, sW))
    g = randn(*y.shape, dtype=dtype)
    (y * T(g)).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), ref.bed_of_nails_backward(g, sH, sW))
    layer = nn.BedOfNailsUpsample(scale)
    np.testing.assert_array_equal(layer(T(x)).numpy(), y.detach().numpy())


def test_bed_of_nails_gradcheck():
    gradcheck(lambda t: F.upsample_bed_of_nails(t, (2, 3)), randn(1, 2, 3, 2))
    gradcheck(lambda t: F.upsample_bed_of_nails(t * t, 2).tanh(), randn(2, 3, 2))


# ============================================================================ four ways back up
def _depthwise(kernel, C, dtype):
    return T(np.broadcast_to(kernel, (C, 1) + kernel.shape).astype(dtype))


@pytest.mark.parametrize("s", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bed_of_nails_is_conv_transpose_with_a_one_hot_kernel(s, dtype):
    x = randn(2, 3, 5, 4, dtype=dtype)
    one_hot = np.zeros((s, s))
    one_hot[0, 0] = 1
    tx1, tx2 = T(x, requires_grad=True), T(x, requires_grad=True)
    a = F.upsample_bed_of_nails(tx1, s)
    b = F.conv_transpose2d(tx2, _depthwise(one_hot, 3, dtype), stride=s, groups=3)
    assert_close(a, b.detach().numpy(), dtype)
    g = T(randn(*a.shape, dtype=dtype))
    (a * g).sum().backward()
    (b * g).sum().backward()
    assert_close(tx1.grad, tx2.grad.numpy(), dtype)


@pytest.mark.parametrize("s", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nearest_is_conv_transpose_with_an_all_ones_kernel(s, dtype):
    x = randn(2, 3, 5, 4, dtype=dtype)
    tx1, tx2 = T(x, requires_grad=True), T(x, requires_grad=True)
    a = F.interpolate(tx1, scale_factor=s, mode="nearest")
    b = F.conv_transpose2d(tx2, _depthwise(np.ones((s, s)), 3, dtype), stride=s, groups=3)
    assert_close(a, b.detach().numpy(), dtype)
    g = T(randn(*a.shape, dtype=dtype))
    (a * g).sum().backward()
    (b * g).sum().backward()
    assert_close(tx1.grad, tx2.grad.numpy(), dtype)  # both: the s x s block sum of g


def test_nearest_is_bed_of_nails_with_each_block_filled():
    x = randn(2, 3, 5, 4)
    nails = F.upsample_bed_of_nails(T(x), 3).numpy()
    filled = nails.reshape(2, 3, 5, 3, 4, 3)[:, :, :, :1, :, :1] * np.ones((1, 1, 1, 3, 1, 3))
    assert_close(F.interpolate(T(x), scale_factor=3).numpy(), filled.reshape(2, 3, 15, 12))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_x2_is_conv_transpose_with_the_bilinear_kernel(dtype):
    """align_corners=False: stride-2 transposed conv with k (x) k, k = [1,3,3,1]/4, on the
    replicate-padded input (the padding reproduces torch's clamped border)."""
    x = randn(2, 3, 5, 6, dtype=dtype)
    k = np.array([0.25, 0.75, 0.75, 0.25])
    a = F.interpolate(T(x), scale_factor=2, mode="bilinear")
    xp = F.pad(T(x), (1, 1, 1, 1), mode="replicate")
    b = F.conv_transpose2d(xp, _depthwise(np.outer(k, k), 3, dtype), stride=2, padding=3, groups=3)
    assert_close(a, b.numpy(), dtype)


def _top_left_indices(shape, s):
    N, C, H, W = shape
    rows = (np.arange(H) * s)[:, None] * (W * s) + (np.arange(W) * s)[None, :]
    return np.broadcast_to(rows, shape).astype(np.int64)


def test_bed_of_nails_is_max_unpool_at_the_top_left():
    x = randn(2, 3, 5, 4)
    idx = _top_left_indices(x.shape, 2)
    got = F.max_unpool2d(T(x), pycnn.tensor(idx, dtype="int64"), 2)
    np.testing.assert_array_equal(got.numpy(), F.upsample_bed_of_nails(T(x), 2).numpy())


@needs_torch
def test_bed_of_nails_is_torch_max_unpool_at_the_top_left():
    x = randn(2, 3, 5, 4)
    idx = _top_left_indices(x.shape, 3)
    expected = TF.max_unpool2d(torch.from_numpy(x), torch.from_numpy(idx.copy()), 3).numpy()
    np.testing.assert_array_equal(F.upsample_bed_of_nails(T(x), 3).numpy(), expected)


# ============================================================================ nn modules
def test_modules_forward_and_repr():
    x = T(randn(2, 3, 4, 5))
    up = nn.Upsample(scale_factor=2, mode="bilinear")
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert_close(up(x), F.interpolate(x, scale_factor=2.0, mode="bilinear").numpy())
    assert repr(nn.Upsample(size=(3, 4))) == "Upsample(size=(3, 4), mode='nearest')"
    assert repr(nn.Upsample(scale_factor=(2, 3))) == "Upsample(scale_factor=(2.0, 3.0), mode='nearest')"
    ub = nn.UpsamplingBilinear2d(size=7)
    assert repr(ub) == "UpsamplingBilinear2d(size=7, mode='bilinear')" and ub.align_corners is True
    assert_close(ub(x), F.interpolate(x, size=7, mode="bilinear", align_corners=True).numpy())
    un = nn.UpsamplingNearest2d(scale_factor=3)
    assert repr(un) == "UpsamplingNearest2d(scale_factor=3.0, mode='nearest')"
    assert_close(un(x), F.interpolate(x, scale_factor=3).numpy())
    assert repr(nn.BedOfNailsUpsample((2, 3))) == "BedOfNailsUpsample(scale_factor=(2, 3))"
    assert list(up.parameters()) == [] and up.state_dict() == {}


@needs_torch
def test_module_reprs_match_torch():
    for args, kw in [((), dict(scale_factor=2, mode="bilinear")), ((), dict(size=(3, 4))),
                     ((), dict(scale_factor=(2, 3), mode="nearest-exact")), ((5,), dict(mode="linear"))]:
        assert repr(nn.Upsample(*args, **kw)) == repr(torch.nn.Upsample(*args, **kw))
    assert repr(nn.UpsamplingBilinear2d(scale_factor=2)) == repr(torch.nn.UpsamplingBilinear2d(scale_factor=2))
    assert repr(nn.UpsamplingNearest2d(size=3)) == repr(torch.nn.UpsamplingNearest2d(size=3))


# ============================================================================ bad input
def test_bad_input():
    x = T(randn(1, 2, 3, 4))
    x3 = T(randn(1, 2, 5))
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
        (NotImplementedError, "3-D .* and 4-D", lambda: F.interpolate(T(randn(1, 1, 2, 2, 2)), size=3)),
        (NotImplementedError, "'bicubic' is not implemented", lambda: F.interpolate(x, size=4, mode="bicubic")),
        (ValueError, "mode must be one of", lambda: F.interpolate(x, size=4, mode="cubic")),
        (ValueError, r"sizes should be greater than 0.*\(3, 4\).*\(0, 2\)", lambda: F.interpolate(x, size=(0, 2))),
        (ValueError, r"sizes should be greater than 0.*\(3, 4\).*\(-1, -1\)", lambda: F.interpolate(x, size=-1)),
        (ValueError, r"sizes should be greater than 0.*\(0, 1\)", lambda: F.interpolate(x, scale_factor=0.3)),
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
         lambda: F.interpolate(pycnn.tensor(np.ones((1, 2, 3, 4), np.int64)), size=4)),
        (TypeError, "interpolate: input must be a Tensor", lambda: F.interpolate(randn(1, 2, 3, 4), size=4)),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got 1\.5", lambda: F.upsample_bed_of_nails(x, 1.5)),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got 2\.0", lambda: F.upsample_bed_of_nails(x, 2.0)),
        (TypeError, r"upsample_bed_of_nails: scale_factor .* got \(2, 1\.5\)",
         lambda: F.upsample_bed_of_nails(x, (2, 1.5))),
        (TypeError, "upsample_bed_of_nails: scale_factor", lambda: F.upsample_bed_of_nails(x, (2, 2, 2))),
        (TypeError, "upsample_bed_of_nails: scale_factor", lambda: F.upsample_bed_of_nails(x, True)),
        (ValueError, r"upsample_bed_of_nails: scale_factor must be positive, got 0",
         lambda: F.upsample_bed_of_nails(x, 0)),
        (ValueError, r"upsample_bed_of_nails: input must be .* got shape \(3, 4\)",
         lambda: F.upsample_bed_of_nails(T(randn(3, 4)), 2)),
        (TypeError, r"upsample_bed_of_nails: expected a floating point tensor, got dtype int64",
         lambda: F.upsample_bed_of_nails(pycnn.tensor(np.ones((1, 2, 3, 4), np.int32)), 2)),
        (TypeError, r"BedOfNailsUpsample: scale_factor .* got 1\.5", lambda: nn.BedOfNailsUpsample(1.5)),
    ]
    for exc, pattern, fn in cases:
        with pytest.raises(exc, match=pattern):
            fn()


# ============================================================================ PyTorch
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
    (y * T(g)).sum().backward()
    ty.backward(torch.from_numpy(g))
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
    (F.interpolate(t, scale_factor=1.1) * T(g)).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), tx.grad.numpy())
