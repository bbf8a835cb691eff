// The pooling family: max / avg pooling, their adaptive forms, and max unpooling.  1-D ops
// are the 2-D kernels with H = 1 (a reshape in Python, no copy).
//
// Layouts (row-major, C-contiguous); every (n, c) plane is independent:
//   x   (N, C, H, W)           input
//   y   (N, C, H_out, W_out)   output
//   idx (N, C, H_out, W_out)   int64: the flat position h*W + w of the chosen element
//                              inside its (n, c) plane of x (for 1-D: the position in L)
//
// Windows (PyTorch's):
//   max: rows oh*sH - pH + i*dH, i < kH (columns alike), implicit -inf padding; the max is
//        the first in row-major window order on ties, and NaN wins (the last NaN seen).
//   avg: rows [hs, he) with hs = oh*sH - pH, he = min(hs + kH, H + pH) (no dilation);
//        divisor = divisor_override if != 0, else with count_include_pad (he-hs)*(we-ws)
//        taken before clipping to the input (an overhang of ceil_mode past the padding is
//        never counted), else the clipped window's size.  A window of zero clipped size
//        gives 0.
//   adaptive: rows [floor(oh*H/H_out), ceil((oh+1)*H/H_out)) (columns alike).
//
// Output size: floor((L + 2p - d(k-1) - 1 + (ceil_mode ? s-1 : 0)) / s) + 1, then with
// ceil_mode a last window starting inside the right padding is dropped:
// if (out-1)*s >= L + p then out -= 1.  Validation follows PyTorch: k, s, d > 0,
// 0 <= p <= k/2, out >= 1; and no max window may lie wholly in the padding (possible with
// dilation: PyTorch then returns -inf with an index outside the plane; here it is an error).
//
// max_unpool2d: y (N, C, H_out, W_out) = 0 except y[plane][idx] = x (the last write wins
// on a repeated index, as PyTorch's CPU kernel); its input-gradient gathers dy at idx.
//
// Backward contract: every kernel writes fresh outputs (=); accumulation into .grad is the
// Python engine's job.  Kernels that read indices check each one as they use it (one pass):
// an index outside its plane is skipped, and the kernel returns the flat position of the first
// such index (-1 if none) so that the caller raises and discards the output.
#pragma once
#include <array>
#include <cstdint>

#include "common.h"

namespace pycnn {

struct Pool2dParams {
  index_t N = 0, C = 0, H = 0, W = 0;  // input
  index_t kH = 1, kW = 1;              // window (unused by the adaptive ops)
  index_t sH = 1, sW = 1;
  index_t pH = 0, pW = 0;
  index_t dH = 1, dW = 1;
  bool ceil_mode = false;
  index_t H_out = 0, W_out = 0;

  index_t planes() const { return N * C; }
  index_t in_plane() const { return H * W; }
  index_t out_plane() const { return H_out * W_out; }
};

// PyTorch's pooling_output_shape (floor division, may be <= 0: callers check).
inline index_t pool_out_size(index_t L, index_t k, index_t s, index_t p, index_t d,
                             bool ceil_mode) {
  const index_t num = L + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  index_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= L + p) --out;
  return out;
}

// (L-1)s - 2p + k: max_unpool's default output size.
inline index_t unpool_default_size(index_t L, index_t k, index_t s, index_t p) {
  return (L - 1) * s - 2 * p + k;
}

// Adaptive window [start, end) of output i of `out` over an input of L.
inline index_t adaptive_start(index_t i, index_t L, index_t out) { return (i * L) / out; }
inline index_t adaptive_end(index_t i, index_t L, index_t out) {
  return ((i + 1) * L + out - 1) / out;
}

// Validates and fills every field for max/avg pooling (std::invalid_argument naming op,
// the argument and the shapes).  kernel/stride/padding/dilation are (h, w).
Pool2dParams make_pool2d_params(const char* op, const std::array<index_t, 4>& x_shape,
                                std::array<index_t, 2> kernel, std::array<index_t, 2> stride,
                                std::array<index_t, 2> padding, std::array<index_t, 2> dilation,
                                bool ceil_mode, bool max_pool);

// Adaptive pools: output_size (H_out, W_out), both >= 0 (0: an empty output, as PyTorch);
// the input plane non-empty.
Pool2dParams make_adaptive_pool2d_params(const char* op, const std::array<index_t, 4>& x_shape,
                                         std::array<index_t, 2> output_size);

// max_unpool2d: x (N, C, H, W) is the pooled input, output (H_out, W_out) >= 1 explicit.
Pool2dParams make_max_unpool2d_params(const char* op, const std::array<index_t, 4>& x_shape,
                                      std::array<index_t, 2> output_size);

// ------------------------------------------------------------------ reference (csrc/ref)
// Plain loops: the executable spec, and a fallback.
template <typename T>
void max_pool2d_forward_ref(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
// dx = scatter-add of dy at idx (also the backward of adaptive_max_pool2d: p's sizes only).
template <typename T>
index_t max_pool2d_backward_ref(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p);
// divisor_override == 0 means none (PyTorch rejects 0 as a divisor).
template <typename T>
void avg_pool2d_forward_ref(T* y, const T* x, const Pool2dParams& p, bool count_include_pad,
                            index_t divisor_override);
template <typename T>
void avg_pool2d_backward_ref(T* dx, const T* dy, const Pool2dParams& p, bool count_include_pad,
                             index_t divisor_override);
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
// interior windows skip the bounds clipping.
template <typename T>
void max_pool2d_forward_cpu(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p);
template <typename T>
index_t max_pool2d_backward_cpu(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p);
template <typename T>
void avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dParams& p, bool count_include_pad,
                            index_t divisor_override);
template <typename T>
void avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dParams& p, bool count_include_pad,
                             index_t divisor_override);
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

}  // namespace pycnn
