"""Property tests (issue 11): hypothesis draws shapes and valid arguments for every op family --
conv1d/2d and conv_transpose1d/2d (stride, padding in every form, dilation, groups, depthwise
with and without a depth multiplier), max/avg/adaptive pools and max_unpool (1-D and 2-D,
ceil_mode, ties), interpolate (nearest, nearest-exact, linear, bilinear, align_corners, size or
scale_factor, recompute_scale_factor), pad (constant, reflect, replicate, circular), batch /
instance / group / layer / pixel norm (training and eval, running statistics, affine or not),
relu / sigmoid / tanh / softmax / log_softmax / cross_entropy -- and checks the forward and the
backward (the gradient of sum(y * dy) for a random dy, into whichever inputs require a grad)
against the float64 numpy reference of tests/reference/, in float32 and float64.

Every property runs on every test backend (backends.py: the CPU kernels, the plain-loop spec, the
CUDA device or its emulation), the CPU kernels at every SIMD level this CPU runs and on 1 and 2
threads.  Shapes come from the shared awkward sizes: (n, c) plane counts from 1 to 42 (primes,
>= 6), spatial sizes 1, 2, primes, 8/9 and 12, 1-D lengths up to 33 (tile + 1).

Tolerance: a value passes when |got - want| <= atol * max(1, scale) + rtol * |want| (the shared
TOLERANCE).  For the linear ops (conv, avg pools, interpolate, pad, unpool and their backwards)
`scale` is the reference applied to the absolute values of its arguments -- the sum of |terms| of
each output, which bounds any summation order's rounding error; for the norms it is the size of
the terms that cancel (as in test_norm.py); for softmax and the losses the largest |input|.

The example budget is fixed (derandomized: the examples are a function of the property, the
backend configuration and this file), EXAMPLES per configuration, scaled by the environment
variable PYCNN_PROPERTY_SCALE (e.g. 20 for a long search; PYCNN_PROPERTY_SEED=<any> draws other
examples).  Each example draws a numpy seed for
its data, so a falsifying example printed by hypothesis is a complete reproducer.
"""
import contextlib
import math
import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import pycnn
import pycnn.functional as F
from backends import BACKENDS
from cases import DTYPES, TOLERANCE
from helpers import check, cpu_simd_levels, num_threads, simd
from reference import conv as rconv
from reference import core as rcore
from reference import norm as rnorm
from reference import pad as rpad
from reference import pool as rpool
from reference import upsample as rup

# examples per (property, configuration); the emulated CUDA device runs each kernel thread as a
# fiber, so it gets fewer
EXAMPLES = {"cpu": 16, "reference": 16, "cuda": 8}
SCALE = float(os.environ.get("PYCNN_PROPERTY_SCALE", "1"))
SEARCH = os.environ.get("PYCNN_PROPERTY_SEED", "")   # another value draws other examples
THREADS = (1, 2)

BATCH = (1, 2, 3, 7)
CHANNELS = (1, 2, 3, 5, 6)
SIZES = (1, 2, 3, 5, 7, 8, 9, 11, 12)        # 2-D heights
WIDTHS = SIZES + (17,)                       # 2-D widths: tile + 1 (8 outputs of a 2x2 stride-2 pool)
LENGTHS = SIZES + (17, 33)                   # 1-D lengths: tile + 1


# ----------------------------------------------------------------------------- configurations
class Config:
    """A backend, and for the CPU kernels a SIMD level and a thread count."""

    def __init__(self, backend, level=None, threads=None):
        self.backend, self.level, self.threads = backend, level, threads
        self.name = backend.name + ("" if level is None else f"-{level}-{threads}t")
        self.examples = max(1, round(EXAMPLES.get(backend.name, EXAMPLES["cuda"]) * SCALE))
        # cases past the CPU kernels' OpenMP thresholds (draw_planes): not on the emulated device,
        # too slow there
        self.big = backend.device == "cpu"

    def __repr__(self):
        return self.name

    @contextlib.contextmanager
    def active(self):
        with contextlib.ExitStack() as stack:
            b = stack.enter_context(self.backend.active())
            if self.level is not None:
                stack.enter_context(simd(self.level))
                stack.enter_context(num_threads(self.threads))
            yield b


def _configs():
    out = []
    for b in BACKENDS:
        if b.name == "cpu":
            out += [Config(b, level, t) for level in cpu_simd_levels() for t in THREADS]
        else:
            out.append(Config(b))
    return out


CONFIGS = _configs()


@pytest.fixture(params=CONFIGS, ids=repr)
def config(request):
    return request.param


def run_property(config, name, cases, checker):
    """Runs checker(backend, case, dtype) on config.examples drawn (case, dtype) pairs."""
    @seed(zlib.crc32(f"{name}/{config.name}/{SEARCH}".encode()))
    @settings(max_examples=config.examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(case=cases, dtype=st.sampled_from(DTYPES))
    def prop(case, dtype):
        with config.active() as backend:
            checker(backend, case, dtype)

    prop()


# ----------------------------------------------------------------------------- checks
def normal(rng, shape, dtype, loc=0.0, scale=1.0):
    return (loc + scale * rng.standard_normal(shape)).astype(dtype)


def absolute(arrays):
    return [None if a is None else np.abs(np.asarray(a, np.float64)) for a in arrays]


def run_op(B, fn, arrays, wants, rng, dtype):
    """y = fn(*tensors) on backend B, then y.backward(dy) for a random dy: (y, dy, grads), the
    grad of each array that `wants` one (None for the others, which must get none); the first
    array wants one when no given array does."""
    wants = list(wants)
    if not any(w and a is not None for a, w in zip(arrays, wants)):
        wants[0] = True
    tensors = [None if a is None else B.tensor(a, requires_grad=bool(w)) for a, w in zip(arrays, wants)]
    y = fn(*tensors)
    dy = normal(rng, y.shape, dtype)
    y.backward(B.tensor(np.asarray(dy)))
    grads = []
    for t, w in zip(tensors, wants):
        if t is None:
            grads.append(None)
        elif w:
            assert t.grad is not None, "a wanted gradient was not computed"
            grads.append(t.grad)
        else:
            assert t.grad is None, "a gradient nobody asked for was computed"
            grads.append(None)
    return y, dy, grads


def check_linear(B, dtype, what, fn, arrays, wants, ref_fwd, ref_bwd, rng, fwd_scale=None):
    """An op linear in each argument: forward ref_fwd(*arrays) and backward ref_bwd(dy, *arrays)
    (one grad per array), each with the scale of the same reference on absolute values (forward:
    fwd_scale on them, when the op has a constant of its own)."""
    y, dy, grads = run_op(B, fn, arrays, wants, rng, dtype)
    check(y, ref_fwd(*arrays), dtype, (fwd_scale or ref_fwd)(*absolute(arrays)), what=f"{what}: forward")
    want, scale = ref_bwd(dy, *arrays), ref_bwd(np.abs(dy.astype(np.float64)), *absolute(arrays))
    for i, g in enumerate(grads):
        if g is not None:
            check(g, want[i], dtype, scale[i], what=f"{what}: grad of argument {i}")


def valid_sizes(sizes, ok):
    return [L for L in sizes if ok(L)]


PARALLEL = (1 << 15) + 1   # elements: above the CPU kernels' OpenMP thresholds (pools 2^14, norms 2^15)


def draw_planes(draw, big, per_plane, multiple=1):
    """(N, C) from BATCH x CHANNELS or, where `big` is allowed, a quarter of the time with so many
    channels (a multiple of `multiple`) that N * C * per_plane passes the OpenMP thresholds, so
    that the work is split between the threads."""
    N = draw(st.sampled_from(BATCH))
    if big and draw(st.integers(0, 3)) == 0:
        C = -(-PARALLEL // (N * per_plane)) + draw(st.integers(0, 2))
        return N, -(-C // multiple) * multiple
    return N, draw(st.sampled_from(CHANNELS))


def dim_sizes(spatial, axis):
    """The sizes drawn for spatial axis `axis` of a 1-D or 2-D op."""
    return LENGTHS if spatial == 1 else WIDTHS if axis == 1 else SIZES


def grads_wanted(draw, n):
    """All n arguments, or just one of them (the kernels skip the grads nobody asked for)."""
    which = draw(st.sampled_from(("all",) + tuple(range(n))))
    return tuple(True for _ in range(n)) if which == "all" else tuple(i == which for i in range(n))


SEEDS = st.integers(0, 2 ** 32 - 1)


# ----------------------------------------------------------------------------- conv
@st.composite
def conv_layouts(draw):
    """(groups, C_in / groups, C_out / groups): dense, grouped, depthwise (x1 and x2)."""
    layout = draw(st.sampled_from(("dense", "grouped", "depthwise", "depthwise_x2")))
    if layout == "dense":
        return 1, draw(st.sampled_from(CHANNELS)), draw(st.sampled_from(CHANNELS))
    if layout == "grouped":
        return draw(st.sampled_from((2, 3))), draw(st.sampled_from((1, 2))), draw(st.sampled_from((1, 2, 3)))
    return draw(st.sampled_from((2, 3, 5, 6))), 1, 2 if layout == "depthwise_x2" else 1


@st.composite
def conv_cases(draw, spatial):
    g, cg, og = draw(conv_layouts())
    dims = []
    # half the cases anywhere, the others steered to the CPU kernels' pointwise (1x1 stride 1
    # unpadded), unit-stride unpadded ("wide" im2col) and (2-D) Winograd (3x3 stride 1, >= 16
    # channels per group, output >= 4 x 4) paths
    kinds = ("any", "any", "pointwise", "unit stride") + (("winograd",) if spatial == 2 else ())
    kind = draw(st.sampled_from(kinds))
    if kind == "winograd":
        g, cg, og = draw(st.sampled_from((1, 1, 2))), draw(st.sampled_from((16, 17))), draw(st.sampled_from((16, 19)))
    form = (draw(st.sampled_from(("int", "tuple", "same", "valid"))) if kind in ("any", "winograd")
            else "valid")
    for _ in range(spatial):
        k, d = ((1, 1) if kind == "pointwise" else (3, 1) if kind == "winograd"
                else (draw(st.integers(1, 4)), draw(st.integers(1, 3))))
        s = 1 if form == "same" or kind != "any" else draw(st.integers(1, 4))
        if form == "same":
            tot = d * (k - 1)
            pb, pe = tot // 2, tot - tot // 2
        elif form == "valid":
            pb = pe = 0
        else:
            pb = pe = draw(st.integers(0, 3))
        dims.append(dict(k=k, s=s, d=d, pb=pb, pe=pe))
    if form == "int":  # one padding for every dim
        for dm in dims:
            dm["pb"] = dm["pe"] = dims[0]["pb"]
    for a, dm in enumerate(dims):
        need = dm["d"] * (dm["k"] - 1) + 1 - dm["pb"] - dm["pe"]
        if kind == "winograd":  # an input and an output of at least 4
            need = max(4, need + 3)
        dm["L"] = draw(st.sampled_from(valid_sizes(dim_sizes(spatial, a), lambda L: L >= need) or [need]))
    padding = {"int": dims[0]["pb"], "tuple": tuple(dm["pb"] for dm in dims), "same": "same",
               "valid": "valid"}[form]
    return dict(N=draw(st.sampled_from(BATCH)), groups=g, C_in=g * cg, C_out=g * og,
                size=tuple(dm["L"] for dm in dims), k=tuple(dm["k"] for dm in dims),
                stride=tuple(dm["s"] for dm in dims), dilation=tuple(dm["d"] for dm in dims), padding=padding,
                pads=tuple((dm["pb"], dm["pe"]) for dm in dims), bias=draw(st.booleans()),
                batched=draw(st.sampled_from((True, True, True, False))), wants=grads_wanted(draw, 3),
                seed=draw(SEEDS))


def _lift(c):
    """The 2-D reference arguments of a 1-D or 2-D case: (stride, dilation, extra H axis?)."""
    if len(c["k"]) == 1:
        return (1,) + c["stride"], (1,) + c["dilation"], True
    return c["stride"], c["dilation"], False


def _call(c, fn):
    """fn(x, ...) with x of shape (N, ...), on a batched or (N = 1) unbatched input: x[0] goes in,
    each output gets its batch dim of 1 back."""
    if c["batched"]:
        return fn

    def unbatched(x, *rest):
        out = fn(x.reshape(x.shape[1:]), *rest)
        if isinstance(out, tuple):
            return tuple(o.reshape((1,) + o.shape) for o in out)
        return out.reshape((1,) + out.shape)
    return unbatched


def _check_conv_like(B, c, dtype, w_lead, ref, ref_backward, ref_args, op, kwargs):
    """A conv or transposed conv case against its 2-D reference: x (N, C_in, *size), w (*w_lead, *k) and
    the bias drawn in that order from the case's seed; a 1-D case runs the reference with a unit H axis
    (ref_args are already lifted) and op(x, w, b, **kwargs) is the pycnn call."""
    rng = np.random.default_rng(c["seed"])
    N = c["N"] if c["batched"] else 1
    x = normal(rng, (N, c["C_in"]) + c["size"], dtype)
    w = normal(rng, w_lead + c["k"], dtype)
    b = normal(rng, c["C_out"], dtype) if c["bias"] else None
    lift = len(c["k"]) == 1
    up = (lambda a: a[:, :, None]) if lift else (lambda a: a)
    down = (lambda a: a[:, :, 0]) if lift else (lambda a: a)

    def fwd(x, w, b):
        return down(ref(up(x), up(w), b, *ref_args))

    def bwd(dy, x, w, b):
        dx, dw, db = ref_backward(up(dy), up(x), up(w), *ref_args)
        return down(dx), down(dw), db

    fn = _call(c, lambda x, w, b: op(x, w, b, **kwargs))
    check_linear(B, dtype, f"{op.__name__} {c}", fn, [x, w, b], c["wants"], fwd, bwd, rng)


def check_conv(B, c, dtype):
    g = c["groups"]
    stride, dilation, lift = _lift(c)
    pads = ((0, 0),) * lift + c["pads"]
    pads4 = (pads[0][0], pads[0][1], pads[1][0], pads[1][1])
    _check_conv_like(B, c, dtype, (c["C_out"], c["C_in"] // g), rconv.conv2d, rconv.conv2d_backward,
                     (stride, pads4, dilation, g), F.conv1d if lift else F.conv2d,
                     dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=g))


@st.composite
def conv_transpose_cases(draw, spatial):
    g, cg, og = draw(conv_layouts())
    dims = []
    for a in range(spatial):
        sizes = dim_sizes(spatial, a)
        k, d, s = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
        p = draw(st.integers(0, 3))
        op = draw(st.integers(0, max(s, d) - 1))

        def out(L, k=k, d=d, s=s, p=p, op=op):
            return (L - 1) * s - 2 * p + d * (k - 1) + op + 1
        ok = valid_sizes(sizes, lambda L: out(L) >= 1)
        if not ok:   # padding crops the whole canvas of every size: less padding
            p = 0
            ok = list(sizes)
        dims.append(dict(k=k, s=s, d=d, p=p, op=op, L=draw(st.sampled_from(ok))))
    return dict(N=draw(st.sampled_from(BATCH)), groups=g, C_in=g * cg, C_out=g * og,
                size=tuple(dm["L"] for dm in dims), k=tuple(dm["k"] for dm in dims),
                stride=tuple(dm["s"] for dm in dims), dilation=tuple(dm["d"] for dm in dims),
                padding=tuple(dm["p"] for dm in dims), output_padding=tuple(dm["op"] for dm in dims),
                bias=draw(st.booleans()), batched=draw(st.sampled_from((True, True, True, False))),
                wants=grads_wanted(draw, 3), seed=draw(SEEDS))


def check_conv_transpose(B, c, dtype):
    g = c["groups"]
    lift = len(c["k"]) == 1
    one = (lambda v, fill: (fill,) + v) if lift else (lambda v, fill: v)
    args = (one(c["stride"], 1), one(c["padding"], 0), one(c["output_padding"], 0), g, one(c["dilation"], 1))
    _check_conv_like(B, c, dtype, (c["C_in"], c["C_out"] // g), rconv.conv_transpose2d,
                     rconv.conv_transpose2d_backward, args, F.conv_transpose1d if lift else F.conv_transpose2d,
                     dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"], groups=g,
                          dilation=c["dilation"]))


def test_conv1d(config):
    run_property(config, "conv1d", conv_cases(1), check_conv)


def test_conv2d(config):
    run_property(config, "conv2d", conv_cases(2), check_conv)


def test_conv_transpose1d(config):
    run_property(config, "conv_transpose1d", conv_transpose_cases(1), check_conv_transpose)


def test_conv_transpose2d(config):
    run_property(config, "conv_transpose2d", conv_transpose_cases(2), check_conv_transpose)


# ----------------------------------------------------------------------------- pools
def _pool_data(rng, shape, dtype, ties):
    """Normal values, or (ties) small integers, so that windows hold several maxima."""
    if ties:
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return normal(rng, shape, dtype)


def _max_windows_ok(L, k, s, p, d, ceil):
    """A positive output whose every window has an input tap (else pycnn raises)."""
    out = rpool.out_size(L, k, s, p, d, ceil)
    return out >= 1 and all(any(0 <= o * s - p + i * d < L for i in range(k)) for o in range(out))


# the CPU max pool's compile-time windows: (kernel, column stride), column dilation 1
FIXED_WINDOWS = ((2, 2), (3, 2), (3, 1))


@st.composite
def window_dims(draw, spatial, dilated, max_pool, ceil):
    """Per dim (k, s, p, d, L): padding at most half the kernel, a valid output; a 2-D max pool
    takes one of the fixed windows half the time (any row stride, padding and row dilation)."""
    dims = []
    fixed = draw(st.sampled_from(FIXED_WINDOWS)) if max_pool and spatial == 2 and draw(st.booleans()) else None
    for a in range(spatial):
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        p, d = draw(st.integers(0, k // 2)), draw(st.integers(1, 3)) if dilated else 1
        if fixed:
            k = fixed[0]
            p = min(p, k // 2)
            if a == 1:
                s, d = fixed[1], 1
        sizes = dim_sizes(spatial, a)
        ok = valid_sizes(sizes, lambda L: _max_windows_ok(L, k, s, p, d, ceil) if max_pool
                         else rpool.out_size(L, k, s, p, 1, ceil) >= 1)
        if not ok:
            d, ok = 1, [L for L in sizes if L >= k]
        dims.append((k, s, p, d, draw(st.sampled_from(ok))))
    return dims


@st.composite
def pool_cases(draw, spatial, kind, big):
    ceil = draw(st.booleans())
    dims = draw(window_dims(spatial, kind == "max", kind == "max", ceil))
    k, s, p, d, size = (tuple(v) for v in zip(*dims))
    N, C = draw_planes(draw, big, math.prod(size))
    c = dict(N=N, C=C, size=size, k=k,
             stride=None if (s == k and draw(st.booleans())) else s, padding=p, ceil_mode=ceil,
             batched=draw(st.sampled_from((True, True, True, False))), seed=draw(SEEDS))
    if kind == "max":
        c.update(dilation=d, ties=draw(st.booleans()), return_indices=draw(st.booleans()))
    else:
        c.update(count_include_pad=draw(st.booleans()),
                 divisor_override=draw(st.sampled_from((None, None, 1, 2, 5))) if spatial == 2 else None)
    return c


def _as2d(c):
    """A 1-D or 2-D case's reference view: (up, down, to_pair)."""
    if len(c["size"]) == 1:
        return (lambda a: a[:, :, None]), (lambda a: a[:, :, 0]), (lambda v, fill: (fill,) + tuple(v))
    return (lambda a: a), (lambda a: a), (lambda v, fill: tuple(v))


def check_max_pool(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    N = c["N"] if c["batched"] else 1
    x = _pool_data(rng, (N, c["C"]) + c["size"], dtype, c["ties"])
    up, down, pair = _as2d(c)
    op = F.max_pool1d if len(c["size"]) == 1 else F.max_pool2d
    stride = c["k"] if c["stride"] is None else c["stride"]
    ry, ridx = rpool.max_pool2d(up(x), pair(c["k"], 1), pair(stride, 1), pair(c["padding"], 0),
                                pair(c["dilation"], 1), c["ceil_mode"])
    xt = B.tensor(x, requires_grad=True)
    out = _call(c, lambda t: op(t, c["k"], c["stride"], c["padding"], c["dilation"], c["ceil_mode"],
                                return_indices=c["return_indices"]))(xt)
    y = out[0] if c["return_indices"] else out
    if c["return_indices"]:
        assert str(out[1].dtype) == "int64"
        np.testing.assert_array_equal(B.numpy(out[1]), down(ridx), err_msg=f"max_pool indices {c} {dtype}")
    check(y, down(ry), dtype, what=f"max_pool forward {c}")
    dy = normal(rng, y.shape, dtype)
    y.backward(B.tensor(dy))
    want = rpool.scatter_add(up(dy), ridx, up(x).shape)
    scale = rpool.scatter_add(np.abs(up(dy).astype(np.float64)), ridx, up(x).shape)
    check(xt.grad, down(want), dtype, down(scale), what=f"max_pool backward {c}")


def check_avg_pool(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    N = c["N"] if c["batched"] else 1
    x = normal(rng, (N, c["C"]) + c["size"], dtype)
    up, down, pair = _as2d(c)
    stride = c["k"] if c["stride"] is None else c["stride"]
    args = (pair(c["k"], 1), pair(stride, 1), pair(c["padding"], 0), c["ceil_mode"], c["count_include_pad"],
            c["divisor_override"])
    if len(c["size"]) == 1:
        fn = _call(c, lambda t: F.avg_pool1d(t, c["k"], c["stride"], c["padding"], c["ceil_mode"],
                                             c["count_include_pad"]))
    else:
        fn = _call(c, lambda t: F.avg_pool2d(t, c["k"], c["stride"], c["padding"], c["ceil_mode"],
                                             c["count_include_pad"], c["divisor_override"]))
    check_linear(B, dtype, f"avg_pool {c}", fn, [x], (True,),
                 lambda x: down(rpool.avg_pool2d(up(x), *args)),
                 lambda dy, x: (down(rpool.avg_pool2d_backward(up(dy), up(x).shape, *args)),), rng)


@st.composite
def adaptive_cases(draw, spatial, big):
    size = tuple(draw(st.sampled_from(dim_sizes(spatial, a))) for a in range(spatial))
    out = tuple(draw(st.integers(1, L + 4)) for L in size)
    given_out = out[0] if spatial == 1 and draw(st.booleans()) else out
    if spatial == 2 and draw(st.integers(0, 3)) == 0:  # None keeps the input size
        given_out, out = (None, out[1]), (size[0], out[1])
    N, C = draw_planes(draw, big, math.prod(size))
    return dict(N=N, C=C, size=size, out=out, output_size=given_out, batched=draw(st.sampled_from((True, True, True, False))),
                ties=draw(st.booleans()), seed=draw(SEEDS))


def check_adaptive(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    N = c["N"] if c["batched"] else 1
    up, down, pair = _as2d(c)
    one = len(c["size"]) == 1
    out2 = pair(c["out"], 1)
    x = normal(rng, (N, c["C"]) + c["size"], dtype)
    avg = F.adaptive_avg_pool1d if one else F.adaptive_avg_pool2d
    check_linear(B, dtype, f"adaptive_avg_pool {c}", _call(c, lambda t: avg(t, c["output_size"])), [x], (True,),
                 lambda x: down(rpool.adaptive_avg_pool2d(up(x), out2)),
                 lambda dy, x: (down(rpool.adaptive_avg_pool2d_backward(up(dy), up(x).shape)),), rng)

    x = _pool_data(rng, x.shape, dtype, c["ties"])
    mx = F.adaptive_max_pool1d if one else F.adaptive_max_pool2d
    ry, ridx = rpool.adaptive_max_pool2d(up(x), out2)
    xt = B.tensor(x, requires_grad=True)
    y, idx = _call(c, lambda t: mx(t, c["output_size"], return_indices=True))(xt)
    check(y, down(ry), dtype, what=f"adaptive_max_pool forward {c}")
    np.testing.assert_array_equal(B.numpy(idx), down(ridx), err_msg=f"adaptive_max_pool indices {c} {dtype}")
    dy = normal(rng, y.shape, dtype)
    y.backward(B.tensor(dy))
    scale = rpool.scatter_add(np.abs(up(dy).astype(np.float64)), ridx, up(x).shape)
    check(xt.grad, down(rpool.scatter_add(up(dy), ridx, up(x).shape)), dtype, down(scale),
          what=f"adaptive_max_pool backward {c}")


@st.composite
def unpool_cases(draw, spatial, big):
    dims = draw(window_dims(spatial, False, True, False))
    k, s, p, _, size = (tuple(v) for v in zip(*dims))
    pooled = tuple(rpool.out_size(L, kk, ss, pp, 1, False) for L, kk, ss, pp in zip(size, k, s, p))
    default = tuple((L - 1) * ss - 2 * pp + kk for L, kk, ss, pp in zip(pooled, k, s, p))
    how = draw(st.sampled_from(("pool", "pool", "random")))
    if how == "pool":   # max_pool's own indices, unpooled back to the input's size
        out = size
    else:               # distinct random positions anywhere in an output size torch allows
        out = tuple(draw(st.integers(max(1, dl - ss + 1), dl + ss - 1)) for dl, ss in zip(default, s))
        if math.prod(out) < math.prod(pooled):
            how, out = "pool", size
    form = draw(st.sampled_from(("spatial", "full", "none"))) if out == default else \
        draw(st.sampled_from(("spatial", "full")))
    N, C = draw_planes(draw, big, math.prod(size))
    return dict(N=N, C=C, size=size, k=k,
                stride=None if (s == k and draw(st.booleans())) else s, padding=p, pooled=pooled, out=out,
                how=how, form=form, seed=draw(SEEDS))


def check_unpool(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    N, C = c["N"], c["C"]
    up, down, pair = _as2d(c)
    stride = c["k"] if c["stride"] is None else c["stride"]
    if c["how"] == "pool":
        x = normal(rng, (N, C) + c["size"], "float64")
        pooled, idx = rpool.max_pool2d(up(x), pair(c["k"], 1), pair(stride, 1), pair(c["padding"], 0), (1, 1))
        pooled, idx = down(pooled).astype(dtype), down(idx)
    else:
        plane, n = math.prod(c["out"]), math.prod(c["pooled"])
        idx = np.stack([rng.permutation(plane)[:n] for _ in range(N * C)]).reshape((N, C) + c["pooled"])
        pooled = normal(rng, idx.shape, dtype)
    out_size = {"spatial": c["out"], "full": (N, C) + c["out"], "none": None}[c["form"]]
    op = F.max_unpool1d if len(c["size"]) == 1 else F.max_unpool2d
    it = B.tensor(idx.astype(np.int64))
    out2 = pair(c["out"], 1)
    check_linear(B, dtype, f"max_unpool {c}", lambda t: op(t, it, c["k"], c["stride"], c["padding"], out_size),
                 [pooled], (True,), lambda x: down(rpool.max_unpool2d(up(x), up(idx), out2)),
                 lambda dy, x: (down(rpool.max_unpool2d_backward(up(dy), up(idx))),), rng)


def test_max_pool1d(config):
    run_property(config, "max_pool1d", pool_cases(1, "max", config.big), check_max_pool)


def test_max_pool2d(config):
    run_property(config, "max_pool2d", pool_cases(2, "max", config.big), check_max_pool)


def test_avg_pool(config):
    run_property(config, "avg_pool", st.sampled_from((1, 2)).flatmap(lambda n: pool_cases(n, "avg", config.big)),
                 check_avg_pool)


def test_adaptive_pools(config):
    run_property(config, "adaptive", st.sampled_from((1, 2)).flatmap(lambda n: adaptive_cases(n, config.big)),
                 check_adaptive)


def test_max_unpool(config):
    run_property(config, "max_unpool", st.sampled_from((1, 2)).flatmap(lambda n: unpool_cases(n, config.big)),
                 check_unpool)


# ----------------------------------------------------------------------------- interpolate
SCALES = (0.3, 0.5, 0.75, 1.0, 1.1, 1.5, 1.7, 2.0, 2.1, 2.5, 3.0)


@st.composite
def interpolate_cases(draw, big):
    mode = draw(st.sampled_from(("nearest", "nearest-exact", "linear", "bilinear")))
    spatial = {"linear": 1, "bilinear": 2}.get(mode) or draw(st.sampled_from((1, 2)))
    size = tuple(draw(st.sampled_from(dim_sizes(spatial, a))) for a in range(spatial))
    N, C = draw_planes(draw, big, math.prod(size))
    c = dict(N=N, C=C, size=size, mode=mode,
             align_corners=draw(st.sampled_from((None, False, True))) if mode in ("linear", "bilinear") else None,
             seed=draw(SEEDS))
    if draw(st.booleans()):
        out = tuple(draw(st.integers(1, min(2 * L + 3, 40))) for L in size)
        c.update(out=out, kwargs=dict(size=out[0] if spatial == 1 and draw(st.booleans()) else out), scales=None)
    else:
        scales = tuple(draw(st.sampled_from([s for s in SCALES if math.floor(L * s) >= 1])) for L in size)
        if spatial == 2 and draw(st.booleans()):   # one scale for both dims
            scales = (scales[0], scales[0]) if math.floor(size[1] * scales[0]) >= 1 else scales
        given = scales[0] if len(set(scales)) == 1 and draw(st.booleans()) else scales
        recompute = draw(st.sampled_from((None, False, True)))
        c.update(out=tuple(math.floor(float(L) * s) for L, s in zip(size, scales)),
                 kwargs=dict(scale_factor=given, recompute_scale_factor=recompute),
                 scales=None if recompute else scales)
    return c


def check_interpolate(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    x = normal(rng, (c["N"], c["C"]) + c["size"], dtype)
    mode, ac = c["mode"], bool(c["align_corners"])
    check_linear(B, dtype, f"interpolate {c}",
                 lambda t: F.interpolate(t, mode=mode, align_corners=c["align_corners"], **c["kwargs"]), [x], (True,),
                 lambda x: rup.interpolate_forward(x, c["out"], mode, ac, c["scales"]),
                 lambda dy, x: (rup.interpolate_backward(dy, x.shape[2:], mode, ac, c["scales"]),), rng)


def test_interpolate(config):
    run_property(config, "interpolate", interpolate_cases(config.big), check_interpolate)


# ----------------------------------------------------------------------------- pad
@st.composite
def pad_cases(draw, big):
    mode = draw(st.sampled_from(("constant", "reflect", "replicate", "circular")))
    if mode == "constant":
        shape = tuple(draw(st.sampled_from(SIZES[:7])) for _ in range(draw(st.integers(1, 4))))
        padded = draw(st.integers(1, len(shape)))
        value = draw(st.sampled_from((0.0, 1.5, -2.25)))
    else:
        padded = draw(st.sampled_from((1, 2)))
        sizes = tuple(draw(st.sampled_from(dim_sizes(padded, a))) for a in range(padded))
        shape = draw_planes(draw, big, math.prod(sizes))[draw(st.integers(0, 1)):] + sizes
        value = None
    pad = []
    for n in reversed(shape[len(shape) - padded:]):   # torch's order: the last dim first
        top = {"constant": 3, "reflect": min(3, n - 1), "replicate": 4, "circular": min(3, n)}[mode]
        pad += [draw(st.integers(0, top)), draw(st.integers(0, top))]
    return dict(shape=shape, pad=tuple(pad), mode=mode, value=value, seed=draw(SEEDS))


def _crop(dy, pad):
    """The adjoint of constant padding: the interior of dy."""
    sl = [slice(None)] * dy.ndim
    for i in range(len(pad) // 2):
        n = dy.shape[dy.ndim - 1 - i]
        sl[dy.ndim - 1 - i] = slice(pad[2 * i], n - pad[2 * i + 1])
    return np.asarray(dy, np.float64)[tuple(sl)]


def check_pad(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    x = normal(rng, c["shape"], dtype)
    pad, mode = c["pad"], c["mode"]
    if mode == "constant":
        check_linear(B, dtype, f"pad {c}", lambda t: F.pad(t, pad, value=c["value"]), [x], (True,),
                     lambda x: rcore.pad_constant(x, pad, c["value"]), lambda dy, x: (_crop(dy, pad),), rng,
                     fwd_scale=lambda x: rcore.pad_constant(x, pad, abs(c["value"])))
    else:
        check_linear(B, dtype, f"pad {c}", lambda t: F.pad(t, pad, mode=mode), [x], (True,),
                     lambda x: rpad.pad_forward(x, pad, mode),
                     lambda dy, x: (rpad.pad_backward(dy, x.shape, pad, mode),), rng)


def test_pad(config):
    run_property(config, "pad", pad_cases(config.big), check_pad)


# ----------------------------------------------------------------------------- norms
GROUPS = ((1, 1), (2, 1), (2, 2), (3, 3), (4, 2), (5, 5), (6, 1), (6, 2), (6, 3), (12, 4))   # (C, num_groups)
NORM_SIZES = (1, 2, 3, 5, 7, 9, 12)


@st.composite
def norm_cases(draw, big):
    op = draw(st.sampled_from(("batch_norm", "instance_norm", "group_norm", "layer_norm", "pixel_norm")))
    sp = tuple(draw(st.sampled_from(NORM_SIZES)) for _ in range(draw(st.integers(0, 2))))
    C, G = draw(st.sampled_from(GROUPS)) if op == "group_norm" else (None, None)
    N, C2 = draw_planes(draw, big, math.prod(sp), multiple=C // G if G else 1)
    if C is None:
        C = C2
    elif C2 > 12:   # many groups of the table entry's size
        C, G = C2, C2 // (C // G)
    shape = (N, C) + sp
    S = math.prod(shape[2:])
    c = dict(op=op, shape=shape, loc=draw(st.sampled_from((0.0, 0.5, -3.0, 8.0))),
             spread=draw(st.sampled_from((0.5, 1.0, 3.0))), eps=draw(st.sampled_from((1e-5, 1e-3))),
             affine=draw(st.sampled_from(("both", "weight", "none"))) if op != "pixel_norm" else "none",
             wants=draw(st.sampled_from(("all", "input", "params"))), seed=draw(SEEDS))
    if op == "batch_norm":
        c["training"] = draw(st.booleans()) if N * S > 1 else False
        c["stats"] = draw(st.booleans()) if c["training"] else True
        c["momentum"] = draw(st.sampled_from((0.1, 0.5)))
    elif op == "instance_norm":
        c["training"] = draw(st.booleans()) if S > 1 else False   # use_input_stats
        c["stats"] = draw(st.booleans()) if c["training"] else True
        c["momentum"] = draw(st.sampled_from((0.1, 0.5)))
    elif op == "group_norm":
        if N * (C // G) * S == 1:   # a single value in the only set is an error
            c["shape"] = (2,) + shape[1:]
        c["groups"] = G
    elif op == "layer_norm":
        lead = tuple(draw(st.sampled_from(NORM_SIZES)) for _ in range(draw(st.integers(0, 2))))
        shape = lead + (draw(st.sampled_from(NORM_SIZES + (17, 33))),)   # rows of tile + 1
        if big and draw(st.integers(0, 3)) == 0:   # rows enough for the OpenMP team
            shape = (-(-PARALLEL // math.prod(shape)),) + shape
        c["shape"], c["normalized_shape"] = shape, shape[len(shape) - draw(st.integers(1, len(shape))):]
    return c


def _rstd(x, axes, eps):
    x = np.asarray(x, np.float64)
    return 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def check_norm(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    op, shape, eps = c["op"], c["shape"], c["eps"]
    x = normal(rng, shape, dtype, c["loc"], c["spread"])
    pshape = c["normalized_shape"] if op == "layer_norm" else shape[1:2]
    w = normal(rng, pshape, dtype, 1.0) if c["affine"] != "none" else None
    b = normal(rng, pshape, dtype) if c["affine"] == "both" else None
    stats = op in ("batch_norm", "instance_norm") and c["stats"]
    rm0 = normal(rng, pshape, dtype) if stats else None
    rv0 = (0.5 + rng.random(pshape)).astype(dtype) if stats else None
    rm, rv = (None, None) if not stats else (B.tensor(rm0), B.tensor(rv0))
    cshape = (1, -1) + (1,) * (len(shape) - 2)
    spatial_axes = tuple(range(2, len(shape)))
    training, m = c.get("training"), c.get("momentum")
    wabs = 1.0 if w is None else np.abs(w.astype(np.float64))
    n = x.size // max(1, math.prod(pshape))   # the values each parameter sums over
    if op in ("batch_norm", "instance_norm"):
        if op == "batch_norm":
            fn = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, m, eps)  # noqa: E731
        else:
            fn = lambda x, w, b: F.instance_norm(x, rm, rv, w, b, training, m, eps)  # noqa: E731
        if not training:
            ref_y = lambda: rnorm.batch_norm(x, w, b, eps, False, rm0, rv0)  # noqa: E731
            ref_g = lambda dy: rnorm.batch_norm_backward(dy, x, w, eps, False, rm0, rv0)  # noqa: E731
            rstd = 1 / np.sqrt(rv0.astype(np.float64).reshape(cshape) + eps)
        elif op == "batch_norm":
            ref_y = lambda: rnorm.batch_norm(x, w, b, eps)  # noqa: E731
            ref_g = lambda dy: rnorm.batch_norm_backward(dy, x, w, eps)  # noqa: E731
            rstd = _rstd(x, (0,) + spatial_axes, eps)
        else:
            ref_y = lambda: rnorm.instance_norm(x, w, b, eps)  # noqa: E731
            ref_g = lambda dy: rnorm.instance_norm_backward(dy, x, w, eps)  # noqa: E731
            rstd = _rstd(x, spatial_axes, eps)
        wabs = wabs if w is None else wabs.reshape(cshape)
    elif op == "group_norm":
        G = c["groups"]
        fn = lambda x, w, b: F.group_norm(x, G, w, b, eps)  # noqa: E731
        ref_y = lambda: rnorm.group_norm(x, G, w, b, eps)  # noqa: E731
        ref_g = lambda dy: rnorm.group_norm_backward(dy, x, G, w, eps)  # noqa: E731
        xg = x.reshape(shape[0], G, -1)
        rstd = np.broadcast_to(_rstd(xg, (2,), eps), xg.shape).reshape(shape)
        wabs = wabs if w is None else wabs.reshape(cshape)
    elif op == "layer_norm":
        ns = c["normalized_shape"]
        fn = lambda x, w, b: F.layer_norm(x, ns, w, b, eps)  # noqa: E731
        ref_y = lambda: rnorm.layer_norm(x, ns, w, b, eps)  # noqa: E731
        ref_g = lambda dy: rnorm.layer_norm_backward(dy, x, ns, w, eps)  # noqa: E731
        rstd = _rstd(x, tuple(range(len(shape) - len(ns), len(shape))), eps)
    else:
        fn = lambda x, w, b: F.pixel_norm(x)  # noqa: E731
        ref_y = lambda: rnorm.pixel_norm(x)  # noqa: E731
        ref_g = lambda dy: (rnorm.pixel_norm_backward(dy, x), None, None)  # noqa: E731
        rstd = 1 / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-8)
    wants = [c["wants"] != "params", c["wants"] != "input", c["wants"] != "input"]
    y, dy, grads = run_op(B, fn, [x, w, b], wants, rng, dtype)
    what = f"{op} {c} {dtype}"
    check(y, ref_y(), dtype, what=f"{what}: forward")
    want = ref_g(dy)
    dy_max = float(np.max(np.abs(dy), initial=0))
    scales = (dy_max * wabs * rstd, max(1.0, math.sqrt(n) / 8), max(1.0, math.sqrt(n) / 8))
    for name, g, e, s in zip(("dx", "dweight", "dbias"), grads, want, scales):
        if g is not None:
            check(g, e, dtype, s, what=f"{what}: {name}")
    if stats:   # eval leaves them, training updates them with the unbiased variance
        if not training:
            after = (rm0, rv0)
        elif op == "batch_norm":
            mean, _, var_u = rnorm.batch_stats(x)
            after = ((1 - m) * rm0 + m * mean, (1 - m) * rv0 + m * var_u)
        else:
            x3 = x.astype(np.float64).reshape(shape[0], shape[1], -1)
            after = ((1 - m) * rm0 + m * x3.mean(axis=2).mean(axis=0),
                     (1 - m) * rv0 + m * x3.var(axis=2, ddof=1).mean(axis=0))
        check(rm, after[0], dtype, what=f"{what}: running_mean")
        check(rv, after[1], dtype, what=f"{what}: running_var")


def test_norms(config):
    run_property(config, "norms", norm_cases(config.big), check_norm)


# ----------------------------------------------------------------------------- activations, softmax, losses
ACT_SIZES = (1, 2, 3, 5, 7, 9, 17)
FD_TOLERANCE = {"float32": TOLERANCE["float32"], "float64": (1e-7, 1e-8)}   # against a difference quotient


def fd_gradient(f, x, h=1e-3):
    """The gradient of the scalar f at the float64 array x by the 4-point central difference
    (error O(h^4), rounding O(eps/h))."""
    x = np.array(x, np.float64)
    g = np.zeros_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        v = flat[i]
        vals = []
        for t in (-2, -1, 1, 2):
            flat[i] = v + t * h
            vals.append(f(x))
        flat[i] = v
        gf[i] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return g


def check_fd(actual, f, x, dtype, scale, what):
    rtol, atol = FD_TOLERANCE[dtype]
    want = fd_gradient(f, x)
    err = np.abs(np.asarray(actual, np.float64) - want)
    tol = atol * max(1.0, scale) + rtol * np.abs(want)
    assert (err <= tol).all(), (f"{what}: {(err > tol).sum()} of {want.size} values off; max error "
                                f"{err.max():.3g}, got {np.asarray(actual).ravel()[:8]} vs {want.ravel()[:8]}")


@st.composite
def activation_cases(draw):
    op = draw(st.sampled_from(("relu", "sigmoid", "tanh", "softmax", "log_softmax")))
    ndim = draw(st.integers(1, 4))   # at most 17 * 17 or 5 ** 4 values: the difference quotient is per value
    shape = tuple(draw(st.sampled_from(ACT_SIZES if ndim <= 2 else ACT_SIZES[:4])) for _ in range(ndim))
    return dict(op=op, shape=shape, dim=draw(st.integers(-len(shape), len(shape) - 1)),
                loc=draw(st.sampled_from((0.0, -5.0, 30.0))), spread=draw(st.sampled_from((1.0, 10.0, 60.0))),
                seed=draw(SEEDS))


def check_activation(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    x = normal(rng, c["shape"], dtype, c["loc"], c["spread"])
    op, dim = c["op"], c["dim"]
    fn = {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh,
          "softmax": lambda t: F.softmax(t, dim), "log_softmax": lambda t: F.log_softmax(t, dim)}[op]
    y, dy, (g,) = run_op(B, fn, [x], (True,), rng, dtype)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    what = f"{op} {c} {dtype}"
    if op in ("relu", "sigmoid", "tanh"):
        want = {"relu": lambda: np.maximum(x64, 0.0), "sigmoid": lambda: rcore.sigmoid(x64),
                "tanh": lambda: np.tanh(x64)}[op]()
        slope = {"relu": lambda: (x64 > 0).astype(np.float64), "sigmoid": lambda: want * (1 - want),
                 "tanh": lambda: 1 - want ** 2}[op]()
        check(y, want, dtype, what=f"{what}: forward")
        check(g, dy64 * slope, dtype, what=f"{what}: backward")
        if op == "relu":   # relu(x <= 0) is +0.0, as PyTorch's
            got = B.numpy(y)
            assert not np.signbit(got[got == 0]).any(), f"{what}: relu gives -0.0"
        return
    ref = {"softmax": rcore.softmax, "log_softmax": rcore.log_softmax}[op]
    xmax = float(np.max(np.abs(x64)))
    check(y, ref(x64, dim), dtype, xmax, what=f"{what}: forward")
    n = x.shape[dim]
    check_fd(B.numpy(g), lambda a: float((ref(a, dim) * dy64).sum()), x64, dtype,
             xmax * n * float(np.max(np.abs(dy64))), f"{what}: backward")


def test_activations(config):
    run_property(config, "activations", activation_cases(), check_activation)


@st.composite
def loss_cases(draw):
    C = draw(st.sampled_from((1, 2, 3, 5, 11)))
    form = draw(st.sampled_from(("1d", "2d", "2d", "nd")))
    N = draw(st.sampled_from(BATCH))
    shape = {"1d": (C,), "2d": (N, C),
             "nd": (N, C) + tuple(draw(st.sampled_from(ACT_SIZES[:4])) for _ in range(draw(st.integers(1, 2))))}[form]
    op = draw(st.sampled_from(("cross_entropy", "cross_entropy", "nll_loss")))
    return dict(op=op, shape=shape, weight=draw(st.booleans()),
                ignore_index=-100 if C == 1 else draw(st.sampled_from((-100, 0, 1))),
                ignored=draw(st.sampled_from((0.0, 0.3))), reduction=draw(st.sampled_from(("mean", "sum", "none"))),
                label_smoothing=draw(st.sampled_from((0.0, 0.1, 0.5))) if op == "cross_entropy" else 0.0,
                loc=draw(st.sampled_from((0.0, 20.0))), spread=draw(st.sampled_from((1.0, 5.0))), seed=draw(SEEDS))


def check_loss(B, c, dtype):
    rng = np.random.default_rng(c["seed"])
    shape, ii = c["shape"], c["ignore_index"]
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x = normal(rng, shape, dtype, c["loc"], c["spread"])
    target = rng.integers(0, C, size=tshape)
    target[rng.random(tshape) < c["ignored"]] = ii
    if c["reduction"] == "mean" and (target == ii).all():   # keep one target (a fully ignored mean is NaN)
        target.reshape(-1)[0] = 0 if ii != 0 else 1
    target = np.asarray(target, np.int64)
    w = (0.5 + rng.random(C)).astype(dtype) if c["weight"] else None
    kw = dict(ignore_index=ii, reduction=c["reduction"])
    if c["op"] == "cross_entropy":
        kw["label_smoothing"] = c["label_smoothing"]
    tt, wt = B.tensor(target), None if w is None else B.tensor(w)
    op = getattr(F, c["op"])
    y, dy, (g,) = run_op(B, lambda t: op(t, tt, wt, **kw), [x], (True,), rng, dtype)
    ref = getattr(rcore, c["op"])
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    what = f"{c['op']} {c} {dtype}"
    terms = target.size if c["reduction"] == "sum" else 1
    scale = (1 + float(np.max(np.abs(x64)))) * (1.0 if w is None else float(w.max())) * terms
    check(y, ref(x64, target, w, **kw), dtype, scale, what=f"{what}: forward")
    check_fd(B.numpy(g), lambda a: float((ref(a, target, w, **kw) * dy64).sum()), x64, dtype,
             scale * float(np.max(np.abs(dy64))), f"{what}: backward")


def test_losses(config):
    run_property(config, "losses", loss_cases(), check_loss)
