"""The rest of the conv family (issue 3): native reflect/replicate/circular padding,
convolve2d, conv2d_matrix, CausalConv1d, DepthwiseSeparableConv2d, and property tests
of the conv ops (shift-equivariance, linearity, bias, causality, output sizes,
parameter counts).  References: tests/reference/pad.py and conv_extra.py."""
import itertools

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from pycnn import nn
from pycnn.utils import conv_output_size, conv_transpose_output_size

from cases import BATCH, CHANNELS, DTYPES, SPATIAL, WINDOWS
from helpers import assert_close, gradcheck, randn
from reference import conv_extra as ref
from reference import pad as pad_ref

MODES = ("reflect", "replicate", "circular")


def T(a, dtype=None, requires_grad=False):
    a = np.asarray(a)
    return pycnn.tensor(a, dtype=dtype or a.dtype.name, requires_grad=requires_grad)


# ============================================================================ padding
def _pads_for(mode, n):
    """Two (lo, hi) pads for a dim of size n, at PyTorch's limits for the mode."""
    if mode == "reflect":
        return [(n - 1, (n - 1) // 2), ((n - 1) // 3, n - 1)]
    if mode == "replicate":
        return [(n + 2, 1), (0, 3)]
    return [(n, n // 2), (1, n)]


def _pad_cases():
    sizes = [(1, 5), (2, 7), (5, 2), (7, 11), (13, 1), (11, 13), (17, 33)]
    cases = []
    for k, (mode, (H, W)) in enumerate(itertools.product(MODES, sizes)):
        N, C = BATCH[k % len(BATCH)], CHANNELS[(k // 2) % len(CHANNELS)]
        for (l, r), (t, b) in zip(_pads_for(mode, W), _pads_for(mode, H)[::-1]):
            cases.append((mode, (N, C, H, W), (l, r, t, b)))
    return cases


PAD_CASES = _pad_cases()


@pytest.mark.parametrize("impl", ["ref", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,shape,pad", PAD_CASES)
def test_pad_native_forward_backward(mode, shape, pad, dtype, impl):
    x = randn(*shape, dtype=dtype)
    y = pycnn._C.pad2d_forward(x, list(pad), mode, reference=impl == "ref")
    expected = pad_ref.pad_forward(x, pad, mode)
    assert y.dtype == np.dtype(dtype) and y.shape == expected.shape
    assert_close(y, expected, dtype)
    g = randn(*expected.shape, dtype=dtype)
    dx = pycnn._C.pad2d_backward(g, list(pad), mode, reference=impl == "ref")
    assert dx.dtype == np.dtype(dtype)
    assert_close(dx, pad_ref.pad_backward(g, shape, pad, mode), dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pad", [((3, 7), (2, 3)), ((2, 3, 5), (4, 1)), ((2, 4, 5), (1, 2, 3, 0)),
                                       ((2, 3, 4, 6), (3, 2, 1, 3)), ((0, 2, 4, 5), (1, 1, 2, 2))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_F_pad_modes(mode, shape, pad, dtype):
    """F.pad(x, pad, mode=...) on (C,L), (N,C,L), (C,H,W), (N,C,H,W): values and autodiff grads."""
    x = randn(*shape, dtype=dtype)
    t = T(x, requires_grad=True)
    y = F.pad(t, pad, mode=mode)
    expected = pad_ref.pad_forward(x, pad, mode)
    assert y.shape == expected.shape and y.dtype == np.dtype(dtype)
    assert_close(y, expected, dtype)
    g = randn(*expected.shape, dtype=dtype)
    y.backward(T(g))
    assert_close(t.grad, pad_ref.pad_backward(g, shape, pad, mode), dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pad", [((2, 2, 4), (3, 2)), ((1, 2, 3, 4), (3, 1, 2, 1))])
def test_pad_gradcheck(mode, shape, pad):
    pad = tuple(min(p, shape[-1 - i // 2] - 1) if mode == "reflect" else p for i, p in enumerate(pad))
    gradcheck(lambda x: F.pad(x, pad, mode=mode), randn(*shape))


@pytest.mark.parametrize("mode", MODES)
def test_pad_inside_a_graph_gradcheck(mode):
    """A pad node inside a longer graph accumulates its grad like any op."""
    x = randn(1, 2, 3, 4)
    gradcheck(lambda t: (F.pad(t * t, (1, 2, 2, 1), mode=mode) * 3.0).tanh(), x)


def test_pad_bad_input():
    x = T(randn(2, 3, 4))
    cases = [
        (ValueError, lambda: F.pad(x, (4, 0), mode="reflect")),           # reflect pad == size
        (ValueError, lambda: F.pad(x, (0, 5), mode="circular")),          # circular pad > size
        (ValueError, lambda: F.pad(x, (-1, 1), mode="replicate")),        # negative
        (ValueError, lambda: F.pad(x, (1, 1), mode="mirror")),            # unknown mode
        (ValueError, lambda: F.pad(T(randn(5)), (1, 1), mode="reflect")),  # 1-D input
        (ValueError, lambda: F.pad(T(randn(1, 2, 3, 4)), (1, 1), mode="reflect")),  # 2 pads on 4-D
        (ValueError, lambda: F.pad(T(randn(3, 4)), (1, 1, 1, 1), mode="replicate")),  # 4 pads on 2-D
        (ValueError, lambda: F.pad(T(randn(2, 3, 4)), (1, 1, 3, 0), mode="reflect")),  # H pad == H
        (ValueError, lambda: F.pad(T(np.zeros((2, 3, 0))), (1, 1), mode="replicate")),  # empty dim
        (NotImplementedError, lambda: F.pad(T(randn(1, 2, 3, 4)), (1,) * 6, mode="reflect")),
        (TypeError, lambda: F.pad(pycnn.tensor(np.ones((2, 3, 4), np.int64)), (1, 1), mode="reflect")),
    ]
    for exc, fn in cases:
        with pytest.raises(exc, match="pad"):
            fn()


def test_pad_native_bad_input():
    """The C++ boundary checks on its own (callers that skip the Python checks)."""
    x = randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="pad: reflect padding"):
        pycnn._C.pad2d_forward(x, [4, 0, 0, 0], "reflect")
    with pytest.raises(ValueError, match="pad: circular padding"):
        pycnn._C.pad2d_forward(x, [0, 0, 4, 0], "circular")
    with pytest.raises(ValueError, match="pad: .*non-negative"):
        pycnn._C.pad2d_forward(x, [0, -1, 0, 0], "replicate")
    with pytest.raises(ValueError, match="pad: mode"):
        pycnn._C.pad2d_forward(x, [1, 1, 1, 1], "wrap")
    with pytest.raises(ValueError, match="pad: input must be 4-D"):
        pycnn._C.pad2d_forward(randn(2, 3, 4), [1, 1, 0, 0], "reflect")
    with pytest.raises(ValueError, match="pad: pad must be"):
        pycnn._C.pad2d_forward(x, [1, 1], "reflect")
    with pytest.raises(TypeError, match="pad: input must be float32 or float64"):
        pycnn._C.pad2d_forward(x.astype(np.float16), [1, 1, 1, 1], "reflect")
    with pytest.raises(ValueError, match="pad: reflect"):  # a grad too small for the pads
        pycnn._C.pad2d_backward(randn(1, 1, 3, 3), [2, 2, 0, 0], "reflect")


def test_pad_matches_torch():
    torch = pytest.importorskip("torch")
    for mode, shape, pad in PAD_CASES[::3]:
        x = randn(*shape)
        expected = torch.nn.functional.pad(torch.tensor(x), pad, mode=mode).numpy()
        assert_close(F.pad(T(x), pad, mode=mode), expected)


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
def test_convolve2d_matches_reference(N, C_in, C_out, groups, H, W, K, s, p, d, dtype):
    x, k, b = randn(N, C_in, H, W, dtype=dtype), randn(C_out, C_in // groups, K, K + 1, dtype=dtype), \
        randn(C_out, dtype=dtype)
    y = F.convolve2d(T(x), T(k), T(b), stride=s, padding=p, dilation=d, groups=groups)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, ref.convolve2d_nchw(x, k, b, (s, s), (p, p), (d, d), groups), dtype)
    # and its relation to conv2d (cross-correlation): the kernel flipped in both spatial dims
    flipped = np.ascontiguousarray(k[..., ::-1, ::-1])
    assert_close(y, F.conv2d(T(x), T(flipped), T(b), s, p, d, groups).detach().numpy(), dtype)


def test_convolve2d_full_mode_is_np_convolve():
    """padding = k - 1 gives the 'full' convolution; on a single row it is np.convolve."""
    row, ker = randn(9), randn(4)
    y = F.convolve2d(T(row.reshape(1, 1, 1, 9)), T(ker.reshape(1, 1, 1, 4)), padding=(0, 3))
    assert_close(y.detach().numpy().ravel(), np.convolve(row, ker, mode="full"))
    y = F.convolve2d(T(row.reshape(1, 1, 1, 9)), T(ker.reshape(1, 1, 1, 4)))
    assert_close(y.detach().numpy().ravel(), np.convolve(row, ker, mode="valid"))


def test_convolve2d_commutes_and_symmetric_kernels_agree_with_conv2d():
    a, b = randn(5, 6), randn(3, 4)
    ab = F.convolve2d(T(a.reshape(1, 1, 5, 6)), T(b.reshape(1, 1, 3, 4)), padding=(2, 3))
    ba = F.convolve2d(T(b.reshape(1, 1, 3, 4)), T(a.reshape(1, 1, 5, 6)), padding=(4, 5))
    assert_close(ab, ba.detach().numpy())
    k = randn(2, 3, 3, 3)
    k = k + k[..., ::-1, ::-1]  # invariant under a 180-degree rotation
    x = randn(2, 3, 6, 5)
    assert_close(F.convolve2d(T(x), T(k), padding=1), F.conv2d(T(x), T(k), padding=1).detach().numpy())


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
def test_conv2d_shift_equivariance(seed):
    """conv(shift(x)) == shift(conv(x)) away from the borders, for random kernels and shifts
    (shifts by multiples of the stride move the output by shift/stride)."""
    rng = np.random.default_rng(seed)
    s, d, K = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    w = rng.standard_normal((3, 2, K, K))
    x = rng.standard_normal((1, 2, 12, 13))
    a, b = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    shifted = np.roll(x, (a * s, b * s), axis=(2, 3))  # the wrapped rows/cols are the "border"
    y = F.conv2d(T(x), T(w), None, s, 0, d).detach().numpy()
    ys = F.conv2d(T(shifted), T(w), None, s, 0, d).detach().numpy()
    Ho, Wo = y.shape[2:]
    assert_close(ys[:, :, a:, b:], y[:, :, :Ho - a, :Wo - b])


@pytest.mark.parametrize("seed", range(3))
def test_conv1d_and_causal_shift_equivariance(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 3, 3))
    x = rng.standard_normal((2, 3, 17))
    t = int(rng.integers(1, 5))
    y = F.conv1d(T(x), T(w), dilation=2).detach().numpy()
    ys = F.conv1d(T(np.roll(x, t, axis=2)), T(w), dilation=2).detach().numpy()
    assert_close(ys[..., t:], y[..., :y.shape[-1] - t])
    m = nn.CausalConv1d(3, 2, 3, dilation=2, dtype="float64")
    y = m(T(x)).detach().numpy()
    ys = m(T(np.roll(x, t, axis=2))).detach().numpy()
    assert_close(ys[..., t + m.left_padding:], y[..., m.left_padding:y.shape[-1] - t])


def test_conv_linearity_and_bias():
    """conv is linear in the input and in the weight; the bias adds b[o] to every output."""
    x1, x2, w1, w2, b = randn(2, 3, 7, 6), randn(2, 3, 7, 6), randn(4, 3, 3, 2), randn(4, 3, 3, 2), randn(4)
    alpha, beta = 1.7, -0.4

    def conv(x, w, b=None):
        return F.conv2d(T(x), T(w), None if b is None else T(b), 2, 1).detach().numpy()

    assert_close(conv(alpha * x1 + beta * x2, w1), alpha * conv(x1, w1) + beta * conv(x2, w1))
    assert_close(conv(x1, alpha * w1 + beta * w2), alpha * conv(x1, w1) + beta * conv(x1, w2))
    assert_close(conv(x1, w1, b) - conv(x1, w1), np.broadcast_to(b[None, :, None, None], conv(x1, w1).shape))
    assert_close(F.convolve2d(T(alpha * x1 + beta * x2), T(w1)).detach().numpy(),
                 alpha * F.convolve2d(T(x1), T(w1)).detach().numpy()
                 + beta * F.convolve2d(T(x2), T(w1)).detach().numpy())


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
        with pytest.raises(ValueError, match="conv_output_size: the effective kernel"):
            conv_output_size(L, K, s, p, d)
    else:
        assert conv_output_size(L, K, s, p, d) == expected
        assert F.conv1d(T(randn(1, 1, L)), T(randn(2, 1, K)), None, s, p, d).shape == (1, 2, expected)
        assert F.conv2d(T(randn(1, 1, L, L + 1)), T(randn(1, 1, K, K)), None, s, p, d).shape[2] == expected
    for op in sorted({0, max(s, d) - 1}):
        out = (L - 1) * s - 2 * p + d * (K - 1) + op + 1
        if out < 1:
            with pytest.raises(ValueError, match="conv_transpose_output_size: output size"):
                conv_transpose_output_size(L, K, s, p, op, d)
        else:
            assert conv_transpose_output_size(L, K, s, p, op, d) == out
            y = F.conv_transpose2d(T(randn(1, 2, L, 2)), T(randn(2, 3, K, 1)), None, s, (p, 0), (op, 0), 1, (d, 1))
            assert y.shape[2] == out
            y1 = F.conv_transpose1d(T(randn(1, 2, L)), T(randn(2, 3, K)), None, s, p, op, 1, d)
            assert y1.shape == (1, 3, out)


def test_output_size_helpers_reject_bad_arguments():
    for args, err, pattern in [((5, 0), ValueError, "kernel must be >= 1"),
                               ((5, 3, 0), ValueError, "stride must be >= 1"),
                               ((5, 3, 1, -1), ValueError, "padding must be >= 0"),
                               ((5.0, 3), TypeError, "L_in must be an int"),
                               ((2, 5), ValueError, r"the effective kernel d\(k-1\)\+1 = 5 is larger than the padded input L \+ 2p = 2")]:
        with pytest.raises(err, match=f"conv_output_size: {pattern}"):
            conv_output_size(*args)
    with pytest.raises(ValueError, match="conv_transpose_output_size: output_padding must be >= 0"):
        conv_transpose_output_size(5, 3, 2, 0, -1)


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


def test_causal_conv1d_matches_padded_conv1d():
    m = nn.CausalConv1d(3, 4, 3, dilation=2, dtype="float64")
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (4, 3, 3) and m.bias.shape == (4,)
    x = randn(2, 3, 9)
    y = m(T(x))
    xp = np.concatenate([np.zeros((2, 3, 4)), x], axis=2)  # d(k-1) = 4 zeros on the left only
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    expected = ref.correlate2d_nchw(xp[:, :, None], w[:, :, None], b, dilation=(1, 2))[:, :, 0]
    assert y.shape == (2, 4, 9)
    assert_close(y, expected)
    assert m(T(x[0])).shape == (4, 9)  # unbatched (C, L)


def test_causal_conv1d_is_causal():
    """Perturbing x[t] changes no output before t (and does change output t)."""
    m = nn.CausalConv1d(2, 3, 3, dilation=2, dtype="float64")
    x = randn(1, 2, 12)
    y = m(T(x)).detach().numpy()
    for t in range(12):
        xp = x.copy()
        xp[..., t] += 1.0
        yp = m(T(xp)).detach().numpy()
        np.testing.assert_array_equal(yp[..., :t], y[..., :t])
        assert np.all(np.abs(yp[..., t] - y[..., t]) > 0)


def test_causal_stack_receptive_field_16():
    """Kernel 2 with dilations 1, 2, 4, 8: the last output depends on exactly the last 16 inputs."""
    stack = nn.Sequential(*[nn.CausalConv1d(2, 2, 2, dilation=d, dtype="float64") for d in (1, 2, 4, 8)])
    assert 1 + sum(m.left_padding for m in stack) == 16
    x = T(randn(1, 2, 40), requires_grad=True)
    stack(x)[..., -1].sum().backward()
    touched = np.flatnonzero(np.abs(x.grad.numpy()).sum(axis=(0, 1)))
    np.testing.assert_array_equal(touched, np.arange(40 - 16, 40))


def test_causal_conv1d_gradcheck():
    m = nn.CausalConv1d(2, 3, 2, dilation=3, dtype="float64")
    gradcheck(lambda x, w, b: _with_params(m, {"weight": w, "bias": b})(x),
              randn(2, 2, 7), randn(3, 2, 2), randn(3))


def test_depthwise_separable_structure_and_forward():
    m = nn.DepthwiseSeparableConv2d(3, 5, 3, stride=2, padding=1, dilation=1, depth_multiplier=2, dtype="float64")
    assert [n for n, _ in m.named_children()] == ["depthwise", "pointwise"]
    assert list(m.state_dict()) == ["depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"]
    assert m.depthwise.weight.shape == (6, 1, 3, 3) and m.pointwise.weight.shape == (5, 6, 1, 1)
    x = randn(2, 3, 7, 8)
    sd = {k: v for k, v in m.state_dict().items()}
    mid = ref.correlate2d_nchw(x, sd["depthwise.weight"], sd["depthwise.bias"], (2, 2), ((1, 1), (1, 1)), groups=3)
    expected = ref.correlate2d_nchw(mid, sd["pointwise.weight"], sd["pointwise.bias"])
    assert_close(m(T(x)), expected)


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
def test_conv_modules_padding_modes(mode):
    """Conv1d/Conv2d(padding_mode=...) = the padded input (np.pad reference) convolved with padding 0."""
    m2 = nn.Conv2d(2, 3, (3, 2), padding=(2, 1), dilation=(1, 2), padding_mode=mode, dtype="float64")
    x = randn(2, 2, 5, 4)
    xp = pad_ref.pad_forward(x, (1, 1, 2, 2), mode)
    expected = ref.correlate2d_nchw(xp, m2.weight.detach().numpy(), m2.bias.detach().numpy(), dilation=(1, 2))
    assert_close(m2(T(x)), expected)
    m1 = nn.Conv1d(2, 3, 4, padding="same", padding_mode=mode, dtype="float64")
    x = randn(2, 2, 6)
    xp = pad_ref.pad_forward(x, (1, 2), mode)  # d(k-1) = 3: one left, two right
    w = m1.weight.detach().numpy()
    expected = ref.correlate2d_nchw(xp[:, :, None], w[:, :, None], m1.bias.detach().numpy())[:, :, 0]
    assert_close(m1(T(x)), expected)
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
