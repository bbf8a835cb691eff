"""The upsample family's case table: every kernel of csrc/upsample.h, on every backend, runs these.

A case is an ``F.interpolate`` call: an (N, C, H, W), (N, C, L) or (N, C, D, H, W) shape, a mode
and align_corners,
and either ``size`` or ``scale_factor`` (optionally with ``recompute_scale_factor=True``).  It
reaches every path of the CPU kernels (csrc/cpu/upsample.cpp):

* ``AXIS_CASES``: per mode, pairs of (in, out) axes -- up, down, identity (the out == in copy),
  1 -> n, n -> 1, the out == 2 * in shortcut, a heavy downsample that leaves input rows unread
  (no reader: the nearest forward skips them, every backward zero-fills them), and a tile+1
  width -- so the nearest row copies (one gather, then a memcpy per further reader row), the
  separable linear blend with 1-tap (i0 == i1: out == in, in == 1, the clamped last index) and
  2-tap axes, and the backward's per-input-row gathers (CSR reader lists) are all hit, with
  align_corners both ways;
* ``SCALE_CASES``: the same modes by a scale_factor, which the coordinates use (1/scale) unless
  recompute_scale_factor=True (in/out); 1.1 and 2.1 make out == in and out == 2 * in on short
  axes while the given scale says otherwise (the shortcuts win, as in torch);
* ``ARGUMENT_CASES``: the Python argument forms (1-D input, int size, scalar scale_factor);
* ``PLANE_CASES``: few and many (n, c) planes (1 .. 77) and one plane of many rows, since the
  OpenMP split is ``collapse(3)`` over (plane, depth, row); big enough for every thread to get
  work.  The thread-count test runs these on 1, 2 and 3 threads; the others run on the default count;
* bicubic runs every 4-D table above: four taps per axis, clamped to the edge near the borders
  (several taps on one input: the CSR reader lists hold it twice), and the source coordinate is
  not clamped at 0;
* ``VOLUME_CASES``: 5-D input (nearest, nearest-exact, trilinear both ways): the depth axis takes
  the same (in, out) pairs as the rows -- up, down with unread depths, identity, 1 -> n -- by size
  and by scale_factor, with few and many planes; the depth taps times the row taps are the rows
  the linear forward blends.

``BED_CASES`` are the bed-of-nails shapes and (sH, sW) scales: 1x1, non-square and unit scales,
few and many planes, one tall plane.
"""
import math

from cases import BATCH, CHANNELS, SPATIAL

# (mode, align_corners) as given to F.interpolate
MODES = (("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
         ("bicubic", False), ("bicubic", True))
VOLUME_MODES = (("nearest", None), ("nearest-exact", None), ("trilinear", False), ("trilinear", True))

# (in, out) per axis: down, up, 1 -> n, n -> 1, up, identity, down, 1 -> 1, 2x, down past every
# other row (13 -> 2: rows unread even by linear), tile+1 doubled, tile+1 down to a prime
AXES = ((7, 3), (5, 13), (1, 4), (4, 1), (2, 5), (11, 11), (13, 7), (1, 1), (3, 6), (13, 2), (17, 34), (33, 13))

# scale factors: integer, half, fractional, and 1.1 / 2.1 (out == in / 2 * in on axes < 10)
SCALES = (2, 3, 0.5, 1.7, 1.1, 2.1)


def case(shape, mode, ac=None, size=None, scale=None, recompute=None):
    return dict(shape=tuple(shape), mode=mode, ac=ac, size=size, scale=scale, recompute=recompute)


def kwargs(c):
    """The F.interpolate keyword arguments of a case."""
    kw = dict(mode=c["mode"], align_corners=c["ac"])
    if c["size"] is not None:
        kw["size"] = c["size"]
    else:
        kw["scale_factor"] = c["scale"]
        if c["recompute"] is not None:
            kw["recompute_scale_factor"] = c["recompute"]
    return kw


def _per_axis(v, dim):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * dim


def out_size(c):
    """The spatial output sizes (torch: the given size, or floor(in * scale_factor))."""
    dim = len(c["shape"]) - 2
    if c["size"] is not None:
        return _per_axis(c["size"], dim)
    return tuple(math.floor(float(n) * s) for n, s in zip(c["shape"][2:], _per_axis(c["scale"], dim)))


def ref_scales(c):
    """The per-axis scale_factor the coordinates use (tests/reference/upsample.py), or None: in/out."""
    if c["size"] is not None or c["recompute"]:
        return None
    return tuple(float(s) for s in _per_axis(c["scale"], len(c["shape"]) - 2))


def _axis_cases():
    cases = []
    for m, (mode, ac) in enumerate(MODES):
        for i, (h, ho) in enumerate(AXES):
            w, wo = AXES[(i + 3 + 2 * m) % len(AXES)]
            N, C = BATCH[(i + m) % len(BATCH)], CHANNELS[(i // 2 + m) % len(CHANNELS)]
            cases.append(case((N, C, h, w), mode, ac, size=(ho, wo)))
    return cases


def _scale_cases():
    cases = []
    for m, (mode, ac) in enumerate(MODES):
        for k, s in enumerate(SCALES):
            for j, H in enumerate((5, 13)):
                W = SPATIAL[1 + (k + j + m) % (len(SPATIAL) - 1)]
                sw = SCALES[(k + 2 * j + 1) % len(SCALES)]
                c = case((2, 3, H, W), mode, ac, scale=(s, sw))
                if min(out_size(c)) >= 1:
                    cases.append(c)
        # the same sizes with the scale recomputed as in/out
        cases.append(case((1, 2, 13, 7), mode, ac, scale=(1.7, 0.5), recompute=True))
        cases.append(case((2, 1, 5, 11), mode, ac, scale=(2.1, 1.1), recompute=True))
    return cases


ARGUMENT_CASES = [
    case((2, 3, 7), "nearest", size=3),
    case((1, 2, 5), "nearest", scale=1.7),
    case((2, 3, 5, 7), "nearest", size=(13, 3)),
    case((1, 2, 4, 5), "nearest", scale=(0.5, 3)),
    case((1, 2, 7, 5), "nearest", scale=1.7, recompute=True),
    case((2, 3, 3), "nearest", scale=2.1),              # 1-D out == 2 * in by a scale
    case((2, 1, 11), "nearest-exact", size=4),
    case((2, 3, 5, 1), "nearest-exact", scale=(1.7, 4)),
    case((1, 3, 7, 7), "nearest-exact", size=(3, 13)),
    case((2, 3, 7), "linear", size=13),
    case((2, 3, 7), "linear", True, scale=0.5),
    case((1, 2, 1), "linear", False, size=4),
    case((3, 5, 7), "linear", False, scale=1.1),        # 1-D out == in by a scale: a copy
    case((2, 3, 5, 7), "bilinear", size=(13, 3)),
    case((1, 2, 4, 1), "bilinear", True, size=(1, 4)),
    case((2, 2, 5, 6), "bilinear", False, scale=(1.7, 0.5)),
    case((2, 2, 5, 6), "bilinear", True, scale=3),
    case((1, 3, 7, 5), "bilinear", False, scale=1.7, recompute=True),
]


def _plane_cases():
    shapes = [((1, 1, 67, 29), (133, 59)),   # one plane: its rows split between threads
              ((3, 5, 23, 33), (47, 17)),    # 15 planes, tile+1 width
              ((2, 1, 64, 64), (32, 32)),    # downsampling by 2
              ((7, 11, 5, 3), (11, 7)),      # 77 small planes
              ((5, 13, 1, 17), (1, 33))]     # 65 one-row planes
    volumes = [((2, 3, 7, 9, 5), (13, 4, 11)), ((1, 1, 17, 5, 3), (5, 33, 7))]
    return ([case(shape, mode, ac, size=out) for mode, ac in MODES for shape, out in shapes] +
            [case(shape, mode, ac, size=out) for mode, ac in VOLUME_MODES for shape, out in volumes])


def _volume_cases():
    cases = []
    for m, (mode, ac) in enumerate(VOLUME_MODES):
        for i, (d, do) in enumerate(AXES[:10]):
            (h, ho), (w, wo) = AXES[(i + 2 + m) % 10], AXES[(i + 5 + 2 * m) % 10]
            cases.append(case((BATCH[(i + m) % 3], CHANNELS[(i // 2 + m) % 3], d, h, w), mode, ac, size=(do, ho, wo)))
        cases += [case((2, 3, 5, 4, 3), mode, ac, scale=(1.7, 0.5, 2)),
                  case((1, 2, 3, 5, 2), mode, ac, scale=(1.1, 2.1, 3)),        # the nearest shortcuts by a scale
                  case((2, 1, 5, 3, 4), mode, ac, scale=(0.5, 1.7, 2), recompute=True),
                  case((7, 11, 3, 2, 3), mode, ac, size=(5, 3, 2)),            # 77 planes
                  case((1, 1, 9, 11, 13), mode, ac, size=(19, 5, 27))]         # one plane, many rows
    return cases


AXIS_CASES = _axis_cases()
VOLUME_CASES = _volume_cases()
SCALE_CASES = _scale_cases()
PLANE_CASES = _plane_cases()
INTERPOLATE_CASES = AXIS_CASES + SCALE_CASES + ARGUMENT_CASES + VOLUME_CASES  # PLANE_CASES: on 1, 2, 3 threads

# (shape, (sH, sW)): 1x1, non-square, unit scales, 1-wide, tall; 77 planes; one plane of many rows
BED_CASES = [((1, 1, 1, 1), (2, 2)), ((2, 3, 5, 7), (2, 3)), ((3, 5, 7, 1), (3, 1)), ((1, 3, 2, 11), (1, 1)),
             ((2, 1, 13, 5), (4, 2)), ((3, 5, 33, 17), (2, 2)), ((7, 11, 2, 3), (3, 2)), ((1, 1, 130, 17), (2, 3))]


def case_id(c):
    ac = "" if c["ac"] is None else f"-ac{int(c['ac'])}"
    dims = "x".join(map(str, c["shape"][2:]))
    how = (f"to{'x'.join(map(str, out_size(c)))}" if c["size"] is not None else
           f"s{'x'.join(map(str, _per_axis(c['scale'], len(c['shape']) - 2)))}" + ("-rsf" if c["recompute"] else ""))
    return f"{c['mode']}{ac}-N{c['shape'][0]}C{c['shape'][1]}-{dims}-{how}"


def bed_id(c):
    (N, C, H, W), (sH, sW) = c
    return f"N{N}C{C}-{H}x{W}-s{sH}x{sW}"
