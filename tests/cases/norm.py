"""The norm family's case table: every norm op, on every backend, runs these.

The small cases are the shared awkward sizes: every BATCH x CHANNELS count with spatial shapes of
1 (no spatial dims, one, or several of size 1), primes, an even size, and pixel_norm's block + 1;
group counts of one group, one channel per group and groups of 2, 3 channels; LayerNorm rows of
the GEMM sizes (around the SIMD widths and the 16 float lanes of the reductions).  Then the cases
that reach each fast path of the CPU kernels (csrc/cpu/norm.cpp, whose constants are mirrored
below), each with few (1-5: fewer than the threads of the multithreaded tests, so a thread has
nothing to do) and many (31-3093) parallel work items, on either side of the thresholds:

* the OpenMP threshold (2^15 elements): one below, exactly at it, and above;
* BatchNorm backward: a channel at a time (x and dy of a channel within 64 KiB) or the
  sample-major sweeps of a thread's channels (larger), one case on each side per dtype (the
  threshold is in bytes: (2, 5, 61, 59) and instance_norm's (1, 2, 4099) split float32 and
  float64), with one channel, few, and many, S = 1 runs (BatchNorm1d), and runs longer than
  the 1024 values after which the float lanes are folded into double;
* InstanceNorm: the same kernels on the (1, N*C, S) view (sample-major from S > 8192 float32);
* GroupNorm: S > 1 (a channel run at a time) and S = 1 (the LayerNorm row loops, vectorized
  across channels, whose per-thread dweight partials fold every 64 rows per group);
* LayerNorm: rows below 2048 (the row path, 64-row folds) and from 2048 (the column split
  across threads, tiles of 2048 columns: exactly one tile, tile + 1, three tiles, fewer tiles
  than threads, more than 64 rows), also through group_norm with one group;
* PixelNorm: blocks of 256 pixels: S = 1, one block, block + 1, many blocks with a partial one.
"""
import math

from cases import BATCH, CHANNELS, GEMM_SIZES, SPATIAL

# csrc/cpu/norm.cpp and norm_loops.h
PARALLEL_MIN = 1 << 15        # kParallelMin: elements from which a kernel runs on a team
CHANNEL_REUSE_BYTES = 1 << 20  # kChannelReuseBytes: a BatchNorm channel done whole up to this
SHORT_RUN_BYTES = 1024        # kShortRunBytes: BatchNorm planes below this are swept sample-major
COLUMN_SPLIT_MIN = 2048       # kColumnSplitMin: LayerNorm rows from which columns are split
COLUMN_TILE = 2048            # kColumnTile
FOLD_ROWS = 64                # kFoldRows: S = 1 dweight partials folded into double every 64 rows
PIXEL_BLOCK = 256             # kPixelBlock
SET_BLOCK = 16                # kSetBlock: group/layer norm sets a thread works through phase by phase
LANE_FOLD = 1024              # kFold: float lanes folded into double every 1024 values of a run

# 1 (no spatial dims, one, two), a prime, even x prime, primes, and pixel_norm's block + 1
SPATIAL_SHAPES = [(), (1,), (SPATIAL[3],), (1, 1), (SPATIAL[1], SPATIAL[2]), (SPATIAL[5], SPATIAL[4]),
                  (1, PIXEL_BLOCK + 1)]
SMALL_SHAPES = [(n, c) + sp for n in BATCH for c in CHANNELS for sp in SPATIAL_SHAPES]
# (C, num_groups): one group, one channel per group, and groups of 2 and 3 channels
CHANNEL_GROUPS = [(1, 1), (3, 1), (3, 3), (5, 5), (5, 1), (6, 2), (6, 3)]


def numel(shape):
    return math.prod(shape)


def spatial(shape):
    return math.prod(shape[2:])


# ----------------------------------------------------------------------------- batch norm
_BATCH_NORM_FAST = [  # "large": over CHANNEL_REUSE_BYTES of x and dy a channel; "short": planes under SHORT_RUN_BYTES
    (7, 31, 151),      # 32767 elements: one below the OpenMP threshold; 31 channels of short planes
    (2, 2, 8192),      # exactly the threshold; 2 channels of 16384 values, a channel at a time
    (2, 4, 4096),      # exactly the threshold; 4 channels, a channel at a time
    (2, 8, 2048),      # exactly the threshold; 8 channels, a channel at a time
    (2, 5, 61, 59),    # parallel, 5 channels of 7198 values, a channel at a time
    (4, 3, 67, 71),    # parallel, 3 channels, a channel at a time
    (3, 1, 101, 113),  # parallel, one channel (every other thread idle)
    (2, 33, 4099),     # parallel, 33 channels; runs of 4099 > 1024 values (the lane fold)
    (3, 67, 13, 17),   # parallel, 67 channels of 221 values: short (sample-major) in float32, not in float64
    (1031, 33),        # BatchNorm1d (S = 1): runs of one value, short: sample-major, 33 channels
    (8209, 5),         # S = 1, sample-major, 5 channels
    (2, 1, 4099),      # serial, one channel of 8198 values
    (1, 2, 8209),      # serial, one sample
    (4, 37, 16, 17),   # parallel, a channel at a time, 37 channels: planes of 272 values, not short
    (2, 3, 16, 17),    # serial, a channel at a time
    (2, 1, 65536),     # exactly 1 MiB of x and dy in float32: a channel at a time; large in float64
    (2, 1, 65537),     # large in both dtypes: the backward sweeps sample-major
]
BATCH_NORM_CASES = SMALL_SHAPES + [(2, 3), (3, 5, 7), (2, 3, 5, 7), (1, 1, 2, 5)] + _BATCH_NORM_FAST

# ----------------------------------------------------------------------------- instance norm
_INSTANCE_NORM_FAST = [  # the (1, N*C, S) view: one sample, so a channel is one plane
    (2, 3, 91, 97),    # S = 8827: 6 channels of the view, parallel, a channel at a time
    (4, 17, 23, 29),   # parallel, a channel at a time, 68 channels of the view
    (1, 1, 181, 191),  # S = 34571: parallel, one channel of the view
    (1, 2, 4099),      # serial, a channel at a time
    (1, 2, 8209),      # serial
    (2, 4, 64, 64),    # exactly the threshold; S = 4096, 8 channels
    (1, 5, 8191),      # parallel, 5 channels
    (3, 11, 8209),     # parallel, 33 channels of the view
    (8, 64, 9, 9),     # parallel, short planes (81 values): sample-major, 512 channels of the view
    (1, 3, 17, 19),    # serial, a channel at a time in both dtypes
    (1, 1, 131072),    # exactly 1 MiB of x and dy in float32: a channel at a time; large in float64
    (1, 1, 131073),    # large in both dtypes: the backward sweeps sample-major
]
INSTANCE_NORM_CASES = SMALL_SHAPES + [(2, 3, 7), (3, 2, 5, 4), (1, 5, 1, 2)] + _INSTANCE_NORM_FAST

# ----------------------------------------------------------------------------- group norm
_GROUP_NORM_FAST = [
    ((3, 5, 47, 53), 5),    # S > 1: parallel, 15 (n, g) sets
    ((2, 6, 61, 59), 2),    # S > 1: parallel, 4 sets of 3 channels
    ((8, 64, 9, 9), 32),    # S > 1: parallel, 256 sets of 2 channels
    ((1, 2, 131, 137), 1),  # S > 1: parallel, one set (every other thread idle)
    ((1031, 33), 3),        # S = 1: parallel, 3093 sets of 11 channels; partials folded every 64 rows
    ((70, 6, 1), 2),        # S = 1 (a trailing 1): serial, 140 sets: one fold midway, one at the end
    ((3, 12291), 3),        # S = 1: parallel, 9 sets of 4097 channels (long rows, several groups)
    ((1, 33002), 2),        # S = 1: parallel, 2 sets
    ((257, 129), 1),        # one group, S = 1 (LayerNorm's view), 129 < 2048: row path, parallel
    ((9, 4099), 1),         # one group, S = 1, 4099 >= 2048: the column split, 3 tiles, parallel
    ((1, 65537), 1),        # the column split: 33 tiles of one row, parallel
    ((7, 31, 151), 31),     # one below the OpenMP threshold
    ((40, 6, 13, 13), 3),   # S > 1: parallel, 120 sets: blocks of 16 and a remainder on 2 and 3 threads
]
GROUP_NORM_CASES = ([((n, c) + sp, g) for n in BATCH for c, g in CHANNEL_GROUPS for sp in SPATIAL_SHAPES
                     if n * (c // g) * math.prod(sp) > 1]  # a set of one value is an error
                    + [((2, 6, 5), 3), ((3, 4, 3, 5), 2), ((2, 5), 5), ((1, 6, 2, 3), 1)] + _GROUP_NORM_FAST)

# ----------------------------------------------------------------------------- layer norm
_LAYER_NORM_FAST = [
    ((1, 2048), (2048,)),        # the column split at its threshold: one tile, one row, serial
    ((3, 2047), (2047,)),        # one below: the row path
    ((2, 2049), (2049,)),        # tile + 1: two tiles, the second of one column
    ((9, 4099), (4099,)),        # three tiles, parallel
    ((2, 65537), (65537,)),      # 33 tiles (the last of one column), two rows, parallel
    ((17, 2053), (2053,)),       # two tiles on three threads (one idle), parallel
    ((67, 3, 683), (3, 683)),    # D = 2049 over two dims, 67 > 64 rows: the column path's row folds
    ((257, 129), (129,)),        # row path, parallel, 257 rows (partials folded every 64)
    ((5, 7, 937), (937,)),       # row path, 32795 elements: just above the OpenMP threshold
    ((2, 3, 2, 1031), (2, 1031)),  # D = 2062 over two dims, 6 rows: two tiles, serial
]
LAYER_NORM_CASES = ([((m, d), (d,)) for m in BATCH for d in GEMM_SIZES]
                    + [((4, 17), (17,)), ((2, 3, 5, 7), (5, 7)), ((3, 4, 5), (3, 4, 5)), ((3, 1), (1,)),
                       ((13,), (13,)), ((2, 1, 7, 1), (7, 1))] + _LAYER_NORM_FAST)

# ----------------------------------------------------------------------------- pixel norm
_PIXEL_NORM_FAST = [
    (7, 31, 151),      # one below the OpenMP threshold
    (2, 64, 16, 16),   # exactly the threshold; one block of 256 pixels a sample: 2 work items
    (1, 128, 257),     # parallel: block + 1, 2 work items (the second of one pixel)
    (33, 5, 15, 15),   # parallel, 33 work items of 225 pixels
    (3, 5, 47, 53),    # parallel, 10 blocks a sample (the last of 187 pixels): 30 work items
    (1, 1, 33001),     # one channel, 129 blocks
]
PIXEL_NORM_CASES = SMALL_SHAPES + [(2, 3), (2, 4, 5, 3), (1, 7, 13)] + _PIXEL_NORM_FAST


# ----------------------------------------------------------------------------- the paths a case takes
def batch_norm_path(shape, itemsize, view_channels=None):
    """(parallel, forward sample-major, backward sample-major, work items) of the CPU BatchNorm
    kernels on x (N, C, *); the (1, N*C, S) view of InstanceNorm with view_channels=True.  Both
    sweep sample-major over short planes, the backward also over channels past its reuse bound."""
    N, C, S = (1, shape[0] * shape[1], spatial(shape)) if view_channels else (shape[0], shape[1], spatial(shape))
    short = S * itemsize < SHORT_RUN_BYTES
    return numel(shape) >= PARALLEL_MIN, short, short or N * S * 2 * itemsize > CHANNEL_REUSE_BYTES, C


def group_norm_path(shape, G):
    """(parallel, kind, work items): kind "channel runs" (S > 1), "rows" (S = 1) or "columns"
    (the LayerNorm column split of the backward, in tiles)."""
    N, C, S = shape[0], shape[1], spatial(shape)
    if G == 1 and S == 1 and C >= COLUMN_SPLIT_MIN:
        return numel(shape) >= PARALLEL_MIN, "columns", -(-C // COLUMN_TILE)
    return numel(shape) >= PARALLEL_MIN, "rows" if S == 1 else "channel runs", N * G


def layer_norm_view(shape, ns):
    """The (M, D) view of layer_norm's x."""
    D = math.prod(ns)
    return numel(shape) // D if D else 0, D


def pixel_norm_path(shape):
    """(parallel, work items: samples x blocks of pixels)."""
    return numel(shape) >= PARALLEL_MIN, shape[0] * -(-spatial(shape) // PIXEL_BLOCK)


def shape_id(shape):
    return "x".join(map(str, shape)) or "scalar"


def group_id(c):
    return f"{shape_id(c[0])}-G{c[1]}"


def layer_id(c):
    return f"{shape_id(c[0])}-ns{shape_id(c[1])}"
