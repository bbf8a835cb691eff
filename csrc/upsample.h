// Upsampling, as torch.nn.functional.interpolate (modes nearest | nearest-exact | linear/bilinear)
// and the bed-of-nails upsample (each value at the top-left of its s x s block, zeros elsewhere).
//   inp is (N, C, H, W), out is (N, C, H_out, W_out); 1-D 'linear'/'nearest' is H = H_out = 1.
//   Each axis maps an output coordinate d to source taps (i0, w0), (i1, w1):
//     out[n,c,oh,ow] = sum_{a,b} wh_a(oh) * ww_b(ow) * inp[n,c, ih_a(oh), iw_b(ow)]
//   nearest:        i0 = min(floor(d * scale), in-1), one tap (torch's nearest_idx, float arithmetic)
//   nearest-exact:  i0 = min(floor((d + 0.5) * scale), in-1), one tap
//   linear, align_corners=False: src = max((d + 0.5) * scale - 0.5, 0),  scale = in/out or 1/scale_factor
//   linear, align_corners=True:  src = d * (in-1)/(out-1)   (0 when out == 1)
//     i0 = min(floor(src), in-1), i1 = min(i0 + 1, in-1), w1 = clamp(src - i0, 0, 1), w0 = 1 - w1.
//   Backward: dinp[i] = sum over the outputs o that read i of w(o, i) * dout[o] (fresh dinp, `=` contract).
//   Bed of nails: out[n,c,h*sH,w*sW] = inp[n,c,h,w], zero elsewhere; dinp = dout[:, :, ::sH, ::sW].
//
// Implementations: *_ref (csrc/ref, plain loops, the spec), *_cpu (csrc/cpu, OpenMP over
// (plane, row), per-column taps precomputed once, backward gathered per input row: race-free)
// and *_cuda (csrc/cuda).
#pragma once
#include <math.h>

#include <array>
#include <optional>
#include <string>

#include "common.h"

namespace pycnn {

enum class UpsampleMode { nearest, nearest_exact, linear };  // linear covers 'linear' and 'bilinear'

inline UpsampleMode upsample_mode_from_string(const std::string& s) {
  if (s == "nearest") return UpsampleMode::nearest;
  if (s == "nearest-exact") return UpsampleMode::nearest_exact;
  if (s == "linear" || s == "bilinear") return UpsampleMode::linear;
  throw std::invalid_argument(
      msg("interpolate: mode must be 'nearest', 'nearest-exact', 'linear' or 'bilinear', got '", s, "'"));
}

inline const char* upsample_mode_name(UpsampleMode m) {
  return m == UpsampleMode::nearest ? "nearest" : m == UpsampleMode::nearest_exact ? "nearest-exact" : "linear";
}

struct Upsample2dParams {
  index_t N = 1, C = 1, H = 1, W = 1, H_out = 1, W_out = 1;
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // linear only
  // torch's scale_factor per axis when given (and not recomputed); 0 means "use in/out".
  double scale_h = 0, scale_w = 0;

  PYCNN_HD index_t in_numel() const { return N * C * H * W; }
  PYCNN_HD index_t out_numel() const { return N * C * H_out * W_out; }
};

// One output coordinate reads in[i0] * w0 + in[i1] * w1 along an axis.
struct UpsampleTap {
  index_t i0 = 0, i1 = 0;
  double w0 = 1, w1 = 0;
};

// torch's compute_scales_value<float>: 1/scale_factor when given, else in/out, in float.
PYCNN_HD float upsample_nearest_scale(index_t in, index_t out, double scale_factor) {
  return scale_factor > 0 ? static_cast<float>(1.0 / scale_factor)
                          : static_cast<float>(in) / static_cast<float>(out);
}

// torch's nearest_idx: exact shortcuts for out == in and out == 2 in, else floorf(d * scale).
PYCNN_HD index_t upsample_nearest_index(index_t d, index_t in, index_t out, double scale_factor) {
  if (out == in) return d;
  if (out == 2 * in) return d >> 1;
  const float scale = upsample_nearest_scale(in, out, scale_factor);
  return hd_min(static_cast<index_t>(::floorf(static_cast<float>(d) * scale)), in - 1);
}

// torch's nearest_exact_idx: floorf((d + 0.5) * scale), the product in double then rounded to float.
PYCNN_HD index_t upsample_nearest_exact_index(index_t d, index_t in, index_t out, double scale_factor) {
  const float scale = upsample_nearest_scale(in, out, scale_factor);
  const float src = static_cast<float>((static_cast<double>(d) + 0.5) * scale);
  return hd_min(static_cast<index_t>(::floorf(src)), in - 1);
}

// torch's area_pixel_compute_scale, in double.
PYCNN_HD double upsample_linear_scale(index_t in, index_t out, bool align_corners, double scale_factor) {
  if (align_corners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  return scale_factor > 0 ? 1.0 / scale_factor : static_cast<double>(in) / static_cast<double>(out);
}

// The taps of output coordinate d along an axis (see the header comment).
PYCNN_HD UpsampleTap upsample_tap(index_t d, index_t in, index_t out, UpsampleMode mode, bool align_corners,
                                  double scale_factor) {
  UpsampleTap t;
  if (mode == UpsampleMode::nearest) {
    t.i0 = t.i1 = upsample_nearest_index(d, in, out, scale_factor);
  } else if (mode == UpsampleMode::nearest_exact) {
    t.i0 = t.i1 = upsample_nearest_exact_index(d, in, out, scale_factor);
  } else if (out == in) {
    t.i0 = t.i1 = d;  // torch copies when the size is unchanged, whatever the scale_factor
  } else {
    const double scale = upsample_linear_scale(in, out, align_corners, scale_factor);
    double src = align_corners ? scale * static_cast<double>(d) : scale * (static_cast<double>(d) + 0.5) - 0.5;
    if (src < 0) src = 0;
    t.i0 = hd_min(static_cast<index_t>(::floor(src)), in - 1);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.w1 = hd_min(hd_max(src - static_cast<double>(t.i0), 0.0), 1.0);
    t.w0 = 1.0 - t.w1;
  }
  return t;
}

// The outputs d whose tap a (0: i0, 1: i1) is input i along an axis: [first(i), first(i + 1)),
// since each tap is non-decreasing in d; first(i) is the smallest d with tap_a(d) >= i, found by
// a binary search over the forward's own tap function (the backward gathers of csrc/cuda).
PYCNN_HD index_t upsample_first_output(index_t i, int a, index_t in, index_t out, UpsampleMode mode,
                                       bool align_corners, double scale_factor) {
  index_t lo = 0, hi = out;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    const UpsampleTap t = upsample_tap(mid, in, out, mode, align_corners, scale_factor);
    if ((a ? t.i1 : t.i0) < i)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// x_shape (N, C, H, W), output_size (H_out, W_out), scales: torch's scale_factor per axis or
// none; the sizes positive, the scales positive and finite, align_corners for the linear modes
// only (std::invalid_argument naming op).  Params: csrc/params/upsample_params.cpp.
Upsample2dParams make_upsample2d_params(const char* op, const std::array<index_t, 4>& x_shape,
                                        std::array<index_t, 2> output_size, UpsampleMode mode,
                                        bool align_corners, std::array<std::optional<double>, 2> scales);

// out is (N, C, H_out, W_out); inp is (N, C, H, W).
template <typename T>
void upsample2d_forward_ref(T* out, const T* inp, const Upsample2dParams& p);
template <typename T>
void upsample2d_forward_cpu(T* out, const T* inp, const Upsample2dParams& p);

// dinp is (N, C, H, W), written fresh; dout is (N, C, H_out, W_out).
template <typename T>
void upsample2d_backward_ref(T* dinp, const T* dout, const Upsample2dParams& p);
template <typename T>
void upsample2d_backward_cpu(T* dinp, const T* dout, const Upsample2dParams& p);

// ---------------------------------------------------------------------------- bed of nails
struct BedOfNailsParams {
  index_t N = 1, C = 1, H = 1, W = 1;  // input sizes
  index_t scale_h = 1, scale_w = 1;    // integer scale per axis

  PYCNN_HD index_t H_out() const { return H * scale_h; }
  PYCNN_HD index_t W_out() const { return W * scale_w; }
  PYCNN_HD index_t in_numel() const { return N * C * H * W; }
  PYCNN_HD index_t out_numel() const { return N * C * H_out() * W_out(); }
};

// x_shape (N, C, H, W), scale (h, w) positive; the output size overflow-checked.
BedOfNailsParams make_bed_of_nails_params(const char* op, const std::array<index_t, 4>& x_shape,
                                          std::array<index_t, 2> scale);

// out is (N, C, H*sH, W*sW), written fresh (zeros off the nails); inp is (N, C, H, W).
template <typename T>
void bed_of_nails_forward_ref(T* out, const T* inp, const BedOfNailsParams& p);
template <typename T>
void bed_of_nails_forward_cpu(T* out, const T* inp, const BedOfNailsParams& p);

// dinp is (N, C, H, W), written fresh; dout is (N, C, H*sH, W*sW).
template <typename T>
void bed_of_nails_backward_ref(T* dinp, const T* dout, const BedOfNailsParams& p);
template <typename T>
void bed_of_nails_backward_cpu(T* dinp, const T* dout, const BedOfNailsParams& p);

// ---------------------------------------------------------------------------- CUDA (csrc/cuda)
// Launchers on device pointers, on `stream`; forwards one thread per output, backwards one per
// input gathering the outputs that read it (deterministic).
template <typename T>
void upsample2d_forward_cuda(T* out, const T* inp, const Upsample2dParams& p, void* stream);
template <typename T>
void upsample2d_backward_cuda(T* dinp, const T* dout, const Upsample2dParams& p, void* stream);
template <typename T>
void bed_of_nails_forward_cuda(T* out, const T* inp, const BedOfNailsParams& p, void* stream);
template <typename T>
void bed_of_nails_backward_cuda(T* dinp, const T* dout, const BedOfNailsParams& p, void* stream);

}  // namespace pycnn
