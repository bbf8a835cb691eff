// The pooling family: max / avg pooling, their adaptive forms, and max unpooling.  1-D ops
// are the 2-D kernels with H = 1 (a reshape in Python, no copy).
//
// Layouts (row-major, C-contiguous); every (n, c) plane is independent:
//   x   (N, C, H, W)           input
//   y   (N, C, H_out, W_out)   output
//   idx (N, C, H_out, W_out)   int64: the flat position h*W + w of the chosen element
//                              inside its (n, c) plane of x (for 1-D: the position in L)
//
// Windows (PyTorch's), per dimension (rows shown; columns alike):
//   max: taps oh*stride_h - pad_top + i*dilation_h, i < kH, implicit -inf padding; the max is
//        the first in row-major window order on ties, and NaN wins (the last NaN seen).
//   avg: rows [hs, he) with hs = oh*stride_h - pad_top, he = min(hs + kH, H + pad_top) (no
//        dilation); divisor = divisor_override if != 0, else with count_include_pad
//        (he-hs)*(we-ws) taken before clipping to the input (an overhang of ceil_mode past the
//        padding is never counted), else the clipped window's size.  A window of zero clipped
//        size gives 0.
//   adaptive: rows [floor(oh*H/H_out), ceil((oh+1)*H/H_out)).
//
// Output size: floor((L + 2p - d(k-1) - 1 + (ceil_mode ? s-1 : 0)) / s) + 1, then with
// ceil_mode a last window starting inside the right padding is dropped:
// if (out-1)*s >= L + p then out -= 1.  Validation follows PyTorch: k, s, d > 0,
// 0 <= p <= k/2, out >= 1; and no max window may lie wholly in the padding (possible with
// dilation: PyTorch then returns -inf with an index outside the plane; here it is an error).
//
// max_unpool2d: y (N, C, H_out, W_out) = 0 except y[plane][idx] = x (the last write wins
// on a repeated index, as PyTorch's CPU kernel); its input-gradient gathers dy at idx.  Its
// output size is (L-1)s - 2p + k, or a requested size strictly within s of that.
//
// Backward contract: every kernel writes fresh outputs (=); accumulation into .grad is the
// Python engine's job.  Kernels that read indices check each one as they use it (one pass):
// an index outside its plane is skipped, and the kernel reports the flat position of the first
// such index (-1 if none) so that the caller raises and discards the output.
//
// Implementations: *_ref (csrc/ref, plain loops: the spec), *_cpu (csrc/cpu, OpenMP + SIMD),
// *_cuda (csrc/cuda, also run on the emulated device).  Params: csrc/params/pool_params.cpp.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "common.h"

namespace pycnn {

struct Pool2dParams {
  index_t N = 0, C = 0, H = 0, W = 0;  // input
  index_t kH = 1, kW = 1;              // window (unused by the adaptive ops)
  index_t stride_h = 1, stride_w = 1;
  index_t pad_top = 0, pad_left = 0;   // symmetric: the bottom / right padding is the same
  index_t dilation_h = 1, dilation_w = 1;
  bool ceil_mode = false;
  bool adaptive = false;          // adaptive windows (make_adaptive_pool2d_params)
  bool count_include_pad = true;  // avg only
  index_t divisor_override = 0;   // avg only; 0: none (PyTorch rejects 0 as a divisor)
  index_t H_out = 0, W_out = 0;

  PYCNN_HD index_t planes() const { return N * C; }
  PYCNN_HD index_t in_plane() const { return H * W; }
  PYCNN_HD index_t out_plane() const { return H_out * W_out; }
  PYCNN_HD index_t in_numel() const { return N * C * H * W; }
  PYCNN_HD index_t out_numel() const { return N * C * H_out * W_out; }
};

// ------------------------------------------------------------------ index maps (host + device)
// The valid taps of max-pool output o along one dimension: first, first + d, ... (n of them).
struct PoolTaps {
  index_t first, n;
};
PYCNN_HD PoolTaps max_pool_taps(index_t o, index_t L, index_t k, index_t s, index_t p, index_t d) {
  const index_t start = o * s - p;
  const index_t j0 = start >= 0 ? 0 : (-start + d - 1) / d;   // first tap with start + j*d >= 0
  const index_t j1 = hd_min(k, (L - start + d - 1) / d);      // taps with start + j*d < L
  return {start + j0 * d, hd_max<index_t>(j1 - j0, 0)};
}

// The clipped avg-pool window [begin, end) of output o along one dimension, and that
// dimension's share of the divisor (the unclipped span with count_include_pad).
struct PoolSpan {
  index_t begin, end, count;
};
PYCNN_HD PoolSpan avg_pool_span(index_t o, index_t L, index_t k, index_t s, index_t p,
                                bool count_include_pad) {
  const index_t start = o * s - p, stop = hd_min(start + k, L + p);
  const index_t b = hd_max<index_t>(start, 0), e = hd_min(stop, L);
  return {b, e, count_include_pad ? stop - start : e - b};
}

// Adaptive window [start, end) of output i of `out` over an input of L.
PYCNN_HD index_t adaptive_start(index_t i, index_t L, index_t out) { return (i * L) / out; }
PYCNN_HD index_t adaptive_end(index_t i, index_t L, index_t out) {
  return ((i + 1) * L + out - 1) / out;
}
PYCNN_HD PoolSpan adaptive_span(index_t o, index_t L, index_t out) {
  const index_t b = adaptive_start(o, L, out), e = adaptive_end(o, L, out);
  return {b, e, e - b};
}

// ------------------------------------------------------------------ params (csrc/params)
// Validate and fill every field (std::invalid_argument naming op, the argument and the shapes;
// op.spatial = 1 prints a 1-D op's arguments and shapes as its user gave them).  x_shape is
// (N, C, H, W); kernel / stride / padding / dilation / output_size are (h, w).
// Avg pooling also takes count_include_pad and divisor_override (std::nullopt: none; 0 is an error).
Pool2dParams make_pool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                std::array<index_t, 2> kernel, std::array<index_t, 2> stride,
                                std::array<index_t, 2> padding, std::array<index_t, 2> dilation,
                                bool ceil_mode, bool max_pool, bool count_include_pad = true,
                                std::optional<index_t> divisor_override = std::nullopt);

// Adaptive pools: output_size (H_out, W_out), both >= 0 (0: an empty output, as PyTorch);
// the input plane non-empty.
Pool2dParams make_adaptive_pool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                         std::array<index_t, 2> output_size);

// max_unpool2d: x (N, C, H, W) is the pooled input; the output plane is the default
// (L-1)s - 2p + k or, when given, output_size (each within (default - s, default + s)).
Pool2dParams make_max_unpool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                      std::array<index_t, 2> kernel, std::array<index_t, 2> stride,
                                      std::array<index_t, 2> padding,
                                      std::optional<std::array<index_t, 2>> output_size);


// The output rows (or columns) [first, last] whose windows contain input coordinate h, for the
// gathers of the backward kernels (a candidate still has to check its index or its clip):
//   regular windows: oh*s - p + i*d == h for some tap i  -> step through the taps (see the kernels);
//   avg windows [oh*s - p, oh*s - p + k): oh in [ceil((h + p - k + 1) / s), floor((h + p) / s)];
//   adaptive windows: oh in [floor(h*out/L), ceil((h+1)*out/L) - 1].
struct PoolRange {
  index_t first, last;  // inclusive; empty when first > last
};
PYCNN_HD index_t floor_div(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
PYCNN_HD PoolRange avg_pool_outputs_of(index_t h, index_t L_out, index_t k, index_t s, index_t p) {
  return {hd_max<index_t>(floor_div(h + p - k, s) + 1, 0), hd_min(floor_div(h + p, s), L_out - 1)};
}
PYCNN_HD PoolRange adaptive_outputs_of(index_t h, index_t L, index_t L_out) {
  return {(h * L_out) / L, hd_min(((h + 1) * L_out + L - 1) / L - 1, L_out - 1)};
}

// ------------------------------------------------------------------ reference (csrc/ref)
// Plain loops: the executable spec, and a fallback.
template <typename T>
void max_pool2d_forward_ref(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
// dx = scatter-add of dy at idx (also the backward of adaptive_max_pool2d: p's sizes only).
template <typename T>
index_t max_pool2d_backward_ref(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p);
template <typename T>
void avg_pool2d_forward_ref(T* y, const T* x, const Pool2dParams& p);
template <typename T>
void avg_pool2d_backward_ref(T* dx, const T* dy, const Pool2dParams& p);
template <typename T>
void adaptive_avg_pool2d_forward_ref(T* y, const T* x, const Pool2dParams& p);
template <typename T>
void adaptive_avg_pool2d_backward_ref(T* dx, const T* dy, const Pool2dParams& p);
template <typename T>
void adaptive_max_pool2d_forward_ref(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
// y (p's output plane) = 0 except y[idx] = x.  p.H, p.W is x's plane.
template <typename T>
index_t max_unpool2d_forward_ref(T* y, const T* x, const std::int64_t* idx, const Pool2dParams& p);
// dx (p's input plane) = dy[idx].
template <typename T>
index_t max_unpool2d_backward_ref(T* dx, const T* dy, const std::int64_t* idx,
                                  const Pool2dParams& p);

// ------------------------------------------------------------------ CPU (csrc/cpu)
// OpenMP over the N*C planes (one thread owns a plane: the scatters cannot race);
// interior windows skip the bounds clipping.  The backward kernels use only p's sizes.
template <typename T>
void max_pool2d_forward_cpu(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
template <typename T>
index_t max_pool2d_backward_cpu(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p);
template <typename T>
void avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dParams& p);
template <typename T>
void avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dParams& p);
template <typename T>
void adaptive_avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dParams& p);
template <typename T>
void adaptive_avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dParams& p);
template <typename T>
void adaptive_max_pool2d_forward_cpu(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
template <typename T>
index_t max_unpool2d_forward_cpu(T* y, const T* x, const std::int64_t* idx, const Pool2dParams& p);
template <typename T>
index_t max_unpool2d_backward_cpu(T* dx, const T* dy, const std::int64_t* idx,
                                  const Pool2dParams& p);

// ------------------------------------------------------------------ CUDA (csrc/cuda)
// Launchers on device pointers, on `stream` (a cudaStream_t); the emulated device runs the same.
// The forwards take one thread per output, the backwards one per input gathering over the
// windows that cover it (deterministic); avg/max cover the adaptive ops through p.adaptive, and
// the backwards take the forward's params.  max_unpool2d's kernels keep the smallest bad index
// position in *first_bad (caller-initialized to ~0).
template <typename T>
void max_pool2d_forward_cuda(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p, void* stream);
template <typename T>
void max_pool2d_backward_cuda(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p, void* stream);
template <typename T>
void avg_pool2d_forward_cuda(T* y, const T* x, const Pool2dParams& p, void* stream);
template <typename T>
void avg_pool2d_backward_cuda(T* dx, const T* dy, const Pool2dParams& p, void* stream);
template <typename T>
void max_unpool2d_forward_cuda(T* y, unsigned long long* first_bad, const T* x, const std::int64_t* idx,
                               const Pool2dParams& p, void* stream);
template <typename T>
void max_unpool2d_backward_cuda(T* dx, unsigned long long* first_bad, const T* dy, const std::int64_t* idx,
                                const Pool2dParams& p, void* stream);

}  // namespace pycnn
