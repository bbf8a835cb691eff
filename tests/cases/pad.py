"""The pad family's case table: every backend runs F.pad(x, pad, mode) forward and backward on these.

The CPU kernels (csrc/cpu/pad.cpp) see every input as (planes, 1, H, W) with pads (top, bottom,
left, right): forward is one task per (plane, output row), reading the row the vertical pads map
it to, with the left border through a column map, the interior one contiguous copy, then the right
border; backward gathers, one task per (plane, input row), summing every output row that reads it
(one row when there is no vertical pad, up to three at the reflect / circular limits, any number
with replicate) -- its interior, then its two borders through the same column map.  So the table
holds, for all three modes:

* every pair of per-dim pad kinds (none, both sides at the mode's limit, one side only at the
  limit -- each side --, and uneven), on the non-trivial SPATIAL sizes, with few (n, c) planes;
* 1-D pads ((N, C, L) inputs: H = 1, no vertical pad) of every kind on every SPATIAL size, 1 included;
* 2-D pads on a size-1 dim (H = 1 with vertical pads: every output row reads the one input row);
* many planes (33, 77) and one case large enough for the work to be split between threads;
* the other input ranks F.pad takes ((C, L), (C, H, W)) and empty batches / channels;
* 3-D pads ((N, C, D, H, W) and (C, D, H, W) inputs): the depth axis maps each output row to an
  input depth as the row axis does, so the table has depth pads of every kind, a size-1 depth,
  many planes and a case large enough to split;
* negative pads (crops, torch's semantics): on either side, with a pad on the other side of the
  same dim, in 1, 2 and 3 dims, down to a one-element output -- the interior copy and the border
  maps then start inside the input.

A pad is given in F.pad's (torch's) order: (left, right), (left, right, top, bottom) or
(left, right, top, bottom, front, back).
"""
import itertools
import math

import numpy as np

from cases import BATCH, CHANNELS, SPATIAL

MODES = ("reflect", "replicate", "circular")
NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

# per-dim pad kinds: no pad, both sides at the limit, the low / the high side only, uneven
KINDS = ("none", "max", "lo", "hi", "mixed")


def limit(mode, n):
    """The largest pad the mode allows on a dim of size n: reflect n - 1, circular n; replicate
    has none, n + 3 stands in (more than the whole dim on one side)."""
    return {"reflect": n - 1, "circular": n, "replicate": n + 3}[mode]


def pads(mode, n, kind):
    """(lo, hi) of the given kind for a dim of size n."""
    L = limit(mode, n)
    return {"none": (0, 0), "max": (L, L), "lo": (L, 0), "hi": (0, L), "mixed": ((L + 1) // 2, min(1, L))}[kind]


def case(mode, shape, pad):
    return dict(mode=mode, shape=tuple(shape), pad=tuple(pad))


def kernel_view(c):
    """(planes, D, H, W, (front, back, top, bottom, left, right)): the (planes, 1, D, H, W) problem
    the native kernel gets for case c (a 2-D pad is D = 1 without depth pads, a 1-D pad H = 1 too)."""
    shape, pad = c["shape"], c["pad"]
    k = len(pad) // 2
    spatial = (1,) * (3 - k) + tuple(shape[-k:])
    padding = (0, 0) * (3 - k) + tuple(v for i in reversed(range(k)) for v in pad[2 * i:2 * i + 2])
    return (math.prod(shape[:-k]),) + spatial + (padding,)


def readers(n, lo, hi, mode):
    """The most output positions of a padded dim that read one input position."""
    from reference.pad import _pad
    return int(np.bincount(_pad(np.arange(n), (lo, hi), mode)).max())


def _kind_pairs():
    cases = []
    sizes = SPATIAL[1:]  # 2, 5, 7, 11, 13: reflect can pad a dim of size >= 2
    for m, mode in enumerate(MODES):
        for k, (kh, kw) in enumerate(itertools.product(KINDS, KINDS)):
            H, W = sizes[(k + m) % len(sizes)], sizes[(k // 5 + 2 * k + m + 2) % len(sizes)]
            (t, b), (l, r) = pads(mode, H, kh), pads(mode, W, kw)
            cases.append(case(mode, (BATCH[k % 3], CHANNELS[(k // 3 + m) % 3], H, W), (l, r, t, b)))
    return cases


def _one_d():
    cases = []
    for m, mode in enumerate(MODES):
        for k, kind in enumerate(KINDS):
            for j in (0, 3):
                L = SPATIAL[(k + m + j) % len(SPATIAL)]
                cases.append(case(mode, (BATCH[(k + j) % 3], CHANNELS[(k + m) % 3], L), pads(mode, L, kind)))
    return cases


def _special():
    cases = []
    for mode in MODES:
        top = limit(mode, 1)  # reflect 0, circular 1, replicate 4
        cases += [
            # a size-1 dim padded in 2-D: every output row (column) reads the one input row (column)
            case(mode, (2, 3, 1, 7), pads(mode, 7, "max") + (top, top)),
            case(mode, (1, 2, 5, 1), (top, 0) + pads(mode, 5, "hi")),
            case(mode, (3, 1, 1, 1), (top, top, top, top)),
            # many planes: 77 and 33, with small and tall planes
            case(mode, (7, 11, 5, 6), pads(mode, 6, "max") + pads(mode, 5, "max")),
            case(mode, (3, 11, 2, 3), pads(mode, 3, "lo") + pads(mode, 2, "hi")),
            case(mode, (33, 1, 13, 2), pads(mode, 2, "mixed") + pads(mode, 13, "lo")),
            case(mode, (11, 7, 11), pads(mode, 11, "max")),                      # 1-D, 77 planes
            # large enough to split between threads; long rows
            case(mode, (2, 8, 37, 41), pads(mode, 41, "mixed") + pads(mode, 37, "max")),
            case(mode, (1, 2, 1000), pads(mode, 1000, "hi")),
            # every rank F.pad takes: (C, L), (N, C, L), (C, H, W), (N, C, H, W); empty batches / channels
            case(mode, (3, 7), (2, 3)),
            case(mode, (3, 7), pads(mode, 7, "mixed")),
            case(mode, (2, 3, 5), (4, 1)),
            case(mode, (2, 4, 5), (1, 2, 3, 0)),
            case(mode, (2, 4, 5), pads(mode, 5, "lo") + pads(mode, 4, "max")),
            case(mode, (2, 3, 4, 6), (3, 2, 1, 3)),
            case(mode, (0, 2, 4, 5), (1, 1, 2, 2)),
            case(mode, (2, 0, 6), (2, 1)),
        ]
    return cases


def _three_d():
    cases = []
    for m, mode in enumerate(MODES):
        front = limit(mode, 1)  # a size-1 depth padded (reflect: 0)
        for k, kd in enumerate(KINDS):  # every depth kind, with H and W kinds varying
            D, H, W = (5, 2, 7, 11, 13)[(k + m) % 5], (2, 5, 7)[k % 3], (5, 2, 7)[(k + m) % 3]
            kh, kw = KINDS[(k + 2) % 5], KINDS[(k + 3 * m) % 5]
            cases.append(case(mode, (BATCH[k % 3], CHANNELS[(k + m) % 3], D, H, W),
                              pads(mode, W, kw) + pads(mode, H, kh) + pads(mode, D, kd)))
        cases += [
            case(mode, (2, 3, 1, 4, 5), pads(mode, 5, "lo") + pads(mode, 4, "hi") + (front, front)),
            case(mode, (3, 5, 2, 3), pads(mode, 3, "max") + pads(mode, 2, "mixed") + pads(mode, 5, "max")),  # (C, D, H, W)
            case(mode, (11, 7, 2, 3, 2), pads(mode, 2, "hi") + pads(mode, 3, "lo") + pads(mode, 2, "max")),  # 77 planes
            case(mode, (2, 4, 9, 17, 19), pads(mode, 19, "mixed") + pads(mode, 17, "lo") + pads(mode, 9, "max")),
            case(mode, (0, 2, 3, 4, 5), (1, 1, 1, 1, 1, 1)),
        ]
    return cases


def _negative():
    """Crops: pads valid in every mode (circular's pads stay within the cropped size)."""
    cases = []
    for mode in MODES:
        cases += [
            case(mode, (2, 3, 7), (-2, 3)),
            case(mode, (2, 3, 7), (2, -3)),
            case(mode, (1, 2, 7), (-3, -1)),
            case(mode, (3, 6), (-5, 0)),                                  # a one-element output
            case(mode, (2, 3, 5, 6), (-1, 2, 3, -2)),
            case(mode, (1, 2, 5, 6), (2, -1, -4, 0)),
            case(mode, (2, 3, 6, 5), (1, -2, -2, 3)),
            case(mode, (3, 4, 5, 6), (-1, -2, 1, 1)),                     # (C, H, W): 2-D pad of 3 dims' input
            case(mode, (1, 2, 4, 5, 6), (-1, -2, 2, -1, -3, 1)),
            case(mode, (2, 3, 3, 5, 4), (1, -1, -2, 0, 2, -1)),
        ]
    return cases


PAD_CASES = _kind_pairs() + _one_d() + _special() + _three_d() + _negative()

# a few cases (many planes, large, tall planes) for the thread-count check
THREAD_CASES = [c for c in PAD_CASES if math.prod(c["shape"]) >= 2000]


def case_id(c):
    return f"{c['mode']}-{'x'.join(map(str, c['shape']))}-p{'.'.join(map(str, c['pad']))}"
