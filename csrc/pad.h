// Non-constant padding (reflect | replicate | circular) of the two trailing dims,
// as torch.nn.functional.pad; 1-D padding is the H = 1, top = bottom = 0 case.
//   inp is (N, C, H, W), out is (N, C, H + top + bottom, W + left + right).
//   out[n,c,oh,ow] = inp[n,c, src(oh - top, H), src(ow - left, W)], where for i < 0 or i >= n
//     reflect:   -i  or  2(n-1) - i      (edge not repeated; needs pad < n)
//     replicate: clamp(i, 0, n-1)
//     circular:  i mod n                 (needs pad <= n)
//   Backward: dinp[src] += dout[o] over every output o that reads src (fresh dinp, `=` contract).
//
// Implementations: pad2d_*_ref (csrc/ref, plain loops, the spec) and pad2d_*_cpu
// (csrc/cpu, OpenMP over (plane, row), race-free gather in backward).
#pragma once
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
  index_t N = 1, C = 1, H = 1, W = 1;             // input sizes
  index_t left = 0, right = 0, top = 0, bottom = 0;  // torch order: (left, right, top, bottom)
  PadMode mode = PadMode::reflect;

  index_t H_out() const { return H + top + bottom; }
  index_t W_out() const { return W + left + right; }
};

// Source index in [0, n) that output coordinate i (already shifted by the low pad) reads.
inline index_t pad_source_index(index_t i, index_t n, PadMode mode) {
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

// PyTorch's limits: non-negative pads, non-empty dims, reflect pad < size, circular pad <= size.
inline void validate(const Pad2dParams& p) {
  const char* mode = pad_mode_name(p.mode);
  PYCNN_CHECK(p.N >= 0 && p.C >= 0, "pad: batch/channel sizes must be >= 0, got N=", p.N, " C=", p.C);
  PYCNN_CHECK(p.left >= 0 && p.right >= 0 && p.top >= 0 && p.bottom >= 0, "pad: ", mode,
              " padding must be non-negative, got (left, right, top, bottom) = (", p.left, ", ",
              p.right, ", ", p.top, ", ", p.bottom, ")");
  PYCNN_CHECK(p.H >= 1 && p.W >= 1, "pad: ", mode, " padding needs non-empty padded dims, got (H, W) = (",
              p.H, ", ", p.W, ")");
  const index_t sizes[2] = {p.H, p.W};
  const index_t lo[2] = {p.top, p.left}, hi[2] = {p.bottom, p.right};
  const char* dim[2] = {"-2 (H)", "-1 (W)"};
  for (int d = 0; d < 2; ++d) {
    if (p.mode == PadMode::reflect)
      PYCNN_CHECK(lo[d] < sizes[d] && hi[d] < sizes[d], "pad: reflect padding (", lo[d], ", ", hi[d],
                  ") must be smaller than the input size ", sizes[d], " of dim ", dim[d]);
    if (p.mode == PadMode::circular)
      PYCNN_CHECK(lo[d] <= sizes[d] && hi[d] <= sizes[d], "pad: circular padding (", lo[d], ", ", hi[d],
                  ") must be at most the input size ", sizes[d], " of dim ", dim[d]);
  }
}

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

}  // namespace pycnn
