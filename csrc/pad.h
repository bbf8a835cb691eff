// Non-constant padding (reflect | replicate | circular) of the two trailing dims,
// as torch.nn.functional.pad; 1-D padding is the H = 1, top = bottom = 0 case.
//   inp is (N, C, H, W), out is (N, C, H + top + bottom, W + left + right).
//   out[n,c,oh,ow] = inp[n,c, src(oh - top, H), src(ow - left, W)], where for i < 0 or i >= n
//     reflect:   -i  or  2(n-1) - i      (edge not repeated; needs pad < n)
//     replicate: clamp(i, 0, n-1)
//     circular:  i mod n                 (needs pad <= n)
//   Backward: dinp[src] += dout[o] over every output o that reads src (fresh dinp, `=` contract).
//
// Implementations: pad2d_*_ref (csrc/ref, plain loops, the spec), pad2d_*_cpu (csrc/cpu, OpenMP
// over (plane, row), race-free gather in backward) and pad2d_*_cuda (csrc/cuda).
#pragma once
#include <array>
#include <string>

#include "common.h"

namespace pycnn {

enum class PadMode { reflect, replicate, circular };

inline PadMode pad_mode_from_string(const std::string& s) {
  if (s == "reflect") return PadMode::reflect;
  if (s == "replicate") return PadMode::replicate;
  if (s == "circular") return PadMode::circular;
  throw std::invalid_argument(msg("pad: mode must be 'reflect', 'replicate' or 'circular', got '", s, "'"));
}

inline const char* pad_mode_name(PadMode m) {
  return m == PadMode::reflect ? "reflect" : m == PadMode::replicate ? "replicate" : "circular";
}

struct Pad2dParams {
  index_t N = 1, C = 1, H = 1, W = 1;  // input sizes
  index_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  PadMode mode = PadMode::reflect;

  PYCNN_HD index_t H_out() const { return H + pad_top + pad_bottom; }
  PYCNN_HD index_t W_out() const { return W + pad_left + pad_right; }
  PYCNN_HD index_t in_numel() const { return N * C * H * W; }
  PYCNN_HD index_t out_numel() const { return N * C * H_out() * W_out(); }
};

// Source index in [0, n) that output coordinate i (already shifted by the low pad) reads.
PYCNN_HD index_t pad_source_index(index_t i, index_t n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::reflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::replicate:
      return i < 0 ? 0 : n - 1;
    case PadMode::circular:
    default:
      return ((i % n) + n) % n;
  }
}

// The output coordinates that read input coordinate i along an axis of size n padded by (lo, hi):
// at most three runs [start, start + count): the interior copy, and the reflect / replicate /
// circular copies in the low and the high padding (the backward gathers of csrc/cuda).
struct PadRuns {
  index_t start[3], count[3];
  int n = 0;
  PYCNN_HD void add(index_t s, index_t c) {
    if (c > 0) start[n] = s, count[n] = c, ++n;
  }
};
PYCNN_HD PadRuns pad_outputs_of(index_t i, index_t n, index_t lo, index_t hi, PadMode mode) {
  PadRuns r;
  r.add(lo + i, 1);
  switch (mode) {
    case PadMode::reflect:  // o - lo = -i (low side), 2(n-1) - i (high side)
      r.add(lo - i, i >= 1 && i <= lo ? 1 : 0);
      r.add(lo + 2 * (n - 1) - i, i <= n - 2 && 2 * (n - 1) - i < n + hi ? 1 : 0);
      break;
    case PadMode::replicate:  // the edges fill their whole padding
      r.add(0, i == 0 ? lo : 0);
      r.add(lo + n, i == n - 1 ? hi : 0);
      break;
    case PadMode::circular:  // o - lo = i - n (low side), i + n (high side)
      r.add(lo + i - n, i - n >= -lo ? 1 : 0);
      r.add(lo + i + n, i < hi ? 1 : 0);
      break;
  }
  return r;
}

// PyTorch's limits: non-negative pads, non-empty dims, reflect pad < size, circular pad <= size.
// x_shape is (N, C, H, W); padding = {top, bottom, left, right} (F.pad's torch order is
// (left, right, top, bottom): the functional layer reorders it).  A 1-D pad is H = 1 with
// top = bottom = 0.  Params: csrc/params/pad_params.cpp.
Pad2dParams make_pad2d_params(const char* op, const std::array<index_t, 4>& x_shape,
                              const std::array<index_t, 4>& padding, PadMode mode);

// out is (N, C, H_out, W_out); inp is (N, C, H, W).
template <typename T>
void pad2d_forward_ref(T* out, const T* inp, const Pad2dParams& p);
template <typename T>
void pad2d_forward_cpu(T* out, const T* inp, const Pad2dParams& p);

// dinp is (N, C, H, W), written fresh; dout is (N, C, H_out, W_out).
template <typename T>
void pad2d_backward_ref(T* dinp, const T* dout, const Pad2dParams& p);
template <typename T>
void pad2d_backward_cpu(T* dinp, const T* dout, const Pad2dParams& p);

// CUDA (csrc/cuda): forward one thread per output, backward one per input gathering its runs.
template <typename T>
void pad2d_forward_cuda(T* out, const T* inp, const Pad2dParams& p, void* stream);
template <typename T>
void pad2d_backward_cuda(T* dinp, const T* dout, const Pad2dParams& p, void* stream);

}  // namespace pycnn
