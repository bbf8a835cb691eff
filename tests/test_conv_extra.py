"""The rest of the conv family (issue 3): reflect/replicate/circular padding, convolve2d,
conv2d_matrix, CausalConv1d, DepthwiseSeparableConv2d, and property tests of the conv ops
(shift-equivariance, linearity, bias, causality, output sizes, parameter counts).

The op tests run on every backend (the ``backend`` fixture: the CPU kernels, the plain-loop spec,
and the CUDA device when present) through pycnn.functional / pycnn.nn: F.pad forward and backward
on the pad family's case table (cases/pad.py), convolve2d and the two modules forward and backward.
conv2d_matrix is a host-side numpy helper and stays on the CPU, as do gradchecks and the torch
comparisons.  References: tests/reference/pad.py, conv_extra.py and conv.py."""
import itertools
import math

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import _C, nn
from pycnn.utils import conv_output_size, conv_transpose_output_size

from cases import BATCH, CHANNELS, DTYPES, SPATIAL, WINDOWS
from cases.pad import MODES, PAD_CASES, THREAD_CASES, case_id, kernel_view, limit, readers
from helpers import assert_close, gradcheck, num_threads, randn
from reference import conv as conv_ref
from reference import conv_extra as ref
from reference import pad as pad_ref


def T(a, dtype=None, requires_grad=False):
    """A CPU tensor (for the host-side helpers, gradchecks and torch comparisons)."""
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=dtype or a.dtype.name, requires_grad=requires_grad)


def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


# ============================================================================ padding
def test_pad_case_table_has_the_awkward_cases():
    """For every mode: each side unpadded while another is padded, and at the mode's limit; 1-D,
    2-D and 3-D pads; pads of a size-1 dim; few, many and no planes; input rows and depths read by
    3 or more outputs (the backward gather); crops on each side, with a pad on the other side; the
    (C, L), (C, H, W) and (C, D, H, W) forms."""
    for mode in MODES:
        cases = [c for c in PAD_CASES if c["mode"] == mode]
        views = [kernel_view(c) for c in cases]
        for side in range(6):  # (front, back, top, bottom, left, right)
            n_of = lambda v: v[1 + side // 2]  # noqa: E731
            assert any(v[4][side] == 0 and any(v[4]) for v in views), (mode, side)
            assert any(n_of(v) >= 2 and v[4][side] == limit(mode, n_of(v)) for v in views), (mode, side)
            assert any(v[4][side] < 0 and v[4][side ^ 1] > 0 for v in views), (mode, side)  # a crop and a pad
        assert {len(c["pad"]) for c in cases} == {2, 4, 6}
        for dim in (1, 2):  # a size-1 depth / height padded
            assert any(v[dim] == 1 and v[4][2 * dim - 2] + v[4][2 * dim - 1] > 0 for v in views) == (mode != "reflect")
        planes = {v[0] for v in views}
        assert 0 in planes and 0 < min(planes - {0}) < 4 and max(planes) >= 32
        for dim in (1, 2, 3):
            most = max(readers(v[dim], *v[4][2 * dim - 2:2 * dim], mode) for v in views if v[dim])
            assert most >= (3 if mode != "replicate" else 10), (mode, dim)
        assert any(math.prod(v[1:4][d] + sum(v[4][2 * d:2 * d + 2]) for d in range(3)) == 1
                   for v in views if min(v[4]) < 0)  # a crop down to one output element
        assert {len(c["shape"]) for c in cases} == {2, 3, 4, 5} and {1, 2, 5, 7, 11, 13} <= {v[3] for v in views}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", PAD_CASES, ids=case_id)
def test_pad(backend, c, dtype):
    """F.pad(x, pad, mode) and its gradient against np.pad and its adjoint."""
    mode, pad = c["mode"], c["pad"]
    x = randn(*c["shape"], dtype=dtype)
    xt = backend.tensor(x, requires_grad=True)
    y = F.pad(xt, pad, mode)
    expected = pad_ref.pad_forward(x, pad, mode)
    assert y.dtype == np.dtype(dtype) and y.shape == expected.shape
    np.testing.assert_array_equal(backend.numpy(y), expected.astype(dtype), err_msg="forward")  # a copy: exact
    dy = randn(*expected.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    assert xt.grad.dtype == np.dtype(dtype) and xt.grad.shape == x.shape
    assert_close(xt.grad, pad_ref.pad_backward(dy, x.shape, pad, mode), dtype, what="backward")


@pytest.mark.parametrize("c", THREAD_CASES, ids=case_id)
def test_pad_same_result_on_any_thread_count(backend, c):
    """The backward gather sums each input element's readers in one fixed order: the results are
    bitwise the same whatever the split of the work."""
    x = randn(*c["shape"], dtype="float32")
    dy = randn(*pad_ref.pad_forward(x, c["pad"], c["mode"]).shape, dtype="float32")
    results = []
    for nthreads in (1, 2, 3):
        with num_threads(nthreads):
            xt = backend.tensor(x, requires_grad=True)
            y = F.pad(xt, c["pad"], c["mode"])
            y.backward(backend.tensor(dy))
            results.append((backend.numpy(y), backend.numpy(xt.grad)))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pad", [((2, 2, 4), (3, 2)), ((1, 2, 3, 4), (3, 1, 2, 1)),
                                       ((1, 2, 3, 4, 3), (2, 1, -1, 2, 1, 2)), ((2, 2, 6), (-2, 3))])
def test_pad_gradcheck(mode, shape, pad):
    pad = tuple(min(p, shape[-1 - i // 2] - 1) if mode == "reflect" else p for i, p in enumerate(pad))
    gradcheck(lambda x: F.pad(x, pad, mode=mode), randn(*shape))


@pytest.mark.parametrize("mode", MODES)
def test_pad_inside_a_graph_gradcheck(mode):
    """A pad node inside a longer graph accumulates its grad like any op."""
    x = randn(1, 2, 3, 4)
    gradcheck(lambda t: (F.pad(t * t, (1, 2, 2, 1), mode=mode) * 3.0).tanh(), x)


def re_tuple(t):
    """The regex of a tuple as Python prints it."""
    return "\\" + repr(tuple(t))[:-1] + "\\)"


def test_pad_bad_input():
    """The user's errors through F.pad: each names the op, the mode and the values."""
    x = T(randn(2, 3, 4))
    _raises(ValueError, r"pad: reflect padding \(4, 0\) must be smaller than the input size 4 of dim -1 \(W\)",
            F.pad, x, (4, 0), mode="reflect")
    _raises(ValueError, r"pad: reflect padding \(3, 0\) must be smaller than the input size 3 of dim -2 \(H\)",
            F.pad, x, (1, 1, 3, 0), mode="reflect")
    _raises(ValueError, r"pad: reflect padding \(0, 2\) must be smaller than the input size 2 of dim -3 \(D\)",
            F.pad, T(randn(1, 2, 3, 4)), (1, 1, 1, 1, 0, 2), mode="reflect")
    _raises(ValueError, r"pad: circular padding \(0, 5\) must be at most the input size 4 of dim -1 \(W\)",
            F.pad, x, (0, 5), mode="circular")
    _raises(ValueError, r"pad: circular padding \(1, 4\) must be at most the input size 3 of dim -2 \(H\)",
            F.pad, x, (1, 1, 1, 4), mode="circular")
    _raises(ValueError, r"pad: circular padding \(-2, 3\) must be at most the input size 2 left by its crop of "
            r"dim -1 \(W\)", F.pad, x, (-2, 3), mode="circular")
    _raises(ValueError, r"pad: circular padding \(-3, -1\) crops all of the input size 4 of dim -1 \(W\)",
            F.pad, x, (-3, -1), mode="circular")
    for mode in ("reflect", "replicate"):
        _raises(ValueError, rf"pad: {mode} padding \(-1, -3\) leaves no output of the input size 4 of dim -1 \(W\) "
                r"\(the padded size is 0\)", F.pad, x, (-1, -3), mode=mode)
    _raises(ValueError, r"pad: padding \(-3, -2\) crops more than the size 4 of dim -1 \(pad \(-3, -2\), input "
            r"shape \(2, 3, 4\)\)", F.pad, x, (-3, -2))
    _raises(ValueError, r"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got 'mirror'",
            F.pad, x, (1, 1), mode="mirror")
    for shape, pad in (((5,), (1, 1)), ((1, 2, 3, 4), (1, 1)), ((3, 4), (1, 1, 1, 1)), ((2, 3, 4), (1,) * 6),
                       ((1, 2, 3, 4, 5, 6), (1,) * 6)):
        _raises(ValueError, rf"pad: reflect padding takes pad of length 2 for a 2-D/3-D input, length 4 for a 3-D/4-D "
                rf"input or length 6 for a 4-D/5-D input, got pad {re_tuple(pad)} for input shape {re_tuple(shape)}",
                F.pad, T(randn(*shape)), pad, mode="reflect")
    _raises(ValueError, r"pad: pad \(1,\) must have an even length of at most 2\*ndim for shape \(2, 3, 4\)",
            F.pad, x, (1,), mode="reflect")
    _raises(ValueError, r"pad: replicate padding needs non-empty padded dims, got size 0 in dim -1 \(W\)",
            F.pad, T(np.zeros((2, 3, 0))), (1, 1), mode="replicate")
    _raises(ValueError, r"pad: circular padding needs non-empty padded dims, got size 0 in dim -2 \(H\)",
            F.pad, T(np.zeros((2, 0, 4))), (0, 0, 0, 0), mode="circular")
    _raises(ValueError, r"pad: reflect padding needs non-empty padded dims, got size 0 in dim -3 \(D\)",
            F.pad, T(np.zeros((1, 2, 0, 4, 4))), (1,) * 6, mode="reflect")
    _raises(TypeError, r"pad: expected a floating point tensor, got dtype int64 with shape \(2, 3, 4\)",
            F.pad, pycnn.tensor(np.ones((2, 3, 4), np.int64)), (1, 1), mode="reflect")
    _raises(TypeError, r"pad: input must be a Tensor, got ndarray", F.pad, randn(2, 3, 4), (1, 1), mode="reflect")


def test_constant_pad_crops_with_negative_pads():
    """F.pad's constant mode with negative pads crops (torch), forward and backward."""
    x = randn(2, 3, 5, 6)
    for pad in ((-1, 2), (2, -3, -1, -1), (-2, -2, 1, 0, 0, 1), (-6, 1), (0, 0, -5, 0)):
        xt = T(x, requires_grad=True)
        y = F.pad(xt, pad, value=1.5)
        width = [(0, 0)] * 4
        for i in range(len(pad) // 2):
            width[3 - i] = (pad[2 * i], pad[2 * i + 1])
        full = np.pad(x, [(max(a, 0), max(b, 0)) for a, b in width], constant_values=1.5)
        expected = full[tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(width, full.shape))]
        np.testing.assert_array_equal(y.detach().numpy(), expected)
        gradcheck(lambda t: F.pad(t, pad, value=1.5), randn(2, 3, 5, 6))


def test_pad_params():
    """pad_params takes (N, C, D, H, W) and (front, back, top, bottom, left, right); every rule of
    the family lives there."""
    p = _C.pad_params("pad", (2, 3, 1, 4, 5), (0, 0, 1, 2, 3, 0), "circular")
    assert (p.N, p.C) == (2, 3) and p.mode == "circular" and p.padding == (0, 0, 1, 2, 3, 0)
    assert p.in_shape == (2, 3, 1, 4, 5) and p.out_shape == (2, 3, 1, 7, 8)
    assert _C.pad_params("pad", (0, 3, 2, 4, 5), (1, 1, 1, 1, 1, 1), "reflect").out_shape == (0, 3, 4, 6, 7)
    assert _C.pad_params("pad", (1, 1, 3, 4, 5), (-1, 0, 2, -3, -4, 1), "replicate").out_shape == (1, 1, 2, 3, 2)
    x = (1, 2, 1, 3, 4)
    _raises(ValueError, r"pad: reflect padding \(3, 1\) must be smaller than the input size 3 of dim -2 \(H\)",
            _C.pad_params, "pad", x, (0, 0, 3, 1, 1, 1), "reflect")
    _raises(ValueError, r"pad: reflect padding \(4, 0\) must be smaller than the input size 4 of dim -1 \(W\)",
            _C.pad_params, "pad", x, (0, 0, 0, 0, 4, 0), "reflect")
    _raises(ValueError, r"pad: reflect padding \(1, 0\) must be smaller than the input size 1 of dim -3 \(D\)",
            _C.pad_params, "pad", x, (1, 0, 0, 0, 0, 0), "reflect")
    _raises(ValueError, r"pad: circular padding \(4, 1\) must be at most the input size 3 of dim -2 \(H\)",
            _C.pad_params, "pad", x, (0, 0, 4, 1, 1, 1), "circular")
    _raises(ValueError, r"pad: replicate padding \(0, -4\) leaves no output of the input size 4 of dim -1 \(W\)",
            _C.pad_params, "pad", x, (0, 0, 0, 0, 0, -4), "replicate")
    _raises(ValueError, r"pad: mode must be 'reflect', 'replicate' or 'circular', got 'wrap'",
            _C.pad_params, "pad", x, (1, 1, 1, 1, 1, 1), "wrap")
    _raises(ValueError, r"pad: input shape must have 5 values, got \(1, 2, 3, 4\)",
            _C.pad_params, "pad", (1, 2, 3, 4), (1, 1, 1, 1, 1, 1), "reflect")
    _raises(ValueError, r"pad: padding must have 6 values, got \(1, 1\)", _C.pad_params, "pad", x, (1, 1), "reflect")
    _raises(ValueError, r"pad: input has a negative size \(1, 2, 1, 3, -4\)",
            _C.pad_params, "pad", (1, 2, 1, 3, -4), (1, 1, 1, 1, 1, 1), "reflect")
    _raises(ValueError, r"pad: the padding overflows int64",
            _C.pad_params, "pad", (1, 1, 2, 3, 4), (0, 0, 0, 0, 2**62, 2**62), "replicate")


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
def test_pad_bindings_reject_bad_arrays(reference):
    """The bindings adapt arrays: a dtype the kernels lack, and arrays that do not fit their params."""
    p = _C.pad_params("pad", (1, 2, 1, 3, 4), (0, 0, 1, 1, 2, 0), "reflect")  # out (1, 2, 1, 5, 6)
    kw = dict(reference=reference)
    _raises(TypeError, r"pad: input must be float32 or float64, got dtype int32 with shape \(1, 2, 1, 3, 4\)",
            _C.pad_forward, np.ones((1, 2, 1, 3, 4), np.int32), p, **kw)
    _raises(TypeError, r"pad: input must be float32 or float64, got dtype float16", _C.pad_forward,
            np.ones((1, 2, 1, 3, 4), np.float16), p, **kw)
    _raises(ValueError, r"pad: input \(1, 2, 1, 4, 3\) does not match the shape \(1, 2, 1, 3, 4\) its params "
            r"describe", _C.pad_forward, randn(1, 2, 1, 4, 3), p, **kw)
    _raises(ValueError, r"pad: input \(1, 2, 3, 4\) does not match the shape \(1, 2, 1, 3, 4\)", _C.pad_forward,
            randn(1, 2, 3, 4), p, **kw)
    _raises(ValueError, r"pad: grad_output \(1, 2, 1, 3, 4\) does not match the shape \(1, 2, 1, 5, 6\) its params "
            r"describe", _C.pad_backward, randn(1, 2, 1, 3, 4), p, **kw)
    _raises(TypeError, r"pad: grad_output must be float32 or float64, got dtype int64 with shape \(1, 2, 1, 5, 6\)",
            _C.pad_backward, np.ones((1, 2, 1, 5, 6), np.int64), p, **kw)
    _raises(TypeError, r"incompatible function arguments", _C.pad_forward, randn(1, 2, 1, 3, 4), [1, 1, 2, 0], **kw)
    # and arrays that fit run (the float32 grad of the reflect pad above)
    g = randn(1, 2, 1, 5, 6, dtype="float32")
    dx = _C.pad_backward(g, p, **kw)
    assert dx.dtype == np.float32
    assert_close(dx, pad_ref.pad_backward(g, (1, 2, 1, 3, 4), (2, 0, 1, 1), "reflect"), "float32")


def test_pad_matches_torch():
    torch = pytest.importorskip("torch")
    for c in PAD_CASES:
        if 0 in c["shape"]:
            continue
        x = randn(*c["shape"])
        xt = torch.tensor(x, requires_grad=True)
        expected = torch.nn.functional.pad(xt, c["pad"], mode=c["mode"])
        ours_x = T(x, requires_grad=True)
        ours = F.pad(ours_x, c["pad"], mode=c["mode"])
        np.testing.assert_array_equal(ours.detach().numpy(), expected.detach().numpy(), err_msg=case_id(c))
        g = randn(*expected.shape)
        expected.backward(torch.tensor(g))
        ours.backward(T(g))
        assert_close(ours_x.grad, xt.grad.numpy(), what=case_id(c))


# ============================================================================ convolve2d
def _conv_cases():
    """(N, C_in, C_out, groups, H, W, kernel, stride, padding, dilation) from the shared windows."""
    cases = []
    for k, (K, s, p, d) in enumerate(WINDOWS):
        groups = (1, 1, 3)[k % 3]
        C_in, C_out = (3, 6) if groups == 3 else (CHANNELS[k % 3], CHANNELS[(k + 1) % 3])
        H, W = SPATIAL[2 + k % 4], SPATIAL[3 + (k + 1) % 3]
        H, W = max(H, d * (K - 1) + 1 - 2 * p), max(W, d * (K - 1) + 1 - 2 * p)
        cases.append((BATCH[k % 3], C_in, C_out, groups, H, W, K, s, p, d))
    return cases


CONV_CASES = _conv_cases()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,C_in,C_out,groups,H,W,K,s,p,d", CONV_CASES)
def test_convolve2d_matches_reference(backend, N, C_in, C_out, groups, H, W, K, s, p, d, dtype):
    x, k, b = randn(N, C_in, H, W, dtype=dtype), randn(C_out, C_in // groups, K, K + 1, dtype=dtype), \
        randn(C_out, dtype=dtype)
    xt, kt, bt = (backend.tensor(a, requires_grad=True) for a in (x, k, b))
    y = F.convolve2d(xt, kt, bt, stride=s, padding=p, dilation=d, groups=groups)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, ref.convolve2d_nchw(x, k, b, (s, s), (p, p), (d, d), groups), dtype, what="forward")
    # and its relation to conv2d (cross-correlation): the kernel flipped in both spatial dims
    flipped = np.ascontiguousarray(k[..., ::-1, ::-1])
    yc = F.conv2d(backend.tensor(x), backend.tensor(flipped), backend.tensor(b), s, p, d, groups)
    assert_close(y, backend.numpy(yc), dtype, what="conv2d of the flipped kernel")
    # backward: conv2d's with the flipped kernel, the kernel's gradient flipped back
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    dx, dwf, db = conv_ref.conv2d_backward(dy, x, flipped, (s, s), (p, p), (d, d), groups)
    assert_close(xt.grad, dx, dtype, what="input grad")
    assert_close(kt.grad, dwf[..., ::-1, ::-1], dtype, what="kernel grad")
    assert_close(bt.grad, db, dtype, what="bias grad")


def test_convolve2d_full_mode_is_np_convolve(backend):
    """padding = k - 1 gives the 'full' convolution; on a single row it is np.convolve."""
    B = backend.tensor
    row, ker = randn(9), randn(4)
    y = F.convolve2d(B(row.reshape(1, 1, 1, 9)), B(ker.reshape(1, 1, 1, 4)), padding=(0, 3))
    assert_close(backend.numpy(y).ravel(), np.convolve(row, ker, mode="full"))
    y = F.convolve2d(B(row.reshape(1, 1, 1, 9)), B(ker.reshape(1, 1, 1, 4)))
    assert_close(backend.numpy(y).ravel(), np.convolve(row, ker, mode="valid"))


def test_convolve2d_commutes_and_symmetric_kernels_agree_with_conv2d(backend):
    B = backend.tensor
    a, b = randn(5, 6), randn(3, 4)
    ab = F.convolve2d(B(a.reshape(1, 1, 5, 6)), B(b.reshape(1, 1, 3, 4)), padding=(2, 3))
    ba = F.convolve2d(B(b.reshape(1, 1, 3, 4)), B(a.reshape(1, 1, 5, 6)), padding=(4, 5))
    assert_close(ab, backend.numpy(ba))
    k = randn(2, 3, 3, 3)
    k = k + k[..., ::-1, ::-1]  # invariant under a 180-degree rotation
    x = randn(2, 3, 6, 5)
    assert_close(F.convolve2d(B(x), B(k), padding=1), backend.numpy(F.conv2d(B(x), B(k), padding=1)))


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1)])
def test_convolve2d_gradcheck(stride, padding, dilation, groups):
    x, k, b = randn(1, 2, 4, 5), randn(4, 2 // groups, 2, 3), randn(4)
    gradcheck(lambda x, k, b: F.convolve2d(x, k, b, stride, padding, dilation, groups), x, k, b)


def test_convolve2d_bad_input():
    x = T(randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="convolve2d: kernel must be 4-D"):
        F.convolve2d(x, T(randn(3, 3)))
    with pytest.raises(ValueError, match="convolve2d: input"):
        F.convolve2d(T(randn(5, 5)), T(randn(1, 1, 3, 3)))
    with pytest.raises(TypeError, match="convolve2d"):
        F.convolve2d(x, randn(1, 2, 3, 3))
    with pytest.raises(TypeError, match="convolve2d"):
        F.convolve2d(pycnn.tensor(np.ones((1, 2, 5, 5), np.int64)), T(randn(1, 2, 3, 3)))


# ============================================================================ conv2d_matrix
MATRIX_CASES = [  # (C_in, C_out, groups, H, W, kH, kW, stride, padding, dilation)
    (1, 1, 1, 5, 5, 3, 3, 1, 0, 1),
    (2, 3, 1, 5, 7, 3, 2, 1, 1, 1),
    (3, 2, 1, 7, 5, 3, 3, 2, 1, 1),
    (4, 6, 2, 6, 5, 2, 3, 1, 0, 2),
    (3, 3, 3, 7, 7, 3, 3, 3, 1, 1),   # depthwise, stride > kernel
    (2, 2, 1, 5, 6, 1, 1, 2, 0, 1),   # 1x1
    (1, 2, 1, 4, 4, 3, 3, 1, 4, 1),   # padding > kernel: rows with no taps at all
]


def _pair_pads(p):
    return ((p, p), (p, p))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("C_in,C_out,groups,H,W,kH,kW,s,p,d", MATRIX_CASES)
def test_conv2d_matrix_against_reference_and_conv2d(C_in, C_out, groups, H, W, kH, kW, s, p, d, sparse):
    w = randn(C_out, C_in // groups, kH, kW)
    M = F.conv2d_matrix((C_in, H, W), T(w), s, p, d, sparse=sparse, groups=groups)
    expected = ref.conv2d_matrix((C_in, H, W), w, (s, s), _pair_pads(p), (d, d), groups)
    dense = M.toarray() if sparse else M
    assert isinstance(M, F.CSRMatrix) == sparse
    assert dense.shape == expected.shape
    np.testing.assert_array_equal(dense, expected)
    x = randn(2, C_in, H, W)
    y = F.conv2d(T(x), T(w), None, s, p, d, groups).detach().numpy()
    for n in range(2):  # conv2d(x).ravel() == M @ x.ravel(), per sample
        assert_close(M @ x[n].ravel(), y[n].ravel())


@pytest.mark.parametrize("C_in,C_out,groups,H,W,kH,kW,s,p,d", MATRIX_CASES)
def test_conv2d_matrix_transpose_is_conv_transpose2d(C_in, C_out, groups, H, W, kH, kW, s, p, d):
    """M^T is conv_transpose2d with the same weight; <Mx, y> == <x, M^T y>."""
    w = randn(C_out, C_in // groups, kH, kW)
    M = F.conv2d_matrix((C_in, H, W), w, s, p, d, sparse=False, groups=groups)
    S = F.conv2d_matrix((C_in, H, W), w, s, p, d, sparse=True, groups=groups)
    Ho, Wo = conv_output_size(H, kH, s, p, d), conv_output_size(W, kW, s, p, d)
    y = randn(2, C_out, Ho, Wo)
    # output_padding recovers the input size that the stride rounded away
    op = (H - conv_transpose_output_size(Ho, kH, s, p, 0, d), W - conv_transpose_output_size(Wo, kW, s, p, 0, d))
    # conv_transpose2d's weight is (C_in_of_transpose = C_out, C_in/groups, kH, kW): the same array
    xt = F.conv_transpose2d(T(y), T(w), None, s, p, op, groups, d).detach().numpy()
    assert xt.shape == (2, C_in, H, W)
    x = randn(C_in * H * W)
    for n in range(2):
        yn = y[n].ravel()
        assert_close(M.T @ yn, xt[n].ravel())
        assert_close(S.T @ yn, xt[n].ravel())
        assert_close(S.rmatvec(yn), xt[n].ravel())
        np.testing.assert_allclose(np.dot(M @ x, yn), np.dot(x, M.T @ yn), rtol=1e-12)
        np.testing.assert_allclose(np.dot(S @ x, yn), np.dot(x, S.rmatvec(yn)), rtol=1e-12)


@pytest.mark.parametrize("C_in,C_out,groups,H,W,kH,kW,s,p,d", MATRIX_CASES)
def test_conv2d_matrix_sparsity_formula(C_in, C_out, groups, H, W, kH, kW, s, p, d):
    S = F.conv2d_matrix((1, C_in, H, W), randn(C_out, C_in // groups, kH, kW), s, p, d, sparse=True,
                        groups=groups)
    nnz = C_out * (C_in // groups) * ref.taps_inside(H, kH, s, p, d) * ref.taps_inside(W, kW, s, p, d)
    assert S.nnz == nnz
    Ho, Wo = conv_output_size(H, kH, s, p, d), conv_output_size(W, kW, s, p, d)
    assert S.shape == (C_out * Ho * Wo, C_in * H * W)
    assert S.density == pytest.approx(nnz / (C_out * Ho * Wo * C_in * H * W))
    assert np.all(np.diff(S.indptr) >= 0) and S.indptr[-1] == S.nnz


def test_conv2d_matrix_is_mostly_zeros_and_auto_sparse():
    """A 3x3 conv on a 32x32 image touches 9 of 1024 pixels per output: density < 1%."""
    w = randn(4, 3, 3, 3)
    M = F.conv2d_matrix((3, 32, 32), w, padding=1)
    assert isinstance(M, F.CSRMatrix)  # 4096 x 3072 entries > DENSE_LIMIT
    assert M.density < 0.01
    assert M.nnz == 4 * 3 * ref.taps_inside(32, 3, 1, 1, 1) ** 2
    small = F.conv2d_matrix((3, 6, 6), w, padding=1)
    assert isinstance(small, np.ndarray)
    assert np.count_nonzero(small) == F.conv2d_matrix((3, 6, 6), w, padding=1, sparse=True).nnz
    x = randn(3, 32, 32)
    assert_close(M @ x.ravel(), F.conv2d(T(x[None]), T(w), padding=1).detach().numpy().ravel())
    X = randn(3 * 32 * 32, 2)  # a block of vectors
    assert_close(M @ X, np.stack([M @ X[:, 0], M @ X[:, 1]], axis=1))
    assert_close(M.T.toarray()[:50], M.toarray().T[:50])


@pytest.mark.parametrize("s,p,d", [(1, 0, 1), (2, 0, 1), (1, 0, 2)])
def test_conv2d_matrix_weight_sharing(s, p, d):
    """Every interior row holds the same weights (the kernel, raveled), at columns shifted by
    the stride: the row of output (o, i, j) is the row of (o, 0, 0) moved by i*s*W + j*s."""
    C_in, C_out, H, W, K = 2, 3, 9, 8, 3
    w = randn(C_out, C_in, K, K)
    M = F.conv2d_matrix((C_in, H, W), w, s, p, d, sparse=True)
    Ho, Wo = conv_output_size(H, K, s, p, d), conv_output_size(W, K, s, p, d)
    for o in range(C_out):
        base_cols, base_vals = M.row(o * Ho * Wo)
        np.testing.assert_array_equal(base_vals, w[o].ravel())
        for i, j in itertools.product(range(Ho), range(Wo)):
            cols, vals = M.row((o * Ho + i) * Wo + j)
            np.testing.assert_array_equal(vals, base_vals)
            np.testing.assert_array_equal(cols, base_cols + i * s * W + j * s)


def test_conv2d_matrix_same_padding_even_kernel():
    """'same' with an even kernel pads d(k-1) in all, the extra one on the right/bottom."""
    w = randn(2, 1, 2, 4)
    M = F.conv2d_matrix((1, 5, 6), w, padding="same", sparse=False)
    expected = ref.conv2d_matrix((1, 5, 6), w, padding=((0, 1), (1, 2)))
    np.testing.assert_array_equal(M, expected)
    assert M.shape == (2 * 5 * 6, 5 * 6)


def test_conv2d_matrix_bad_input():
    w = randn(4, 2, 3, 3)
    cases = [
        lambda: F.conv2d_matrix((3, 5, 5), w),                       # C_in mismatch
        lambda: F.conv2d_matrix((4, 5, 5), w, groups=3),             # groups not dividing
        lambda: F.conv2d_matrix((2, 2, 2), w),                       # output size <= 0
        lambda: F.conv2d_matrix((2, 5, 5), w, stride=2, padding="same"),
        lambda: F.conv2d_matrix((2, 5, 5), randn(3, 3)),             # weight not 4-D
        lambda: F.conv2d_matrix((5, 5), w),                          # bad input_shape
        lambda: F.conv2d_matrix((2, 5, 5), w, padding="full"),
    ]
    for fn in cases:
        with pytest.raises(ValueError, match="conv2d_matrix"):
            fn()
    S = F.conv2d_matrix((2, 5, 5), w, sparse=True)
    with pytest.raises(ValueError, match="CSRMatrix.matvec"):
        S @ randn(7)
    with pytest.raises(ValueError, match="CSRMatrix.rmatvec"):
        S.rmatvec(randn(7))


# ============================================================================ properties
@pytest.mark.parametrize("seed", range(4))
def test_conv2d_shift_equivariance(backend, seed):
    """conv(shift(x)) == shift(conv(x)) away from the borders, for random kernels and shifts
    (shifts by multiples of the stride move the output by shift/stride)."""
    rng = np.random.default_rng(seed)
    s, d, K = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    w = rng.standard_normal((3, 2, K, K))
    x = rng.standard_normal((1, 2, 12, 13))
    a, b = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    shifted = np.roll(x, (a * s, b * s), axis=(2, 3))  # the wrapped rows/cols are the "border"
    B = backend.tensor
    y = backend.numpy(F.conv2d(B(x), B(w), None, s, 0, d))
    ys = backend.numpy(F.conv2d(B(shifted), B(w), None, s, 0, d))
    Ho, Wo = y.shape[2:]
    assert_close(ys[:, :, a:, b:], y[:, :, :Ho - a, :Wo - b])


@pytest.mark.parametrize("seed", range(3))
def test_conv1d_and_causal_shift_equivariance(backend, seed):
    B = backend.tensor
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 3, 3))
    x = rng.standard_normal((2, 3, 17))
    t = int(rng.integers(1, 5))
    y = backend.numpy(F.conv1d(B(x), B(w), dilation=2))
    ys = backend.numpy(F.conv1d(B(np.roll(x, t, axis=2)), B(w), dilation=2))
    assert_close(ys[..., t:], y[..., :y.shape[-1] - t])
    m = nn.CausalConv1d(3, 2, 3, dilation=2, device=backend.device, dtype="float64")
    y = backend.numpy(m(B(x)))
    ys = backend.numpy(m(B(np.roll(x, t, axis=2))))
    assert_close(ys[..., t + m.left_padding:], y[..., m.left_padding:y.shape[-1] - t])


def test_conv_linearity_and_bias(backend):
    """conv is linear in the input and in the weight; the bias adds b[o] to every output."""
    x1, x2, w1, w2, b = randn(2, 3, 7, 6), randn(2, 3, 7, 6), randn(4, 3, 3, 2), randn(4, 3, 3, 2), randn(4)
    alpha, beta = 1.7, -0.4
    B = backend.tensor

    def conv(x, w, b=None):
        return backend.numpy(F.conv2d(B(x), B(w), None if b is None else B(b), 2, 1))

    def convolve(x, w):
        return backend.numpy(F.convolve2d(B(x), B(w)))

    assert_close(conv(alpha * x1 + beta * x2, w1), alpha * conv(x1, w1) + beta * conv(x2, w1))
    assert_close(conv(x1, alpha * w1 + beta * w2), alpha * conv(x1, w1) + beta * conv(x1, w2))
    assert_close(conv(x1, w1, b) - conv(x1, w1), np.broadcast_to(b[None, :, None, None], conv(x1, w1).shape))
    assert_close(convolve(alpha * x1 + beta * x2, w1), alpha * convolve(x1, w1) + beta * convolve(x2, w1))


CONV_MODULES = [  # (name, factory, expected count)
    ("Conv1d", lambda: nn.Conv1d(6, 4, 3, groups=2), 4 * (6 // 2 * 3 + 1)),
    ("Conv1d-nobias", lambda: nn.Conv1d(3, 5, 4, bias=False), 5 * 3 * 4),
    ("Conv2d", lambda: nn.Conv2d(3, 8, 3), 8 * (3 * 9 + 1)),
    ("Conv2d-groups", lambda: nn.Conv2d(6, 9, (2, 3), groups=3), 9 * (6 // 3 * 6 + 1)),
    ("Conv2d-nobias", lambda: nn.Conv2d(4, 4, 5, groups=4, bias=False), 4 * (1 * 25)),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(4, 6, 3, groups=2), 6 * (4 // 2 * 3 + 1)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 5, 4, stride=2), 5 * (3 * 16 + 1)),
    ("ConvTranspose2d-nobias", lambda: nn.ConvTranspose2d(6, 4, 3, groups=2, bias=False), 4 * (6 // 2 * 9)),
    ("CausalConv1d", lambda: nn.CausalConv1d(3, 7, 2, dilation=4), 7 * (3 * 2 + 1)),
    ("CausalConv1d-nobias", lambda: nn.CausalConv1d(3, 7, 5, bias=False), 7 * 3 * 5),
    # depthwise C_in*m*k^2 + C_in*m, then pointwise C_out*C_in*m + C_out
    ("DepthwiseSeparableConv2d", lambda: nn.DepthwiseSeparableConv2d(3, 8, 3, depth_multiplier=2),
     3 * 2 * 9 + 3 * 2 + 8 * 3 * 2 + 8),
    ("DepthwiseSeparableConv2d-nobias", lambda: nn.DepthwiseSeparableConv2d(4, 6, (3, 5), bias=False), 4 * 15 + 6 * 4),
]


@pytest.mark.parametrize("name,make,expected", CONV_MODULES, ids=[c[0] for c in CONV_MODULES])
def test_num_parameters_formula(name, make, expected):
    """num_parameters() == C_out * (C_in/groups * K + 1), or without the +1 when bias=False."""
    module = make()
    assert module.num_parameters() == expected
    assert module.num_parameters() == sum(int(np.prod(p.shape)) for p in module.parameters())


@pytest.mark.parametrize("K,s,p,d", WINDOWS)
@pytest.mark.parametrize("L", SPATIAL)
def test_output_size_helpers(L, K, s, p, d):
    """conv_output_size / conv_transpose_output_size against the formulas and real shapes."""
    expected = (L + 2 * p - d * (K - 1) - 1) // s + 1
    if expected < 1:
        _raises(ValueError, rf"conv_output_size: the \(dilated\) kernel {d * (K - 1) + 1} is larger than the padded "
                rf"input {L + 2 * p} \(input \(1, 1, {L}\), weight \(1, 1, {K}\), padding .*: the output size would "
                r"be <= 0", conv_output_size, L, K, s, p, d)
    else:
        assert conv_output_size(L, K, s, p, d) == expected
        assert F.conv1d(T(randn(1, 1, L)), T(randn(2, 1, K)), None, s, p, d).shape == (1, 2, expected)
        assert F.conv2d(T(randn(1, 1, L, L + 1)), T(randn(1, 1, K, K)), None, s, p, d).shape[2] == expected
    for op in sorted({0, max(s, d) - 1}):
        out = (L - 1) * s - 2 * p + d * (K - 1) + op + 1
        if out < 1:
            _raises(ValueError, rf"conv_transpose_output_size: output size <= 0: \({out},\) for input \(1, 1, {L}\), "
                    rf"weight \(1, 1, {K}\), stride \({s},\), padding \({p},\), output_padding \({op},\), "
                    rf"dilation \({d},\)", conv_transpose_output_size, L, K, s, p, op, d)
        else:
            assert conv_transpose_output_size(L, K, s, p, op, d) == out
            y = F.conv_transpose2d(T(randn(1, 2, L, 2)), T(randn(2, 3, K, 1)), None, s, (p, 0), (op, 0), 1, (d, 1))
            assert y.shape[2] == out
            y1 = F.conv_transpose1d(T(randn(1, 2, L)), T(randn(2, 3, K)), None, s, p, op, 1, d)
            assert y1.shape == (1, 3, out)


def test_output_size_helpers_reject_bad_arguments():
    """The rules are conv's own params' (csrc/params/conv_params.cpp): the helpers' 1-D problem is
    an input (1, 1, L) and a weight (1, 1, kernel)."""
    for args, err, pattern in [
            ((5, 0), ValueError, r"weight \(1, 1, 0\) has an empty kernel"),
            ((5, 3, 0), ValueError, r"stride must be positive, got \(0,\) \(input \(1, 1, 5\), weight \(1, 1, 3\)\)"),
            ((5, 3, 1, 0, 0), ValueError,
             r"dilation must be positive, got \(0,\) \(input \(1, 1, 5\), weight \(1, 1, 3\)\)"),
            # TODO(rebuild): the installed _C predates conv_params.cpp's 1-D padding text "(-1, -1) (left, right)"
            # and prints "(0, 0, -1, -1) (top, bottom, left, right)"; drop the "(0, 0, )?" then
            ((5, 3, 1, -1), ValueError, r"padding must be non-negative, got \((0, 0, )?-1, -1\)"),
            ((5.0, 3), TypeError, r"L_in must be an int, got 5.0 of type float"),
            ((5, 3, 1.5), TypeError, r"stride must be an int, got 1.5"),
            ((2, 5), ValueError, r"the \(dilated\) kernel 5 is larger than the padded input 2 \(input \(1, 1, 2\), "
                                 r"weight \(1, 1, 5\)"),
            ((2, 3, 1, 0, 2), ValueError, r"the \(dilated\) kernel 5 is larger than the padded input 2")]:
        _raises(err, f"conv_output_size: {pattern}", conv_output_size, *args)
    for args, err, pattern in [
            ((5, 3, 2, 0, -1), ValueError, r"output_padding \(-1,\) must be non-negative and smaller than either the "
                                           r"stride \(2,\) or the dilation \(1,\)"),
            ((5, 3, 2, 0, 2), ValueError, r"output_padding \(2,\) must be non-negative and smaller than either the "
                                          r"stride \(2,\) or the dilation \(1,\)"),
            ((5, 3, 1, -1), ValueError, r"padding must be non-negative, got \(-1,\)"),
            ((5, 3, 0), ValueError, r"stride must be positive, got \(0,\)"),
            ((5, 0), ValueError, r"weight \(1, 1, 0\) has an empty kernel"),
            ((5, 3, 1, 0, 0, 1.0), TypeError, r"dilation must be an int, got 1.0"),
            ((1, 1, 1, 1), ValueError, r"output size <= 0: \(-1,\) for input \(1, 1, 1\), weight \(1, 1, 1\)")]:
        _raises(err, f"conv_transpose_output_size: {pattern}", conv_transpose_output_size, *args)


# ============================================================================ modules
def _with_params(module, named):
    """Runs `module` with some parameters replaced by (grad-tracking) tensors, for gradcheck."""
    for path, t in named.items():
        *owner, leaf = path.split(".")
        m = module
        for o in owner:
            m = getattr(m, o)
        m._parameters[leaf] = t
    return module


@pytest.mark.parametrize("dtype", DTYPES)
def test_causal_conv1d_matches_padded_conv1d(backend, dtype):
    m = nn.CausalConv1d(3, 4, 3, dilation=2, device=backend.device, dtype=dtype)
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (4, 3, 3) and m.bias.shape == (4,)
    x = randn(2, 3, 9, dtype=dtype)
    xt = backend.tensor(x, requires_grad=True)
    y = m(xt)
    xp = np.concatenate([np.zeros((2, 3, 4)), x], axis=2)  # d(k-1) = 4 zeros on the left only
    w, b = backend.numpy(m.weight), backend.numpy(m.bias)
    expected = ref.correlate2d_nchw(xp[:, :, None], w[:, :, None], b, dilation=(1, 2))[:, :, 0]
    assert y.shape == (2, 4, 9) and y.dtype == np.dtype(dtype)
    assert_close(y, expected, dtype, what="forward")
    dy = randn(2, 4, 9, dtype=dtype)
    y.backward(backend.tensor(dy))
    dxp, dw, db = conv_ref.conv2d_backward(dy[:, :, None], xp[:, :, None], w[:, :, None], dilation=(1, 2))
    assert_close(xt.grad, dxp[:, :, 0, 4:], dtype, what="input grad")  # the pad's zeros take no grad
    assert_close(m.weight.grad, dw[:, :, 0], dtype, what="weight grad")
    assert_close(m.bias.grad, db, dtype, what="bias grad")
    assert m(backend.tensor(x[0])).shape == (4, 9)  # unbatched (C, L)


def test_causal_conv1d_is_causal(backend):
    """Perturbing x[t] changes no output before t (and does change output t)."""
    m = nn.CausalConv1d(2, 3, 3, dilation=2, device=backend.device, dtype="float64")
    x = randn(1, 2, 12)
    y = backend.numpy(m(backend.tensor(x)))
    for t in range(12):
        xp = x.copy()
        xp[..., t] += 1.0
        yp = backend.numpy(m(backend.tensor(xp)))
        np.testing.assert_array_equal(yp[..., :t], y[..., :t])
        assert np.all(np.abs(yp[..., t] - y[..., t]) > 0)


def test_causal_stack_receptive_field_16(backend):
    """Kernel 2 with dilations 1, 2, 4, 8: the last output depends on exactly the last 16 inputs."""
    stack = nn.Sequential(*[nn.CausalConv1d(2, 2, 2, dilation=d, device=backend.device, dtype="float64")
                            for d in (1, 2, 4, 8)])
    assert 1 + sum(m.left_padding for m in stack) == 16
    x = backend.tensor(randn(1, 2, 40), requires_grad=True)
    stack(x)[..., -1].sum().backward()
    touched = np.flatnonzero(np.abs(backend.numpy(x.grad)).sum(axis=(0, 1)))
    np.testing.assert_array_equal(touched, np.arange(40 - 16, 40))


def test_causal_conv1d_gradcheck():
    m = nn.CausalConv1d(2, 3, 2, dilation=3, dtype="float64")
    gradcheck(lambda x, w, b: _with_params(m, {"weight": w, "bias": b})(x),
              randn(2, 2, 7), randn(3, 2, 2), randn(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_depthwise_separable_structure_forward_backward(backend, dtype):
    m = nn.DepthwiseSeparableConv2d(3, 5, 3, stride=2, padding=1, dilation=1, depth_multiplier=2,
                                    device=backend.device, dtype=dtype)
    assert [n for n, _ in m.named_children()] == ["depthwise", "pointwise"]
    assert list(m.state_dict()) == ["depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"]
    assert m.depthwise.weight.shape == (6, 1, 3, 3) and m.pointwise.weight.shape == (5, 6, 1, 1)
    x = randn(2, 3, 7, 8, dtype=dtype)
    params = {name: backend.numpy(p) for name, p in m.named_parameters()}
    wd, bd, wp, bp = (params[k] for k in ("depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"))
    mid = ref.correlate2d_nchw(x, wd, bd, (2, 2), ((1, 1), (1, 1)), groups=3)
    expected = ref.correlate2d_nchw(mid, wp, bp)
    xt = backend.tensor(x, requires_grad=True)
    y = m(xt)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, expected, dtype, what="forward")
    dy = randn(*y.shape, dtype=dtype)
    y.backward(backend.tensor(dy))
    dmid, dwp, dbp = conv_ref.conv2d_backward(dy, mid, wp)
    dx, dwd, dbd = conv_ref.conv2d_backward(dmid, x, wd, (2, 2), (1, 1), (1, 1), 3)
    for what, t, want in (("input grad", xt, dx), ("depthwise.weight grad", m.depthwise.weight, dwd),
                          ("depthwise.bias grad", m.depthwise.bias, dbd),
                          ("pointwise.weight grad", m.pointwise.weight, dwp),
                          ("pointwise.bias grad", m.pointwise.bias, dbp)):
        assert_close(t.grad, want, dtype, what=what)


def test_depthwise_separable_gradcheck():
    m = nn.DepthwiseSeparableConv2d(2, 3, 3, padding=1, depth_multiplier=2, dtype="float64")
    names = ["depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"]
    gradcheck(lambda x, *p: _with_params(m, dict(zip(names, p)))(x),
              randn(1, 2, 4, 5), randn(4, 1, 3, 3), randn(4), randn(3, 4, 1, 1), randn(3))


def test_conv_extra_modules_bad_input():
    with pytest.raises(ValueError, match="CausalConv1d: kernel_size"):
        nn.CausalConv1d(2, 3, 0)
    with pytest.raises(ValueError, match="CausalConv1d: dilation"):
        nn.CausalConv1d(2, 3, 2, dilation=0)
    with pytest.raises(ValueError, match="CausalConv1d: input"):
        nn.CausalConv1d(2, 3, 2)(T(randn(1, 1, 2, 5).astype(np.float32)))
    with pytest.raises(ValueError, match="DepthwiseSeparableConv2d: depth_multiplier"):
        nn.DepthwiseSeparableConv2d(2, 3, 3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"DepthwiseSeparableConv2d: expected input \(N, 4, H, W\).*\(1, 3, 6, 6\)"):
        nn.DepthwiseSeparableConv2d(4, 6, 3)(T(randn(1, 3, 6, 6).astype(np.float32)))


def test_conv_extra_modules_load_torch_state_dicts():
    torch = pytest.importorskip("torch")
    tc = torch.nn.Conv1d(3, 4, 3, dilation=2).double()
    m = nn.CausalConv1d(3, 4, 3, dilation=2, dtype="float64")
    m.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    x = randn(2, 3, 10)
    expected = tc(torch.nn.functional.pad(torch.tensor(x), (4, 0))).detach().numpy()
    assert_close(m(T(x)), expected)
    tseq = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1, groups=4), torch.nn.Conv2d(8, 5, 1)).double()
    d = nn.DepthwiseSeparableConv2d(4, 5, 3, padding=1, depth_multiplier=2, dtype="float64")
    d.load_state_dict({k.replace("0.", "depthwise.").replace("1.", "pointwise."): v.detach().numpy()
                       for k, v in tseq.state_dict().items()})
    x = randn(2, 4, 6, 5)
    assert_close(d(T(x)), tseq(torch.tensor(x)).detach().numpy())


# ============================================================================ padding modes of the conv modules
@pytest.mark.parametrize("mode", MODES)
def test_conv_modules_padding_modes(backend, mode):
    """Conv1d/Conv2d(padding_mode=...) = the padded input (np.pad reference) convolved with padding 0."""
    m2 = nn.Conv2d(2, 3, (3, 2), padding=(2, 1), dilation=(1, 2), padding_mode=mode, device=backend.device,
                   dtype="float64")
    x = randn(2, 2, 5, 4)
    xp = pad_ref.pad_forward(x, (1, 1, 2, 2), mode)
    w, b = backend.numpy(m2.weight), backend.numpy(m2.bias)
    expected = ref.correlate2d_nchw(xp, w, b, dilation=(1, 2))
    xt = backend.tensor(x, requires_grad=True)
    y = m2(xt)
    assert_close(y, expected, what="Conv2d forward")
    dy = randn(*y.shape)
    y.backward(backend.tensor(dy))
    dxp, dw, db = conv_ref.conv2d_backward(dy, xp, w, dilation=(1, 2))
    assert_close(xt.grad, pad_ref.pad_backward(dxp, x.shape, (1, 1, 2, 2), mode), what="Conv2d input grad")
    assert_close(m2.weight.grad, dw, what="Conv2d weight grad")
    m1 = nn.Conv1d(2, 3, 4, padding="same", padding_mode=mode, device=backend.device, dtype="float64")
    x = randn(2, 2, 6)
    xp = pad_ref.pad_forward(x, (1, 2), mode)  # d(k-1) = 3: one left, two right
    w = backend.numpy(m1.weight)
    expected = ref.correlate2d_nchw(xp[:, :, None], w[:, :, None], backend.numpy(m1.bias))[:, :, 0]
    assert_close(m1(backend.tensor(x)), expected, what="Conv1d forward")


@pytest.mark.parametrize("mode", MODES)
def test_conv_modules_padding_modes_gradcheck(mode):
    m1 = nn.Conv1d(2, 3, 4, padding="same", padding_mode=mode, dtype="float64")
    gradcheck(lambda x, w: _with_params(m1, {"weight": w})(x), randn(1, 2, 5), randn(3, 2, 4))


def test_conv_modules_padding_modes_match_torch():
    torch = pytest.importorskip("torch")
    for mode in MODES:
        tm = torch.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode).double()
        m = nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode, dtype="float64")
        m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        x = randn(2, 3, 5, 6)
        assert_close(m(T(x)), tm(torch.tensor(x)).detach().numpy())


# ============================================================================ bad input (issue 3)
def test_same_padding_even_kernel_splits_extra_to_the_right():
    """'same' pads d(k-1) in total; an odd total puts the extra element at the end (right/bottom)."""
    x, w = randn(1, 2, 5, 6), randn(3, 2, 2, 4)
    y = F.conv2d(T(x), T(w), padding="same")
    assert y.shape == (1, 3, 5, 6)
    assert_close(y, ref.correlate2d_nchw(x, w, padding=((0, 1), (1, 2))))
    x1, w1 = randn(2, 7), randn(1, 2, 2)
    y1 = F.conv1d(T(x1), T(w1), padding="same", dilation=3)  # total 3: one left, two right
    xp = np.pad(x1, ((0, 0), (1, 2)))
    assert_close(y1, ref.correlate2d_nchw(xp[None, :, None], w1[:, :, None], dilation=(1, 3))[0, :, 0])


def test_conv_bad_input_issue3():
    x = T(randn(1, 4, 6, 6))
    cases = [
        # groups not dividing the channels
        ("conv2d", lambda: F.conv2d(x, T(randn(6, 2, 3, 3)), groups=3)),
        ("conv2d", lambda: F.conv2d(x, T(randn(3, 2, 3, 3)), groups=2)),
        ("conv1d", lambda: F.conv1d(T(randn(1, 3, 8)), T(randn(4, 1, 3)), groups=2)),
        ("conv_transpose2d", lambda: F.conv_transpose2d(T(randn(1, 3, 4, 4)), T(randn(3, 2, 3, 3)), groups=2)),
        ("Conv2d", lambda: nn.Conv2d(4, 6, 3, groups=4)),
        # a wrong weight layout for transposed conv: (C_out, C_in, k, k) instead of (C_in, C_out/groups, k, k)
        ("conv_transpose2d", lambda: F.conv_transpose2d(x, T(randn(2, 4, 3, 3)))),
        ("conv_transpose1d", lambda: F.conv_transpose1d(T(randn(1, 4, 5)), T(randn(2, 4, 3)))),
        # output_padding too large: must be < stride or < dilation
        ("conv_transpose2d", lambda: F.conv_transpose2d(x, T(randn(4, 2, 3, 3)), stride=2, output_padding=2)),
        ("conv_transpose1d", lambda: F.conv_transpose1d(T(randn(1, 4, 5)), T(randn(4, 2, 3)), output_padding=1)),
        # 'same' with stride > 1
        ("conv2d", lambda: F.conv2d(x, T(randn(2, 4, 3, 3)), stride=2, padding="same")),
        ("conv1d", lambda: F.conv1d(T(randn(1, 4, 9)), T(randn(2, 4, 3)), stride=(2,), padding="same")),
        ("Conv2d", lambda: nn.Conv2d(4, 2, 3, stride=2, padding="same")),
        # output size <= 0
        ("conv2d", lambda: F.conv2d(x, T(randn(2, 4, 7, 3)))),
        ("conv1d", lambda: F.conv1d(T(randn(1, 4, 5)), T(randn(2, 4, 3)), dilation=3)),
        ("conv_transpose2d", lambda: F.conv_transpose2d(T(randn(1, 4, 1, 1)), T(randn(4, 2, 1, 1)), padding=1)),
    ]
    for op, fn in cases:
        with pytest.raises(ValueError, match=op):
            fn()
