"""The pool family's case table: every kernel of csrc/pool.h, on every backend, runs these.

Each case pairs two WINDOWS rows (one for H, one for W: rectangular kernels, stride > kernel,
padding, dilation) with a batch/channel count and the smallest SPATIAL size (cyclically from a
varying start) that gives a valid output, in floor and ceil mode; then the cases that reach each
fast path of the CPU kernels (the compile-time 2x2 s2 / 3x3 s2 / 3x3 s1 max windows: direct
loads, stride-phase rows, blocks of rows when there are few planes), each with few (1-5) and
many (6-77) (n, c) planes, since the split of the work depends on the plane count.
"""
from cases import BATCH, CHANNELS, SPATIAL, WINDOWS
from reference import pool as ref


def _valid(L, k, s, p, d, ceil_mode, max_pool):
    out = ref.out_size(L, k, s, p, d, ceil_mode)
    if out < 1:
        return False
    return not max_pool or all(ref._taps(o, L, k, s, p, d) for o in range(out))


def _size(k, s, p, d, ceil_mode, max_pool, start):
    for L in SPATIAL[start:] + SPATIAL[:start]:
        if _valid(L, k, s, p, d, ceil_mode, max_pool):
            return L
    raise AssertionError("no valid size")


def case(N, C, H, W, k, s, p=(0, 0), d=(1, 1), ceil=False):
    return dict(N=N, C=C, H=H, W=W, k=k, s=s, p=p, d=d, ceil=ceil)


def _window_cases(max_pool):
    cases = []
    for i, wh in enumerate(WINDOWS):
        for j, ceil_mode in enumerate((False, True)):
            ww = WINDOWS[(i + 3 * j + 1) % len(WINDOWS)]
            if not max_pool:  # avg pooling has no dilation
                wh, ww = wh[:3] + (1,), ww[:3] + (1,)
            H = _size(*wh, ceil_mode, max_pool, (i + j) % len(SPATIAL))
            W = _size(*ww, ceil_mode, max_pool, (i + 2 * j + 3) % len(SPATIAL))
            cases.append(case(BATCH[(i + j) % 3], CHANNELS[(i + 2 * j) % 3], H, W, (wh[0], ww[0]), (wh[1], ww[1]),
                              (wh[2], ww[2]), (wh[3], ww[3]), ceil_mode))
    # 1x1 output (kernel = input), a ceil_mode overhang past the padding, one large enough for
    # the OpenMP path (N*C*H*W > 2^14), and many planes of small ones
    cases.append(case(2, 3, 7, 5, (7, 5), (1, 1)))
    cases.append(case(1, 2, 6, 8, (3, 3), (2, 2), (1, 1), ceil=True))
    cases.append(case(2, 8, 37, 41, (3, 2), (2, 2), (1, 1), ceil=True))
    cases.append(case(7, 11, 5, 6, (2, 3), (2, 1), (1, 1), ceil=True))
    return cases


# The CPU max pool's compile-time kernels for 2x2 stride 2, 3x3 stride 2 and 3x3 stride 1 (column
# stride and kernel; dilation 1 along W; any row stride, padding, row dilation): rows read straight
# from x (all windows inside, W_out >= 8), rows split into stride phases with clamped edges and
# blocks of 8 outputs (the last overlapping, or padded when W_out < 8), and both the per-plane and
# the row-block split of the work (fewer than 32 planes), on one and several threads.
_FIXED = [
    case(2, 3, 16, 16, (2, 2), (2, 2)),                         # direct
    case(1, 2, 9, 35, (2, 2), (2, 2)),                          # direct, 17 out
    case(2, 1, 7, 13, (2, 2), (2, 2), (1, 1), ceil=True),       # split, 7 out
    case(1, 3, 11, 9, (2, 2), (3, 2), (1, 1), (2, 1)),          # row dilation
    case(2, 3, 7, 5, (2, 2), (1, 2), (1, 1), (2, 1)),           # padding + row dilation: issue 11's case
    case(3, 5, 37, 41, (3, 3), (2, 2), (1, 1), ceil=True),      # parallel
    case(1, 2, 19, 32, (3, 3), (2, 2), (1, 1)),
    case(2, 2, 2, 3, (3, 3), (2, 2), (1, 1)),                   # kW == W
    case(1, 1, 8, 8, (3, 3), (1, 2), (1, 1), (2, 1), ceil=True),  # overhang
    case(1, 2, 130, 70, (3, 3), (2, 2)),                        # row blocks
    case(2, 3, 12, 12, (3, 3), (1, 1)),                         # direct
    case(1, 2, 5, 13, (3, 3), (1, 1), (1, 1)),
    case(3, 1, 6, 4, (3, 3), (3, 1), (1, 1), ceil=True),
    case(1, 3, 9, 11, (3, 3), (1, 1), (1, 1), (2, 1)),          # 3x3 s1 with row dilation
]


def _with_planes(c, N, C):
    return dict(c, N=N, C=C)


# every small fixed-window case also with many planes: 6 and 7 (row blocks of 2 and more rows), 33
# (whole planes per task) and 77
_SMALL = [c for c in _FIXED if c["H"] * c["W"] <= 200]
FIXED_CASES = _FIXED + [_with_planes(c, *nc) for c, nc in zip(_SMALL, [(2, 3), (7, 1), (3, 11), (7, 11)] * 4)]
MAX_CASES = _window_cases(True)
AVG_CASES = _window_cases(False)

# (N, C, H, W, H_out, W_out): non-divisible, output > input, global, identity, 1-wide; the
# OpenMP path; many planes
ADAPTIVE_CASES = [(1, 1, 13, 7, 5, 3), (2, 3, 5, 11, 7, 4), (3, 5, 7, 7, 1, 1), (1, 3, 1, 2, 3, 1),
                  (2, 1, 11, 13, 11, 13), (3, 3, 2, 5, 2, 2), (2, 8, 37, 41, 6, 5), (7, 11, 5, 3, 2, 3)]


def case_id(c):
    return (f"N{c['N']}C{c['C']}-{c['H']}x{c['W']}-k{c['k'][0]}{c['k'][1]}-s{c['s'][0]}{c['s'][1]}"
            f"-p{c['p'][0]}{c['p'][1]}-d{c['d'][0]}{c['d'][1]}" + ("-ceil" if c["ceil"] else ""))


def adaptive_id(c):
    return "N{}C{}-{}x{}-to{}x{}".format(*c)
