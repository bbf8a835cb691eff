"""The conv family's case table: every kernel of csrc/conv.h, on every backend, runs these.

Each window case pairs two WINDOWS rows (one for H, one for W: rectangular kernels, stride >
kernel, padding, dilation) with a channel layout (dense, grouped, depthwise, depthwise with a depth
multiplier, single channel), batch and channel counts from BATCH / CHANNELS and the smallest
SPATIAL size (cyclically from a varying start) with a positive output.  Then the cases that reach
each fast path of the CPU kernels (csrc/cpu/conv.cpp), each with few (< 6) and many (>= 6)
(n, c) planes and with many images, since the split of the work depends on both:

* pointwise: 1x1 stride-1 unpadded convs use the input plane as the im2col matrix;
* depthwise: groups == C_in > 1 (any depth multiplier) runs the flat form per plane (each tap a
  shift of a padded, phase-split copy: stride 1, 2 and 3, dilation with stride, padding past the
  kernel's reach, the grad input from the zero-stuffed dy), and the direct loops where that copy
  would dwarf the image (dilation and padding in the hundreds: depthwise-direct);
* wide: stride-1 unpadded convs with narrow outputs (W_out <= 32, 2 W <= 3 W_out) take one
  contiguous im2col run per tap on blocks of images side by side (B = N / threads images, the
  last block short), plus the neighbours just outside its bounds;
* padded-wide: stride-1 padded convs whose zero-bordered copy (H_out + d(kH-1), W_out + d(kW-1))
  meets the wide bounds run the wide path on that copy (grad input: accumulated in it, cropped);
  a transposed conv whose output_padding row falls outside the copy stays on im2col;
* winograd: stride-1 undilated 3x3 convs with at least 16 input and output channels per group
  and outputs of at least 4 x 4 run Winograd F(2x2, 3x3) on jobs of whole images (the plane
  loops) or, on images larger than a job and on one image over several threads, of tile rows
  (the row loops; winograd_jobs), the weight gradient's tile sums as dot products up to 384
  channel pairs a group, as GEMMs above (any padding: the
  grad input's offset 2 - p goes negative past padding 2; odd output sizes cut the last tile),
  plus the neighbours just outside its bounds; "few planes" there means one image;
* phases: stride_w > 1 im2col / col2im through column phases (stride 2 compiled, larger strides
  at run time, widths that stride does not divide);
* the per-image split (whole jobs per thread) vs one job at a time on the parallel GEMM, and the
  weight gradient's per-thread partials vs per-group jobs vs the parallel GEMM (SPLIT_CASES, run
  on 1, 2 and 3 threads);
* the fused conv_transpose2d backward (grad input and grad weight from one im2col of dy per
  image; FUSED_CASES).

The transposed table reads the window cases backwards with the largest legal output_padding,
and runs every fast-path case as the transposed conv whose params are the conv's own (the adjoint,
so it reaches the same kernel path).  `paths` and `splits` restate the CPU kernels' dispatch on a
params object, so test_case_table_reaches_every_path can check that the table still reaches
every path when the dispatch changes.
"""
from cases import BATCH, CHANNELS, SPATIAL, WINDOWS

# name -> (C_in, C_out, groups) from two CHANNELS values
LAYOUTS = {
    "dense": lambda c, c2: (c, c2, 1),
    "grouped": lambda c, c2: (2 * c, 2 * c2, 2),
    "depthwise": lambda c, c2: (max(c, 2), max(c, 2), max(c, 2)),
    "depthwise_x2": lambda c, c2: (max(c, 2), 2 * max(c, 2), max(c, 2)),
    "single": lambda c, c2: (1, 1, 1),
}


def conv(N, C_in, C_out, H, W, k, s=(1, 1), p=(0, 0), d=(1, 1), g=1):
    """A conv2d case: x (N, C_in, H, W), weight (C_out, C_in/g, *k); p is (ph, pw) or 'same'."""
    return dict(N=N, C_in=C_in, C_out=C_out, groups=g, H=H, W=W, k=k, stride=s, padding=p, dilation=d)


def pads4(c):
    """(top, bottom, left, right) of a case's padding ('same': d(k-1) in all, the odd one at the end)."""
    if c["padding"] == "same":
        tot = [d * (k - 1) for k, d in zip(c["k"], c["dilation"])]
        return (tot[0] // 2, tot[0] - tot[0] // 2, tot[1] // 2, tot[1] - tot[1] // 2)
    ph, pw = c["padding"]
    return (ph, ph, pw, pw)


def out_size(c):
    """(H_out, W_out) of a conv2d case."""
    t, b, l, r = pads4(c)
    return tuple((L + pb + pe - d * (k - 1) - 1) // s + 1 for L, pb, pe, k, s, d in
                 zip((c["H"], c["W"]), (t, l), (b, r), c["k"], c["stride"], c["dilation"]))


def transpose_out_size(t):
    """(H_out, W_out) of a conv_transpose2d case."""
    return tuple((L - 1) * s - 2 * p + d * (k - 1) + o + 1 for L, s, p, d, k, o in
                 zip((t["H"], t["W"]), t["stride"], t["padding"], t["dilation"], t["k"], t["output_padding"]))


def _smallest_valid(k, s, p, d, start):
    """A SPATIAL size (cyclically from start) whose conv output is positive."""
    for L in SPATIAL[start:] + SPATIAL[:start]:
        if L + 2 * p - d * (k - 1) - 1 >= 0:
            return L
    return SPATIAL[-1]


def _window_cases():
    cases = []
    for i, wh in enumerate(WINDOWS):
        for j, make in enumerate(LAYOUTS.values()):
            ww = WINDOWS[(i + j + 1) % len(WINDOWS)]
            C_in, C_out, groups = make(CHANNELS[(i + j) % 3], CHANNELS[(i + 2 * j + 1) % 3])
            H = _smallest_valid(*wh, start=(i + j) % len(SPATIAL))
            W = _smallest_valid(*ww, start=(i + 2 * j + 3) % len(SPATIAL))
            cases.append(conv(BATCH[(i + j) % 3], C_in, C_out, H, W, (wh[0], ww[0]), (wh[1], ww[1]),
                              (wh[2], ww[2]), (wh[3], ww[3]), groups))
    return cases


WINDOW_CASES = _window_cases()

# padding='same' with even kernels: asymmetric (top, bottom, left, right) = (1, 2, 0, 1), (0, 1, 1, 2)
SAME_CASES = [
    conv(2, 3, 5, 7, 5, (4, 2), p="same"),
    conv(2, 4, 4, 6, 5, (2, 4), p="same", g=4),
    conv(1, 2, 3, 5, 13, (2, 3), p="same", d=(3, 2)),
]

# Fast paths, each with few and many planes and many images; sizes 1, primes, GEMM tile + 1 (17, 33).
POINTWISE_CASES = [
    conv(1, 3, 5, 7, 11, (1, 1)),             # 3 planes, one job: the parallel GEMM
    conv(3, 5, 7, 7, 11, (1, 1)),             # 15 planes
    conv(2, 6, 4, 5, 13, (1, 1), g=2),        # grouped, 12 planes
    conv(9, 2, 15, 1, 17, (1, 1)),            # many images, a 1 x 17 plane, C_out 15 (14-row tile + 1)
    conv(2, 1, 1, 1, 1, (1, 1)),              # 1 x 1 plane, one channel
]
DEPTHWISE_CASES = [
    conv(1, 2, 2, 5, 7, (3, 3), p=(1, 1), g=2),                   # 2 planes, unit column stride
    conv(3, 5, 5, 7, 7, (3, 3), p=(1, 1), g=5),                   # 15 planes
    conv(2, 3, 6, 11, 13, (3, 3), (2, 2), (1, 1), g=3),           # multiplier 2, column stride 2
    conv(1, 4, 4, 13, 11, (2, 3), (1, 3), (0, 2), (2, 1), g=4),   # column stride 3, row dilation
    conv(7, 2, 4, 5, 6, (3, 3), (2, 1), (1, 1), g=2),             # many images, multiplier 2
    conv(2, 3, 3, 1, 17, (1, 5), p=(0, 2), g=3),                  # 1-row planes (conv1d's)
    conv(1, 3, 6, 2, 7, (1, 1), g=3),                             # 1x1 depthwise: not the pointwise path
    conv(2, 3, 3, 9, 9, (3, 3), (2, 2), (2, 2), (2, 2), g=3),     # stride 2, dilation 2: one phase a side
    conv(1, 2, 2, 4, 4, (2, 2), p=(3, 3), g=2),                   # padding past the kernel's reach
    conv(2, 4, 8, 6, 7, (4, 4), p="same", g=4),                   # asymmetric 'same', multiplier 2
    conv(3, 8, 8, 17, 33, (3, 3), (2, 2), (1, 1), g=8),           # tile + 1 widths, four phases
    conv(1, 2, 2, 3, 3, (3, 3), p=(100, 100), d=(100, 100), g=2),  # depthwise-direct
    conv(7, 3, 6, 4, 3, (3, 2), (2, 1), (200, 200), (200, 200), g=3),  # depthwise-direct, multiplier 2
]
WIDE_CASES = [
    conv(5, 6, 16, 14, 14, (5, 5)),               # LeNet C3: 30 planes, blocks of images, the last short
    conv(1, 3, 5, 1, 7, (1, 3)),                  # 3 planes, one image: one job on the parallel GEMM
    conv(3, 4, 6, 9, 13, (3, 2), d=(2, 3), g=2),  # grouped, dilated
    conv(2, 2, 3, 6, 33, (2, 2)),                 # W_out 32: the widest
    conv(11, 2, 3, 5, 4, (2, 2)),                 # many images: 22 planes, several blocks
    conv(2, 1, 1, 7, 9, (2, 2), d=(1, 3)),        # 2 W == 3 W_out: the narrowest ratio; 1 channel
]
PADDED_WIDE_CASES = [  # stride-1 padded convs: the wide path on a zero-bordered copy
    conv(9, 8, 16, 8, 8, (3, 3), p=(1, 1)),       # a 3x3 at 8x8 below Winograd's 16 channels: blocks of images
    conv(1, 3, 4, 5, 7, (2, 3), p=(0, 1)),        # 3 planes, one image; padded in W only
    conv(2, 4, 6, 7, 5, (3, 3), p=(2, 1), d=(2, 1), g=2),  # grouped, dilated, pad > kernel reach
    conv(3, 2, 3, 6, 32, (3, 3), p=(1, 1)),       # W_out 32: the widest
    conv(2, 5, 3, 9, 4, (4, 2), p="same"),        # asymmetric 'same' padding (top 1, bottom 2)
    conv(11, 1, 2, 5, 6, (3, 3), p=(1, 1)),       # many images, 1 channel: several blocks, the last short
]
NOT_WIDE_CASES = [  # just outside the wide path's bounds: the plain im2col at stride 1
    conv(2, 2, 3, 6, 34, (2, 2)),                 # W_out 33
    conv(7, 1, 2, 7, 10, (2, 2), d=(1, 4)),       # 2 W > 3 W_out; many images
    conv(2, 3, 4, 5, 33, (3, 3), p=(1, 1)),       # padded, W_out 33
    conv(8, 2, 3, 4, 2, (3, 3), p=(1, 1)),        # padded, 2 (W + 2) > 3 W_out; many images
]
WINOGRAD_CASES = [  # stride-1 undilated 3x3, >= 16 channels per group, outputs >= 4 x 4
    conv(1, 16, 16, 6, 6, (3, 3)),                # unpadded, one image: the 4 x 4 output, jobs of single tile rows
    conv(7, 16, 17, 9, 11, (3, 3), p=(1, 1)),     # many images, odd output sizes (the last tile cut), C_out 17
    conv(2, 19, 16, 8, 33, (3, 3), p=(1, 1)),     # W 33, C_in 19
    conv(3, 32, 32, 5, 4, (3, 3), p=(2, 2), g=2),  # grouped (16 per group), padding 2: grad input offset 0
    conv(2, 16, 16, 7, 6, (3, 3), p="same"),      # 'same'
    conv(1, 16, 24, 13, 7, (3, 3), p=(3, 0)),     # padding 3 > the kernel's reach (offset -1), W unpadded
    conv(2, 17, 16, 4, 4, (3, 3), p=(1, 1)),      # the smallest input, 4 x 4
    conv(2, 16, 16, 40, 34, (3, 3), p=(1, 1)),    # an image larger than a job: jobs of tile rows across images
    conv(3, 32, 33, 6, 7, (3, 3), p=(1, 1)),      # 32 x 33 channels: the weight gradient's tile sums as GEMMs
    conv(2, 19, 17, 7, 6, (3, 3), p=(1, 1)),      # 17 x 19 channels: the dot products' row and column remainders
]
NOT_WINOGRAD_CASES = [  # just outside Winograd's bounds
    conv(2, 15, 16, 8, 8, (3, 3), p=(1, 1)),      # 15 input channels
    conv(2, 16, 15, 8, 8, (3, 3), p=(1, 1)),      # 15 output channels
    conv(2, 16, 16, 5, 5, (3, 3)),                # 3 x 3 output
    conv(1, 16, 16, 9, 9, (3, 3), (2, 2), (1, 1)),  # stride 2
    conv(2, 16, 16, 9, 9, (3, 3), p=(2, 2), d=(2, 2)),  # dilation 2
    conv(1, 32, 32, 6, 6, (3, 3), p=(1, 1), g=4),  # 8 channels per group
    conv(2, 16, 16, 8, 8, (3, 2), p=(1, 1)),      # 3 x 2 kernel
]
PHASE_CASES = [
    conv(1, 3, 4, 7, 13, (3, 3), (2, 2), (1, 1)),          # column stride 2 (compiled), odd W: 3 planes
    conv(3, 5, 6, 9, 11, (3, 3), (2, 2), (1, 1)),          # 15 planes
    conv(8, 1, 2, 6, 7, (2, 2), (2, 2)),                   # many images, 2x2 stride 2, W 7
    conv(2, 4, 6, 8, 17, (2, 3), (1, 3), (1, 1), g=2),     # stride 3 (run time), W prime
    conv(2, 3, 5, 9, 9, (1, 1), (2, 2)),                   # 1x1 stride 2: not pointwise
    conv(7, 2, 3, 6, 10, (3, 2), (1, 4), (1, 0), (1, 2)),  # many images, stride 4 > kernel
    conv(1, 1, 2, 3, 5, (2, 2), (1, 2)),                   # one channel, W 5
]
FAST_CASES = (POINTWISE_CASES + DEPTHWISE_CASES + WIDE_CASES + PADDED_WIDE_CASES + NOT_WIDE_CASES + WINOGRAD_CASES
              + NOT_WINOGRAD_CASES + PHASE_CASES)

CONV_CASES = WINDOW_CASES + SAME_CASES + FAST_CASES


def adjoint(c):
    """The conv_transpose2d whose params are conv case c's own: x (N, C_out, H_out, W_out), weight
    (C_out, C_in/groups, *k), the output_padding that gives back (H, W) (symmetric padding only)."""
    Ho, Wo = out_size(c)
    op = tuple(L - ((Lo - 1) * s - 2 * p + d * (k - 1) + 1) for L, Lo, s, p, d, k in
               zip((c["H"], c["W"]), (Ho, Wo), c["stride"], c["padding"], c["dilation"], c["k"]))
    return dict(c, C_in=c["C_out"], C_out=c["C_in"], H=Ho, W=Wo, output_padding=op)


def _transpose_cases():
    cases = []
    for c in WINDOW_CASES:  # read backwards with the largest legal output_padding
        t = dict(c, C_in=c["C_out"], C_out=c["C_in"])
        t["output_padding"] = tuple(max(s, d) - 1 for s, d in zip(c["stride"], c["dilation"]))
        if min(transpose_out_size(t)) > 0:
            cases.append(t)
    cases += [adjoint(c) for c in FAST_CASES if c["padding"] != "same"]
    # 1x1 with output_padding (allowed by dilation 2): rows the conv never reads, not the 1x1 path
    cases.append(dict(conv(2, 4, 6, 5, 3, (1, 1), d=(2, 2), g=2), output_padding=(1, 1)))
    # stride 1, dilation 2: output_padding 1 <= padding keeps the padded wide path; with padding 0
    # the extra row lies outside the padded copy, so the plain im2col runs
    cases.append(dict(conv(7, 3, 2, 5, 6, (3, 3), p=(1, 1), d=(2, 2)), output_padding=(1, 1)))
    cases.append(dict(conv(2, 2, 3, 5, 6, (3, 3), d=(2, 2)), output_padding=(1, 1)))
    return cases


TRANSPOSE_CASES = _transpose_cases()


def _conv1d_cases():
    """Each 2-D case's W axis (a 1-D op is the 2-D kernel with H = 1), without repeats."""
    seen, cases = set(), []
    for c in CONV_CASES:
        p = c["padding"] if c["padding"] == "same" else c["padding"][1]
        one = dict(N=c["N"], C_in=c["C_in"], C_out=c["C_out"], groups=c["groups"], L=c["W"], k=c["k"][1],
                   stride=c["stride"][1], padding=p, dilation=c["dilation"][1])
        key = tuple(one.values())
        if key not in seen:
            seen.add(key)
            cases.append(one)
    return cases


CONV1D_CASES = _conv1d_cases()

# The work splits, run on 1, 2 and 3 threads: (N, C_in, C_out, groups) on 7x6, kernel (3, 2),
# stride (2, 1), padding (1, 0), dilation (1, 2): one job (the parallel GEMM), N*groups at or above
# the thread count (whole jobs per thread), groups below it (weight partials) and at or above it
# (per-group weight jobs), depthwise, many images; and one image big enough for the parallel GEMM
# to use every thread (2 x 64*64*32 multiply-adds).
SPLIT_CASES = [conv(N, C_in, C_out, 7, 6, (3, 2), (2, 1), (1, 0), (1, 2), g) for N, C_in, C_out, g in
               [(1, 3, 4, 1), (2, 4, 6, 2), (5, 3, 5, 1), (4, 6, 3, 3), (1, 6, 6, 6), (9, 2, 4, 1)]]
SPLIT_CASES.append(conv(1, 8, 16, 17, 16, (3, 3), p=(1, 1)))

# conv_transpose2d's fused backward (the weight gradient from per-thread partials) and the
# separate paths, on 1, 2 and 3 threads: x (N, C_in, 5, 6), weight (C_in, C_out/groups, 4, 3).
FUSED_CASES = [dict(conv(N, C_in, C_out, 5, 6, (4, 3), (2, 3), (1, 0), g=g), output_padding=(1, 2))
               for N, C_in, C_out, g in [(4, 6, 4, 1), (5, 4, 6, 2), (2, 3, 5, 1), (9, 2, 3, 1)]]


# ----------------------------------------------------------------------------- the CPU dispatch
def params(c, transposed=False):
    """The native params of a case (conv2d's, or the forward conv a conv_transpose2d is the adjoint of)."""
    import pycnn
    wshape = (c["C_in"], c["C_out"] // c["groups"]) if transposed else (c["C_out"], c["C_in"] // c["groups"])
    x, w = (c["N"], c["C_in"], c["H"], c["W"]), wshape + tuple(c["k"])
    if transposed:
        return pycnn._C.conv_transpose2d_params("conv_transpose2d", 2, x, w, None, c["stride"], c["padding"],
                                                c["output_padding"], c["groups"], c["dilation"])
    return pycnn._C.conv2d_params("conv2d", 2, x, w, None, c["stride"], pads4(c), c["dilation"], c["groups"])


def is_winograd(p):
    """csrc/cpu/conv.cpp's use_winograd (the path allowed: pycnn._C.set_conv_winograd)."""
    import pycnn
    return (pycnn._C.conv_winograd() and p.kH == 3 and p.kW == 3 and p.stride_h == 1 and p.stride_w == 1
            and p.dilation_h == 1 and p.dilation_w == 1 and not p.is_depthwise and p.C_in // p.groups >= 16
            and p.C_out // p.groups >= 16 and min(p.H_out, p.W_out, p.H, p.W) >= 4)


def is_wide(p):
    """csrc/cpu/conv.cpp's use_wide."""
    return (p.stride_h == 1 and p.stride_w == 1 and p.pad_top == 0 and p.pad_left == 0 and p.H_out > 0
            and p.W_out > 0 and p.H_out == p.H - p.dilation_h * (p.kH - 1)
            and p.W_out == p.W - p.dilation_w * (p.kW - 1) and not p.is_pointwise and p.W_out <= 32
            and 2 * p.W <= 3 * p.W_out)


def padded_wide(p):
    """csrc/cpu/conv.cpp's WideConv for a padded conv: the (rows, columns) of the zero-bordered copy
    the wide path runs on, or None."""
    if p.stride_h != 1 or p.stride_w != 1 or p.H_out <= 0 or p.W_out <= 0 or p.is_pointwise or is_wide(p):
        return None
    Hq, Wq = p.H_out + p.dilation_h * (p.kH - 1), p.W_out + p.dilation_w * (p.kW - 1)
    fits = p.pad_top >= 0 and p.pad_left >= 0 and p.pad_top + p.H <= Hq and p.pad_left + p.W <= Wq
    return (Hq, Wq) if fits and p.W_out <= 32 and 2 * Wq <= 3 * p.W_out else None


def wide_blocks(p, threads, itemsize=8):
    """(images per block, blocks) of the wide path: csrc/cpu/conv.cpp's WideBlocks."""
    q = padded_wide(p)
    W, pad = (q[1], p.C_in // p.groups * q[0] * q[1]) if q else (p.W, 0)
    L = (p.H_out - 1) * W + p.W_out
    per_image = max(1, ((p.C_in // p.groups * p.kH * p.kW + p.C_out // p.groups) * L + pad) * itemsize)
    B = max(1, min((384 << 10) // per_image, p.N // threads))
    return B, -(-p.N // B)


def depthwise_flat(p, itemsize=8):
    """Whether csrc/cpu/conv.cpp's depthwise conv runs its flat form (DepthwiseFlat::fits) on p's
    forward and grad weight; the table's cases sit far from the bound, so the grad input's own
    layout agrees."""
    block = 64 // itemsize

    def split(k, d, s):  # (phases, the largest offset) of a kernel side
        return len({i * d % s for i in range(k)}), (k - 1) * d // s

    (rp, ro), (cp, co) = split(p.kH, p.dilation_h, p.stride_h), split(p.kW, p.dilation_w, p.stride_w)
    ld, rows = p.W_out + co, p.H_out + ro
    size = rp * cp * (rows * ld + ld + block) + -(-p.H_out * ld // block) * block
    return size <= 4 * (p.H * p.W + p.H_out * p.W_out) + 16384


def paths(p):
    """The kernel a params object runs on the CPU: depthwise (the flat form), depthwise-direct,
    pointwise, winograd, wide, padded-wide, im2col (stride_w 1), phases2 (stride_w 2, compiled) or
    phases (a larger stride_w)."""
    if p.is_depthwise:
        return "depthwise" if depthwise_flat(p) else "depthwise-direct"
    if p.is_pointwise:
        return "pointwise"
    if is_winograd(p):
        return "winograd"
    if is_wide(p):
        return "wide"
    if padded_wide(p):
        return "padded-wide"
    return "im2col" if p.stride_w == 1 else "phases2" if p.stride_w == 2 else "phases"


def _partials(p, units, threads):
    return units > 0 and p.groups < threads and units * p.groups >= threads


def winograd_jobs(p, threads, elem_bytes=4):
    """csrc/cpu/conv.cpp's WinogradPass::rows_per_job for the forward (and weight-gradient) pass
    and the grad-input pass: 'winograd-planes' where a job holds whole images (the plane loops),
    'winograd-rows' where it holds tile rows (the row loops); one entry per pass."""
    out = set()
    for Ho, Wo in ((p.H_out, p.W_out), (p.H, p.W)):
        th, tw = -(-Ho // 2), -(-Wo // 2)
        per_row = max(1, 16 * (p.C_in // p.groups + p.C_out // p.groups) * tw * elem_bytes)
        rows = max(1, min(max(1, (640 << 10) // per_row), -(-(p.N * th) // threads)))
        out.add("winograd-planes" if rows >= th else "winograd-rows")
    return out


def splits(p, threads, transposed=False, elem_bytes=4):
    """How the CPU kernels split a conv's work on `threads` threads: the jobs of the forward and
    grad input ('per-image': whole jobs per thread, or 'parallel-gemm': one at a time), the weight
    gradient's ('weight-partials', 'weight-per-group', 'weight-parallel'), the wide path's
    'wide-blocks' (several images per job, the last block short) and, for a transposed conv,
    'fused' or 'separate' backward; depthwise convs split by planes ('planes': (image, channel)
    jobs, the weight gradient from per-thread partials over images); Winograd convs by
    winograd_jobs (elem_bytes: the dtype's size)."""
    if p.is_depthwise:
        return {"planes"}
    if is_winograd(p):  # jobs of tile rows or whole images, the weight gradient from per-thread partials
        return winograd_jobs(p, threads, elem_bytes)
    wide = is_wide(p) or padded_wide(p) is not None
    out = set()
    units = p.N
    if wide:
        B, units = wide_blocks(p, threads)
        if B > 1 and p.N % B:
            out.add("wide-blocks")
    out.add("per-image" if units * p.groups >= threads else "parallel-gemm")
    out.add("weight-partials" if _partials(p, units, threads) else
            "weight-per-group" if p.groups >= threads else "weight-parallel")
    if transposed:
        fused = not p.is_pointwise and not wide and p.N > 0 and (_partials(p, p.N, threads) or threads == 1)
        out.add("fused" if fused else "separate")
    return out


def case_id(c):
    pad = "same" if c["padding"] == "same" else "".join(map(str, c["padding"]))
    out = (f"N{c['N']}-C{c['C_in']}to{c['C_out']}-g{c['groups']}-{c['H']}x{c['W']}-k{c['k'][0]}x{c['k'][1]}"
           f"-s{c['stride'][0]}{c['stride'][1]}-p{pad}-d{c['dilation'][0]}{c['dilation'][1]}")
    return out + ("-op{}{}".format(*c["output_padding"]) if "output_padding" in c else "")


def case1d_id(c):
    return (f"N{c['N']}-C{c['C_in']}to{c['C_out']}-g{c['groups']}-L{c['L']}-k{c['k']}-s{c['stride']}"
            f"-p{c['padding']}-d{c['dilation']}")
