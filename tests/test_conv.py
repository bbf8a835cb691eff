"""conv1d / conv2d / conv_transpose1d / conv_transpose2d: native kernels (CPU and the C++
reference) against the numpy float64 reference on the shared awkward cases, autodiff
gradchecks, modules, and bad input."""
import math

import numpy as np
import pytest

import pycnn
import pycnn.functional as F
from cases import BATCH, CHANNELS, DTYPES, SPATIAL, WINDOWS
from helpers import assert_close, gradcheck, randn
from reference import conv as ref

_C = pycnn._C

# ----------------------------------------------------------------------------- case table
# Each case mixes two WINDOWS rows (one for H, one for W: rectangular kernels, strides,
# paddings and dilations) with a channel/group layout:
#   dense (groups 1), grouped (groups 2), depthwise (groups == C_in), depthwise with a
#   depth multiplier (C_out = 2 C_in), and single-channel.
LAYOUTS = {  # name -> (C_in, C_out, groups) built from CHANNELS
    "dense": lambda c, c2: (c, c2, 1),
    "grouped": lambda c, c2: (2 * c, 2 * c2, 2),
    "depthwise": lambda c, c2: (max(c, 2), max(c, 2), max(c, 2)),
    "depthwise_x2": lambda c, c2: (max(c, 2), 2 * max(c, 2), max(c, 2)),
    "single": lambda c, c2: (1, 1, 1),
}


def _smallest_valid(k, s, p, d, start):
    """A SPATIAL size >= start (cyclically) whose conv output is positive."""
    for L in SPATIAL[start:] + SPATIAL[:start]:
        if L + 2 * p - d * (k - 1) - 1 >= 0:
            return L
    return SPATIAL[-1]


def conv_cases():
    cases = []
    for i, wh in enumerate(WINDOWS):
        for j, (layout, make) in enumerate(LAYOUTS.items()):
            ww = WINDOWS[(i + j + 1) % len(WINDOWS)]
            c, c2 = CHANNELS[(i + j) % 3], CHANNELS[(i + 2 * j + 1) % 3]
            C_in, C_out, groups = make(c, c2)
            H = _smallest_valid(*wh, start=(i + j) % len(SPATIAL))
            W = _smallest_valid(*ww, start=(i + 2 * j + 3) % len(SPATIAL))
            N = BATCH[(i + j) % 3]
            cases.append(dict(N=N, C_in=C_in, C_out=C_out, groups=groups, H=H, W=W,
                              k=(wh[0], ww[0]), stride=(wh[1], ww[1]), padding=(wh[2], ww[2]),
                              dilation=(wh[3], ww[3])))
    # the 1x1 fast path on every layout, asymmetric padding ('same' with an even kernel)
    cases.append(dict(N=3, C_in=5, C_out=7, groups=1, H=7, W=11, k=(1, 1), stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1)))
    cases.append(dict(N=2, C_in=6, C_out=4, groups=2, H=5, W=13, k=(1, 1), stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1)))
    cases.append(dict(N=1, C_in=3, C_out=6, groups=3, H=2, W=7, k=(1, 1), stride=(1, 1), padding=(0, 0),
                      dilation=(1, 1)))
    cases.append(dict(N=2, C_in=3, C_out=5, groups=1, H=7, W=5, k=(4, 2), stride=(1, 1), padding=(1, 2, 0, 1),
                      dilation=(1, 1)))
    cases.append(dict(N=2, C_in=4, C_out=4, groups=4, H=6, W=5, k=(2, 4), stride=(1, 1), padding=(0, 1, 1, 2),
                      dilation=(1, 1)))
    return cases


CONV_CASES = conv_cases()


def _case_id(c):
    return (f"N{c['N']}-C{c['C_in']}to{c['C_out']}-g{c['groups']}-{c['H']}x{c['W']}-k{c['k'][0]}x{c['k'][1]}"
            f"-s{c['stride'][0]}{c['stride'][1]}-p{''.join(map(str, c['padding']))}"
            f"-d{c['dilation'][0]}{c['dilation'][1]}")


def _conv_arrays(c, dtype, transposed=False):
    if transposed:  # x (N, C_in, H, W), w (C_in, C_out/groups, kH, kW)
        x = randn(c["N"], c["C_in"], c["H"], c["W"], dtype=dtype)
        w = randn(c["C_in"], c["C_out"] // c["groups"], *c["k"], dtype=dtype)
    else:
        x = randn(c["N"], c["C_in"], c["H"], c["W"], dtype=dtype)
        w = randn(c["C_out"], c["C_in"] // c["groups"], *c["k"], dtype=dtype)
    return x, w, randn(c["C_out"], dtype=dtype)


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONV_CASES, ids=_case_id)
def test_conv2d_native_matches_reference(c, dtype, reference):
    x, w, b = _conv_arrays(c, dtype)
    args = (c["stride"], c["padding"], c["dilation"], c["groups"])
    y = _C.conv2d_forward(x, w, b, *args, reference=reference)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, ref.conv2d(x, w, b, *args), dtype, what="forward")
    dy = randn(*y.shape, dtype=dtype)
    dx, dw, db = _C.conv2d_backward(dy, x, w, *args, reference=reference)
    rdx, rdw, rdb = ref.conv2d_backward(dy, x, w, *args)
    assert_close(dx, rdx, dtype, what="grad input")
    assert_close(dw, rdw, dtype, what="grad weight")
    assert_close(db, rdb, dtype, what="grad bias")
    # each grad alone (the other outputs are skipped, not computed)
    only_w = _C.conv2d_backward(dy, x, w, *args, input_grad=False, bias_grad=False, reference=reference)
    assert only_w[0] is None and only_w[2] is None
    assert_close(only_w[1], rdw, dtype, what="grad weight alone")


def transpose_cases():
    """conv_transpose2d: the conv cases read backwards, with the largest legal output_padding."""
    cases = []
    for c in CONV_CASES:
        if len(c["padding"]) == 4:
            continue
        t = dict(c, C_in=c["C_out"], C_out=c["C_in"])  # weight (C_in_t, C_out_t/groups, ...)
        t["output_padding"] = tuple(max(s, d) - 1 for s, d in zip(c["stride"], c["dilation"]))
        Ho = [(L - 1) * s - 2 * p + d * (k - 1) + op + 1 for L, s, p, d, k, op in
              zip((c["H"], c["W"]), c["stride"], c["padding"], c["dilation"], c["k"], t["output_padding"])]
        if min(Ho) > 0:
            cases.append(t)
    # 1x1 with output_padding (allowed by dilation 2): rows the conv never reads, not the 1x1 fast path
    cases.append(dict(N=2, C_in=4, C_out=6, groups=2, H=5, W=3, k=(1, 1), stride=(1, 1), padding=(0, 0),
                      dilation=(2, 2), output_padding=(1, 1)))
    return cases


TRANSPOSE_CASES = transpose_cases()


@pytest.mark.parametrize("reference", [False, True], ids=["cpu", "ref"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", TRANSPOSE_CASES, ids=_case_id)
def test_conv_transpose2d_native_matches_reference(c, dtype, reference):
    x, w, b = _conv_arrays(c, dtype, transposed=True)
    args = (c["stride"], c["padding"], c["output_padding"], c["groups"], c["dilation"])
    y = _C.conv_transpose2d_forward(x, w, b, *args, reference=reference)
    assert_close(y, ref.conv_transpose2d(x, w, b, *args), dtype, what="forward")
    dy = randn(*y.shape, dtype=dtype)
    dx, dw, db = _C.conv_transpose2d_backward(dy, x, w, *args, reference=reference)
    rdx, rdw, rdb = ref.conv_transpose2d_backward(dy, x, w, *args)
    assert_close(dx, rdx, dtype, what="grad input")
    assert_close(dw, rdw, dtype, what="grad weight")
    assert_close(db, rdb, dtype, what="grad bias")


def test_transpose_is_the_adjoint_of_conv():
    """<conv2d(x), y> == <x, conv_transpose2d(y)> with the same weight (an identity, not a kernel)."""
    x, w = randn(2, 4, 9, 8), randn(6, 2, 3, 2)
    kw = dict(stride=(2, 3), padding=(1, 1), dilation=(1, 2), groups=2)
    cx = _C.conv2d_forward(x, w, None, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    y = randn(*cx.shape)
    Ho, Wo = x.shape[2:]
    op = [H - ((L - 1) * s - 2 * p + d * (k - 1) + 1) for H, L, s, p, d, k in
          zip((Ho, Wo), cx.shape[2:], kw["stride"], kw["padding"], kw["dilation"], w.shape[2:])]
    ty = _C.conv_transpose2d_forward(y, w, None, kw["stride"], kw["padding"], op, kw["groups"], kw["dilation"])
    assert ty.shape == x.shape
    np.testing.assert_allclose(np.vdot(cx, y), np.vdot(x, ty), rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 3])
def test_every_thread_split_matches_reference(threads):
    """Whole jobs per thread, groups per thread, thread-local weight partials, and the
    parallel-GEMM path for small batches: which one runs depends on N*groups vs threads."""
    old = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        for N, C_in, C_out, groups in [(1, 3, 4, 1), (2, 4, 6, 2), (5, 3, 5, 1), (4, 6, 3, 3), (1, 6, 6, 6)]:
            x, w, b = randn(N, C_in, 7, 6), randn(C_out, C_in // groups, 3, 2), randn(C_out)
            args = ((2, 1), (1, 0), (1, 2), groups)
            y = _C.conv2d_forward(x, w, b, *args)
            assert_close(y, ref.conv2d(x, w, b, *args))
            dy = randn(*y.shape)
            for got, want in zip(_C.conv2d_backward(dy, x, w, *args), ref.conv2d_backward(dy, x, w, *args)):
                assert_close(got, want)
            targs = ((2, 1), (1, 0), (0, 0), groups, (1, 2))  # the transpose maps y back to x's shape
            t = _C.conv_transpose2d_forward(dy, w, None, *targs)
            assert t.shape == x.shape
            assert_close(t, ref.conv_transpose2d(dy, w, None, *targs))
            for got, want in zip(_C.conv_transpose2d_backward(x, dy, w, *targs),
                                 ref.conv_transpose2d_backward(x, dy, w, *targs)):
                assert_close(got, want)
    finally:
        pycnn.set_num_threads(old)


# Stride-1 unpadded convs with a narrow output (W_out <= 32, W <= 1.5 W_out) take the "wide"
# im2col path (one contiguous run per kernel tap, blocks of images side by side, the last block
# short); N * groups below and above the thread count.
WIDE_CASES = [
    dict(N=5, C_in=6, C_out=16, groups=1, H=14, W=14, k=(5, 5), dilation=(1, 1)),  # LeNet C3
    dict(N=3, C_in=4, C_out=6, groups=2, H=9, W=13, k=(3, 2), dilation=(2, 3)),
    dict(N=1, C_in=3, C_out=5, groups=1, H=1, W=7, k=(1, 3), dilation=(1, 1)),     # conv1d-like
    dict(N=2, C_in=2, C_out=3, groups=1, H=6, W=33, k=(2, 2), dilation=(1, 1)),    # W_out 32
]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", WIDE_CASES, ids=lambda c: f"N{c['N']}-g{c['groups']}-{c['H']}x{c['W']}")
def test_wide_im2col_path_matches_reference(c, dtype, threads):
    old = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        x, w, b = _conv_arrays(c, dtype)
        args = ((1, 1), (0, 0), c["dilation"], c["groups"])
        y = _C.conv2d_forward(x, w, b, *args)
        assert_close(y, ref.conv2d(x, w, b, *args), dtype, what="forward")
        dy = randn(*y.shape, dtype=dtype)
        for got, want, what in zip(_C.conv2d_backward(dy, x, w, *args), ref.conv2d_backward(dy, x, w, *args),
                                   ("grad input", "grad weight", "grad bias")):
            assert_close(got, want, dtype, what=what)
        # the transpose with the same weight maps y's shape back to x's (forward = grad input)
        targs = ((1, 1), (0, 0), (0, 0), c["groups"], c["dilation"])
        bt = randn(c["C_in"], dtype=dtype)
        t = _C.conv_transpose2d_forward(dy, w, bt, *targs)
        assert t.shape == x.shape
        assert_close(t, ref.conv_transpose2d(dy, w, bt, *targs), dtype, what="transpose forward")
        dt = randn(*x.shape, dtype=dtype)
        for got, want, what in zip(_C.conv_transpose2d_backward(dt, dy, w, *targs),
                                   ref.conv_transpose2d_backward(dt, dy, w, *targs),
                                   ("transpose grad input", "transpose grad weight", "transpose grad bias")):
            assert_close(got, want, dtype, what=what)
    finally:
        pycnn.set_num_threads(old)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_transpose_backward_with_both_grads_matches_reference(threads):
    """conv_transpose2d's grad input and grad weight share one im2col of dy per image when both
    are wanted and the weight grad is a sum of per-thread partials; each alone takes the
    separate paths.  The result is the same on every call (fixed partial sums per thread)."""
    old = pycnn.get_num_threads()
    pycnn.set_num_threads(threads)
    try:
        for N, C_in, C_out, groups in [(4, 6, 4, 1), (5, 4, 6, 2), (2, 3, 5, 1)]:
            x, w = randn(N, C_in, 5, 6), randn(C_in, C_out // groups, 4, 3)
            targs = ((2, 3), (1, 0), (1, 2), groups, (1, 1))
            dy = randn(*ref.conv_transpose2d(x, w, None, *targs).shape)
            want = ref.conv_transpose2d_backward(dy, x, w, *targs)
            got = _C.conv_transpose2d_backward(dy, x, w, *targs)
            for g, r, what in zip(got, want, ("grad input", "grad weight", "grad bias")):
                assert_close(g, r, what=what)
            again = _C.conv_transpose2d_backward(dy, x, w, *targs)
            assert all(np.array_equal(a, b) for a, b in zip(got, again))
            only_x = _C.conv_transpose2d_backward(dy, x, w, *targs, weight_grad=False, bias_grad=False)
            assert only_x[1] is None
            assert_close(only_x[0], want[0], what="grad input alone")
    finally:
        pycnn.set_num_threads(old)


def test_im2col_scratch_beyond_the_kept_buffer():
    """An im2col buffer over 8 MB (72 x 128*128 doubles) is allocated per call, not kept."""
    x, w, b = randn(1, 8, 128, 128), randn(2, 8, 3, 3), randn(2)
    args = ((1, 1), (1, 1), (1, 1), 1)
    y = _C.conv2d_forward(x, w, b, *args)
    assert_close(y, ref.conv2d(x, w, b, *args), what="forward")
    dy = randn(*y.shape)
    for got, want, what in zip(_C.conv2d_backward(dy, x, w, *args), ref.conv2d_backward(dy, x, w, *args),
                               ("grad input", "grad weight", "grad bias")):
        assert_close(got, want, what=what)


# ----------------------------------------------------------------------------- functional API
def _t(a, grad=True):
    return pycnn.tensor(a, dtype=a.dtype, requires_grad=grad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_conv2d_and_grads(dtype):
    x, w, b = randn(3, 4, 7, 6, dtype=dtype), randn(6, 2, 3, 2, dtype=dtype), randn(6, dtype=dtype)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = F.conv2d(xt, wt, bt, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, ref.conv2d(x, w, b, (2, 1), (1, 1), (1, 2), 2), dtype)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(pycnn.tensor(dy, dtype=dtype))
    for t, r in zip((xt, wt, bt), ref.conv2d_backward(dy, x, w, (2, 1), (1, 1), (1, 2), 2)):
        assert t.grad.dtype == np.dtype(dtype)
        assert_close(t.grad, r, dtype)


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (2, 3), (4, 2)])
def test_same_padding_splits_the_odd_total_to_the_end(k, d):
    """'same' pads d(k-1) in total per dim: floor half at the top/left, the rest bottom/right."""
    x, w, b = randn(2, 3, 7, 6), randn(5, 3, k, k - 1), randn(5)
    y = F.conv2d(_t(x), _t(w), _t(b), padding="same", dilation=d)
    assert y.shape == (2, 5, 7, 6)
    th, tw = d * (k - 1), d * (k - 2)
    assert_close(y, ref.conv2d(x, w, b, (1, 1), (th // 2, th - th // 2, tw // 2, tw - tw // 2), (d, d)))
    assert F.conv2d(_t(x), _t(w), padding="valid", dilation=d).shape == (2, 5, 7 - d * (k - 1), 6 - d * (k - 2))


def test_unbatched_input():
    x, w, b = randn(3, 6, 5), randn(4, 3, 2, 3), randn(4)
    xt = _t(x)
    y = F.conv2d(xt, _t(w), _t(b), padding=1)
    assert y.shape == (4, 7, 5)
    assert_close(y, ref.conv2d(x[None], w, b, (1, 1), (1, 1))[0])
    y.sum().backward()
    assert xt.grad.shape == x.shape
    x1 = randn(3, 9)
    assert_close(F.conv1d(_t(x1), _t(randn(4, 3, 2))).shape, (4, 8))
    assert F.conv_transpose2d(_t(x), _t(randn(3, 2, 2, 2))).shape == (2, 7, 6)


# The 1-D ops on the shared case table: each 2-D case's W axis (symmetric-padding cases).
CONV1D_CASES = [c for c in CONV_CASES if len(c["padding"]) == 2]


def _check_1d(y, xt, wt, bt, dy, expected, rdx, rdw, rdb, dtype):
    assert_close(y, expected, dtype)
    y.backward(pycnn.tensor(dy, dtype=dtype))
    assert_close(xt.grad, rdx[:, :, 0], dtype)
    assert_close(wt.grad, rdw[:, :, 0], dtype)
    assert_close(bt.grad, rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONV1D_CASES, ids=_case_id)
def test_conv1d_on_the_case_table(c, dtype):
    k, s, p, d, g = c["k"][1], c["stride"][1], c["padding"][1], c["dilation"][1], c["groups"]
    x = randn(c["N"], c["C_in"], c["W"], dtype=dtype)
    w, b = randn(c["C_out"], c["C_in"] // g, k, dtype=dtype), randn(c["C_out"], dtype=dtype)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = F.conv1d(xt, wt, bt, s, p, d, g)
    dy = randn(*y.shape, dtype=dtype)
    rdx, rdw, rdb = ref.conv2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], (1, s), (0, p), (1, d), g)
    _check_1d(y, xt, wt, bt, dy, ref.conv1d(x, w, b, s, p, d, g), rdx, rdw, rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", CONV1D_CASES, ids=_case_id)
def test_conv_transpose1d_on_the_case_table(c, dtype):
    k, s, p, d, g = c["k"][1], c["stride"][1], c["padding"][1], c["dilation"][1], c["groups"]
    op = max(s, d) - 1  # the largest output_padding allowed
    L = c["W"]
    if (L - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        L += 2 * p  # padding can crop the whole output of a short input: lengthen it
    x = randn(c["N"], c["C_in"], L, dtype=dtype)
    w, b = randn(c["C_in"], c["C_out"] // g, k, dtype=dtype), randn(c["C_out"], dtype=dtype)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = F.conv_transpose1d(xt, wt, bt, s, p, op, g, d)
    dy = randn(*y.shape, dtype=dtype)
    rdx, rdw, rdb = ref.conv_transpose2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], (1, s), (0, p),
                                                  (0, op), g, (1, d))
    _check_1d(y, xt, wt, bt, dy, ref.conv_transpose1d(x, w, b, s, p, op, g, d), rdx, rdw, rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 3),
                                                            (3, 2, 2, 3), (1, "valid", 1, 1)])
def test_conv1d_matches_reference(dtype, stride, padding, dilation, groups):
    x, w, b = randn(2, 6, 13, dtype=dtype), randn(3 * groups, 6 // groups, 3, dtype=dtype), randn(3 * groups, dtype=dtype)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = F.conv1d(xt, wt, bt, stride, padding, dilation, groups)
    pads = {"same": (dilation, dilation), "valid": (0, 0)}.get(padding, padding)
    args4 = ((1, stride), (0, 0) + ((pads, pads) if np.isscalar(pads) else tuple(pads)), (1, dilation), groups)
    assert_close(y, ref.conv1d(x, w, b, stride, pads, dilation, groups), dtype)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(pycnn.tensor(dy, dtype=dtype))
    rdx, rdw, rdb = ref.conv2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], *args4)
    assert_close(xt.grad, rdx[:, :, 0], dtype)
    assert_close(wt.grad, rdw[:, :, 0], dtype)
    assert_close(bt.grad, rdb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [
    (1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (3, 0, 2, 2, 1), (1, 1, 1, 2, 2), (2, 2, 0, 1, 3)])
def test_conv_transpose1d_matches_reference(dtype, stride, padding, output_padding, groups, dilation):
    x, w, b = randn(3, 4, 7, dtype=dtype), randn(4, 5, 3, dtype=dtype), randn(5 * groups, dtype=dtype)
    xt, wt, bt = _t(x), _t(w), _t(b)
    y = F.conv_transpose1d(xt, wt, bt, stride, padding, output_padding, groups, dilation)
    assert_close(y, ref.conv_transpose1d(x, w, b, stride, padding, output_padding, groups, dilation), dtype)
    dy = randn(*y.shape, dtype=dtype)
    y.backward(pycnn.tensor(dy, dtype=dtype))
    rdx, rdw, rdb = ref.conv_transpose2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], (1, stride),
                                                  (0, padding), (0, output_padding), groups, (1, dilation))
    assert_close(xt.grad, rdx[:, :, 0], dtype)
    assert_close(wt.grad, rdw[:, :, 0], dtype)
    assert_close(bt.grad, rdb, dtype)


def test_only_some_inputs_need_grad():
    x, w = randn(2, 3, 6, 5), randn(4, 3, 3, 3)
    wt = _t(w)
    y = F.conv2d(_t(x, grad=False), wt, None, padding=1)
    dy = randn(*y.shape)
    y.backward(pycnn.tensor(dy, dtype="float64"))
    assert_close(wt.grad, ref.conv2d_backward(dy, x, w, (1, 1), (1, 1))[1])
    with pycnn.no_grad():
        assert F.conv2d(_t(x), wt).grad_fn is None


# ----------------------------------------------------------------------------- gradchecks
GRADCHECKS = [  # name, fn, input shape, weight shape, bias size
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2), (1, 4, 9), (4, 2, 3), 4),
    ("conv1d-same-even", lambda x, w, b: F.conv1d(x, w, b, padding="same"), (2, 2, 5), (3, 2, 4), 3),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
     (2, 4, 5, 6), (2, 2, 3, 2), 2),
    ("conv2d-depthwise-x2", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
     (1, 2, 5, 5), (4, 1, 3, 3), 4),
    ("conv2d-1x1", lambda x, w, b: F.conv2d(x, w, b), (2, 3, 3, 4), (2, 3, 1, 1), 2),
    ("conv2d-same-even", lambda x, w, b: F.conv2d(x, w, b, padding="same"), (1, 2, 4, 5), (2, 2, 2, 4), 2),
    ("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1,
                                                            groups=2, dilation=2), (1, 4, 5), (4, 1, 3), 2),
    ("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 3), padding=1, output_padding=(1, 0),
                                                            dilation=(1, 2)), (2, 2, 3, 3), (2, 3, 3, 2), 3),
    ("conv_transpose2d-depthwise", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=3),
     (1, 3, 3, 2), (3, 1, 2, 2), 3),
]


@pytest.mark.parametrize("name,fn,xs,ws,nb", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, xs, ws, nb):
    x, w = randn(*xs), randn(*ws)
    gradcheck(fn, x, w, randn(nb))
    gradcheck(lambda x, w: fn(x, w, None), x, w)


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("cls,args,kw,wshape", [
    (pycnn.nn.Conv1d, (4, 6, 3), dict(groups=2), (6, 2, 3)),
    (pycnn.nn.Conv2d, (3, 8, (3, 5)), dict(stride=2, padding=1), (8, 3, 3, 5)),
    (pycnn.nn.ConvTranspose1d, (4, 6, 3), dict(groups=2), (4, 3, 3)),
    (pycnn.nn.ConvTranspose2d, (6, 4, 2), dict(stride=2, groups=2), (6, 2, 2, 2)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_module_parameters(cls, args, kw, wshape, bias):
    m = cls(*args, bias=bias, **kw)
    sd = m.state_dict()
    assert list(sd) == (["weight", "bias"] if bias else ["weight"])
    assert sd["weight"].shape == wshape and sd["weight"].dtype == np.float32
    in_c, out_c, groups = args[0], args[1], kw.get("groups", 1)
    K = int(np.prod(wshape[2:]))
    assert m.num_parameters() == out_c * (in_c // groups * K + (1 if bias else 0))
    # kaiming_uniform(a=sqrt(5)) and the bias both have bound 1/sqrt(fan_in), fan_in = w.shape[1]*K
    bound = 1 / math.sqrt(wshape[1] * K)
    w = sd["weight"]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound and np.unique(w).size == w.size
    if bias:
        assert sd["bias"].shape == (out_c,) and np.abs(sd["bias"]).max() <= bound
    x = pycnn.randn(2, in_c, *([6] * (len(wshape) - 2)))
    y = m(x)
    fn = {pycnn.nn.Conv1d: F.conv1d, pycnn.nn.Conv2d: F.conv2d,
          pycnn.nn.ConvTranspose1d: F.conv_transpose1d, pycnn.nn.ConvTranspose2d: F.conv_transpose2d}[cls]
    if m.transposed:
        want = fn(x, m.weight, m.bias, m.stride, m.padding, m.output_padding, m.groups, m.dilation)
    else:
        want = fn(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups)
    np.testing.assert_array_equal(y.detach().numpy(), want.detach().numpy())
    m.load_state_dict(sd)
    y.sum().backward()
    assert m.weight.grad.shape == wshape


def test_module_dtype_and_repr():
    m = pycnn.nn.Conv2d(2, 4, 3, padding="same", dilation=2, bias=False, dtype="float64")
    assert m.weight.dtype == np.float64
    assert repr(m) == "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(2, 2), bias=False)"
    t = pycnn.nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2)
    assert repr(t) == "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), groups=2)"
    r = pycnn.nn.Conv1d(2, 2, 4, padding="same", padding_mode="reflect")
    assert r._reversed_padding_repeated_twice == (1, 2)
    assert "padding_mode=reflect" in repr(r)


def test_conv_transpose_output_size():
    m = pycnn.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = pycnn.randn(1, 3, 5, 5)
    assert m(x).shape == (1, 2, 9, 9)
    for size in [(9, 10), (10, 9), [1, 2, 10, 10]]:
        y = m(x, output_size=size)
        assert y.shape[2:] == tuple(size[-2:])
        op = tuple(s - 9 for s in size[-2:])
        np.testing.assert_allclose(y.detach().numpy(), ref.conv_transpose2d(
            x.numpy(), m.weight.detach().numpy(), m.bias.detach().numpy(), (2, 2), (1, 1), op), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="ConvTranspose2d.*output size"):
        m(x, output_size=(11, 9))
    m1 = pycnn.nn.ConvTranspose1d(3, 2, 3, stride=3)
    assert m1(pycnn.randn(2, 3, 4), output_size=[12]).shape == (2, 2, 12)


# ----------------------------------------------------------------------------- bad input
def _bad_cases():
    x, w = pycnn.randn(2, 4, 6, 6), pycnn.randn(6, 2, 3, 3)
    xi = pycnn.tensor(np.ones((2, 4, 6, 6), dtype=np.int64))
    wt = pycnn.randn(4, 3, 3, 3)  # transposed layout (C_in, C_out/groups, kH, kW)
    return [
        ("ndim", lambda: F.conv2d(pycnn.randn(4, 6), w), ValueError, "conv2d: input must be 4-D"),
        ("weight ndim", lambda: F.conv2d(x, pycnn.randn(6, 4, 3)), ValueError, "conv2d: weight must be 4-D"),
        ("channels", lambda: F.conv2d(x, w), ValueError, r"conv2d: weight \(6, 2, 3, 3\).*input \(2, 4, 6, 6\)"),
        ("groups divide", lambda: F.conv2d(x, pycnn.randn(6, 2, 3, 3), groups=3), ValueError,
         "conv2d: groups=3 must divide"),
        ("groups zero", lambda: F.conv2d(x, w, groups=0), ValueError, "conv2d: groups must be positive"),
        ("kernel too big", lambda: F.conv2d(x, pycnn.randn(6, 4, 7, 3)), ValueError, "conv2d: the .*kernel.*larger"),
        ("dilated too big", lambda: F.conv2d(x, pycnn.randn(6, 4, 3, 3), dilation=3), ValueError, "conv2d:.*output size"),
        ("stride", lambda: F.conv2d(x, w, stride=0, groups=2), ValueError, "conv2d: stride must be positive"),
        ("dilation", lambda: F.conv2d(x, w, dilation=(1, -1), groups=2), ValueError, "conv2d: dilation must be positive"),
        ("negative padding", lambda: F.conv2d(x, w, padding=-1, groups=2), ValueError,
         "conv2d: padding must be non-negative"),
        ("padding string", lambda: F.conv2d(x, w, padding="full", groups=2), ValueError, "conv2d: padding must be"),
        ("same strided", lambda: F.conv2d(x, w, stride=2, padding="same", groups=2), ValueError,
         "conv2d: padding='same' is not supported for strided"),
        ("int input", lambda: F.conv2d(xi, w, groups=2), TypeError, "conv2d: expected a floating point tensor"),
        ("dtype mix", lambda: F.conv2d(x.double(), w, groups=2), TypeError, "conv2d: dtypes differ"),
        ("bias shape", lambda: F.conv2d(x, w, pycnn.randn(4), groups=2), ValueError, r"conv2d: bias must have shape \(6,\)"),
        ("conv1d ndim", lambda: F.conv1d(x, pycnn.randn(6, 4, 3)), ValueError, "conv1d: input must be 3-D"),
        ("conv1d groups", lambda: F.conv1d(pycnn.randn(2, 4, 9), pycnn.randn(5, 2, 3), groups=2), ValueError,
         "conv1d: groups=2 must divide"),
        ("transposed layout", lambda: F.conv_transpose2d(x, pycnn.randn(6, 4, 3, 3)), ValueError,
         r"conv_transpose2d: weight \(6, 4, 3, 3\) must be laid out \(C_in, C_out/groups"),
        ("output_padding", lambda: F.conv_transpose2d(x, wt, stride=2, output_padding=2), ValueError,
         "conv_transpose2d: output_padding .* smaller than either the stride"),
        ("output_padding dilation", lambda: F.conv_transpose2d(x, wt, output_padding=1), ValueError,
         "conv_transpose2d: output_padding"),
        ("transposed groups", lambda: F.conv_transpose2d(x, wt, groups=3), ValueError,
         "conv_transpose2d: groups=3 must divide"),
        ("transposed size", lambda: F.conv_transpose2d(pycnn.randn(1, 4, 1, 1), wt, padding=2), ValueError,
         "conv_transpose2d: output size <= 0"),
        ("transposed same", lambda: F.conv_transpose2d(x, wt, padding="same"), ValueError,
         "conv_transpose2d: padding must be"),
        ("transposed bias", lambda: F.conv_transpose2d(x, wt, pycnn.randn(4)), ValueError,
         r"conv_transpose2d: bias must have shape \(3,\)"),
        ("transposed int", lambda: F.conv_transpose1d(pycnn.tensor(np.ones((1, 4, 3), np.int64)), pycnn.randn(4, 3, 3)),
         TypeError, "conv_transpose1d: expected a floating point"),
        ("transposed1d ndim", lambda: F.conv_transpose1d(x, pycnn.randn(4, 3, 3)), ValueError,
         "conv_transpose1d: input must be 3-D"),
        ("stride tuple length", lambda: F.conv2d(x, w, stride=(1, 1, 1), groups=2), ValueError,
         "conv2d: stride must have 2 values"),
        ("not a tensor", lambda: F.conv2d(np.ones((1, 4, 6, 6)), w), TypeError, "conv2d: input must be a Tensor"),
        ("module groups", lambda: pycnn.nn.Conv2d(4, 6, 3, groups=4), ValueError, "Conv2d: out_channels=6 must be divisible"),
        ("module in groups", lambda: pycnn.nn.Conv1d(3, 6, 3, groups=2), ValueError, "Conv1d: in_channels=3 must be divisible"),
        ("module padding_mode", lambda: pycnn.nn.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError,
         "Conv2d: padding_mode must be one of"),
        ("module transposed mode", lambda: pycnn.nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"), ValueError,
         'ConvTranspose2d: only "zeros" padding mode'),
        ("module same strided", lambda: pycnn.nn.Conv2d(4, 6, 3, stride=2, padding="same"), ValueError,
         "Conv2d: padding='same' is not supported"),
    ]


BAD = _bad_cases()


@pytest.mark.parametrize("name,fn,exc,pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_input(name, fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_native_bad_input():
    """The bindings validate too (ValueError/TypeError naming the op), for callers that skip F."""
    x, w = randn(2, 4, 6, 6), randn(6, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: weight \(6, 2, 3, 3\) expects 2 input channels"):
        _C.conv2d_forward(x, w, None, (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="conv2d: groups=4 must divide"):
        _C.conv2d_forward(x, randn(6, 1, 3, 3), None, (1, 1), (0, 0), (1, 1), 4)
    with pytest.raises(ValueError, match="conv2d: the .*kernel 9x3 is larger than the padded input 6x6"):
        _C.conv2d_forward(x, w, None, (1, 1), (0, 0), (4, 1), 2)
    with pytest.raises(ValueError, match="conv2d: stride must be positive"):
        _C.conv2d_forward(x, w, None, (0, 1), (0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match="conv2d: input must be 4-D"):
        _C.conv2d_forward(x[0], w, None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(6,\)"):
        _C.conv2d_forward(x, w, randn(5), (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match=r"conv2d: grad_output \(2, 6, 3, 3\) does not match"):
        _C.conv2d_backward(randn(2, 6, 3, 3), x, w, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(TypeError, match="conv2d: input must be float32 or float64"):
        _C.conv2d_forward(x.astype(np.int64), w.astype(np.int64), None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(TypeError, match="conv2d: weight dtype float32 differs"):
        _C.conv2d_forward(x, w.astype(np.float32), None, (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding"):
        _C.conv_transpose2d_forward(x, randn(4, 3, 3, 3), None, (2, 2), (0, 0), (2, 0), 1, (1, 1))
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight \(6, 3, 3, 3\) must be laid out"):
        _C.conv_transpose2d_forward(x, randn(6, 3, 3, 3), None, (1, 1), (0, 0), (0, 0), 1, (1, 1))


# ----------------------------------------------------------------------------- torch (optional)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(7)
    configs = [
        (F.conv2d, tf.conv2d, (2, 4, 9, 8), (6, 2, 4, 3), 6, dict(padding="same", dilation=(2, 1), groups=2)),
        (F.conv2d, tf.conv2d, (3, 4, 8, 7), (8, 1, 3, 3), 8, dict(stride=(2, 3), padding=(1, 2), groups=4)),
        (F.conv1d, tf.conv1d, (2, 3, 11), (6, 3, 4), 6, dict(padding="same", dilation=3)),
        (F.conv_transpose2d, tf.conv_transpose2d, (2, 4, 5, 6), (4, 3, 3, 2), 6,
         dict(stride=(2, 3), padding=1, output_padding=(1, 0), groups=2, dilation=(1, 2))),
        (F.conv_transpose1d, tf.conv_transpose1d, (2, 4, 5), (4, 3, 3), 3, dict(stride=2, padding=1, output_padding=1)),
    ]
    for ours, theirs, xs, ws, nb, kw in configs:
        arrays = [rng.standard_normal(s) for s in (xs, ws, (nb,))]
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        ps = [pycnn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
        yt, yp = theirs(*ts, **kw), ours(*ps, **kw)
        np.testing.assert_allclose(yp.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        g = rng.standard_normal(yt.shape)
        (yt * torch.tensor(g)).sum().backward()
        (yp * pycnn.tensor(g, dtype="float64")).sum().backward()
        for t, p in zip(ts, ps):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)
