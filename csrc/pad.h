// Non-constant padding (reflect | replicate | circular) of up to three trailing dims, as
// torch.nn.functional.pad; 1-D and 2-D padding are the cases D = 1 (and H = 1) with no pad there.
//   inp is (N, C, D, H, W), out is (N, C, D_out, H_out, W_out), each axis padded by (lo, hi):
//   out[n,c,od,oh,ow] = inp[n,c, src_D(od), src_H(oh), src_W(ow)], with per axis of size n
//   (i = o - lo, and for i < 0 or i >= n)
//     reflect:   -i  or  2(n-1) - i      (edge not repeated; needs pad < n)
//     replicate: clamp(i, 0, n-1)
//     circular:  i mod n                 (needs pad <= n)
//   A negative pad crops, as in torch: reflect and replicate pad by the positive parts and then
//   crop (the formula above, unchanged, for any signed lo); circular crops first and then wraps
//   the cropped axis of size m = n - crop_lo - crop_hi:  src = crop_lo + (o - max(lo, 0)) mod m.
//   Backward: dinp[src] += dout[o] over every output o that reads src (fresh dinp, `=` contract).
//
// Implementations: pad_*_ref (csrc/ref, plain loops, the spec), pad_*_cpu (csrc/cpu, OpenMP
// over (plane, depth, row), race-free gather in backward) and pad_*_cuda (csrc/cuda).
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

// Source index in [0, n) that coordinate i (already shifted by the low pad) reads, for
// non-negative pads (and for reflect / replicate with any pads).
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

// The output coordinates that read input coordinate i along an axis of size n padded by
// non-negative (lo, hi): at most three runs [start, start + count): the interior copy, and the
// reflect / replicate / circular copies in the low and the high padding.
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

// One padded axis: input size n, signed pads (lo, hi).
struct PadAxis {
  index_t n = 1, lo = 0, hi = 0;

  PYCNN_HD index_t out() const { return n + lo + hi; }
  PYCNN_HD index_t crop_lo() const { return lo < 0 ? -lo : 0; }
  PYCNN_HD index_t crop_hi() const { return hi < 0 ? -hi : 0; }
  PYCNN_HD index_t pad_lo() const { return lo > 0 ? lo : 0; }
  PYCNN_HD index_t pad_hi() const { return hi > 0 ? hi : 0; }
  // circular wraps the cropped axis; reflect and replicate pad the whole axis, then crop
  PYCNN_HD index_t period() const { return n - crop_lo() - crop_hi(); }

  // The input coordinate output coordinate o reads (the header comment).
  PYCNN_HD index_t source(index_t o, PadMode mode) const {
    if (mode != PadMode::circular) return pad_source_index(o - lo, n, mode);
    const index_t m = period();
    return crop_lo() + (((o - pad_lo()) % m) + m) % m;
  }

  // The outputs [begin, end) that copy the input contiguously from input coordinate src_begin
  // (source(o) = src_begin + o - begin there); every other output is a border.
  PYCNN_HD void interior(PadMode mode, index_t& begin, index_t& end, index_t& src_begin) const {
    if (mode == PadMode::circular) {
      begin = pad_lo(), end = pad_lo() + period(), src_begin = crop_lo();
      return;
    }
    begin = pad_lo(), end = hd_min(lo + n, out()), src_begin = begin - lo;
    if (end < begin) end = begin;
  }

  // The output runs that read input coordinate i (the backward gathers of csrc/cuda): the runs of
  // the uncropped axis, then for reflect / replicate shifted by the crop and clipped to the output.
  PYCNN_HD PadRuns outputs_of(index_t i, PadMode mode) const {
    if (mode == PadMode::circular) {
      const index_t j = i - crop_lo(), m = period();
      return j >= 0 && j < m ? pad_outputs_of(j, m, pad_lo(), pad_hi(), mode) : PadRuns();
    }
    const PadRuns full = pad_outputs_of(i, n, pad_lo(), pad_hi(), mode);
    PadRuns r;
    for (int k = 0; k < full.n; ++k) {
      const index_t s = hd_max(full.start[k] - crop_lo(), index_t(0));
      const index_t e = hd_min(full.start[k] + full.count[k] - crop_lo(), out());
      r.add(s, e - s);
    }
    return r;
  }
};

struct PadParams {
  index_t N = 1, C = 1;
  PadAxis d, h, w;  // the padded axes (D, H, W); D = 1 unpadded for 2-D pads, H = 1 too for 1-D
  PadMode mode = PadMode::reflect;

  PYCNN_HD index_t planes() const { return N * C; }
  PYCNN_HD index_t in_numel() const { return N * C * d.n * h.n * w.n; }
  PYCNN_HD index_t out_numel() const { return N * C * d.out() * h.out() * w.out(); }
};

// PyTorch's rules: non-empty padded dims; reflect pads < the size, circular pads <= the cropped
// size; every padded size >= 1 (a negative pad crops).  x_shape is (N, C, D, H, W); padding =
// {front, back, top, bottom, left, right} (F.pad's torch order starts at the last dim: the
// functional layer reorders it).  Params: csrc/params/pad_params.cpp.
PadParams make_pad_params(const char* op, const std::array<index_t, 5>& x_shape, const std::array<index_t, 6>& padding,
                          PadMode mode);

// out is (N, C, D_out, H_out, W_out); inp is (N, C, D, H, W).
template <typename T>
void pad_forward_ref(T* out, const T* inp, const PadParams& p);
template <typename T>
void pad_forward_cpu(T* out, const T* inp, const PadParams& p);

// dinp is (N, C, D, H, W), written fresh; dout is (N, C, D_out, H_out, W_out).
template <typename T>
void pad_backward_ref(T* dinp, const T* dout, const PadParams& p);
template <typename T>
void pad_backward_cpu(T* dinp, const T* dout, const PadParams& p);

// CUDA (csrc/cuda): forward one thread per output, backward one per input gathering its runs.
template <typename T>
void pad_forward_cuda(T* out, const T* inp, const PadParams& p, void* stream);
template <typename T>
void pad_backward_cuda(T* dinp, const T* dout, const PadParams& p, void* stream);

}  // namespace pycnn
