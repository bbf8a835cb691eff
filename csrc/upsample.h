// Upsampling, as torch.nn.functional.interpolate (modes nearest | nearest-exact | linear/bilinear)
// and the bed-of-nails upsample (each value at the top-left of its s x s block, zeros elsewhere).
//   inp is (N, C, H_in, W_in), out is (N, C, H_out, W_out); 1-D 'linear'/'nearest' is H_in = H_out = 1.
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
// Implementations: *_ref (csrc/ref, plain loops, the spec) and *_cpu (csrc/cpu, OpenMP over
// (plane, row), per-column taps precomputed once, backward gathered per input row: race-free).
#pragma once
#include <algorithm>
#include <cmath>
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
  index_t N = 1, C = 1, H_in = 1, W_in = 1, H_out = 1, W_out = 1;
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // linear only
  // torch's scale_factor per axis when given (and not recomputed); 0 means "use in/out".
  double scale_h = 0, scale_w = 0;
};

// One output coordinate reads in[i0] * w0 + in[i1] * w1 along an axis.
struct UpsampleTap {
  index_t i0 = 0, i1 = 0;
  double w0 = 1, w1 = 0;
};

// torch's compute_scales_value<float>: 1/scale_factor when given, else in/out, in float.
inline float upsample_nearest_scale(index_t in, index_t out, double scale_factor) {
  return scale_factor > 0 ? static_cast<float>(1.0 / scale_factor)
                          : static_cast<float>(in) / static_cast<float>(out);
}

// torch's nearest_idx: exact shortcuts for out == in and out == 2 in, else floorf(d * scale).
inline index_t upsample_nearest_index(index_t d, index_t in, index_t out, double scale_factor) {
  if (out == in) return d;
  if (out == 2 * in) return d >> 1;
  const float scale = upsample_nearest_scale(in, out, scale_factor);
  return std::min(static_cast<index_t>(std::floor(static_cast<float>(d) * scale)), in - 1);
}

// torch's nearest_exact_idx: floorf((d + 0.5) * scale), the product in double then rounded to float.
inline index_t upsample_nearest_exact_index(index_t d, index_t in, index_t out, double scale_factor) {
  const float scale = upsample_nearest_scale(in, out, scale_factor);
  const float src = static_cast<float>((static_cast<double>(d) + 0.5) * scale);
  return std::min(static_cast<index_t>(std::floor(src)), in - 1);
}

// torch's area_pixel_compute_scale, in double.
inline double upsample_linear_scale(index_t in, index_t out, bool align_corners, double scale_factor) {
  if (align_corners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  return scale_factor > 0 ? 1.0 / scale_factor : static_cast<double>(in) / static_cast<double>(out);
}

// The taps of output coordinate d along an axis (see the header comment).
inline UpsampleTap upsample_tap(index_t d, index_t in, index_t out, UpsampleMode mode, bool align_corners,
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
    t.i0 = std::min(static_cast<index_t>(std::floor(src)), in - 1);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.w1 = std::min(std::max(src - static_cast<double>(t.i0), 0.0), 1.0);
    t.w0 = 1.0 - t.w1;
  }
  return t;
}

inline void validate(const Upsample2dParams& p) {
  PYCNN_CHECK(p.N >= 0 && p.C >= 0, "interpolate: batch/channel sizes must be >= 0, got N=", p.N, " C=", p.C);
  PYCNN_CHECK(p.H_in > 0 && p.W_in > 0 && p.H_out > 0 && p.W_out > 0,
              "interpolate: input and output sizes should be greater than 0, got input (H: ", p.H_in,
              ", W: ", p.W_in, ") output (H: ", p.H_out, ", W: ", p.W_out, ")");
  PYCNN_CHECK(p.scale_h >= 0 && p.scale_w >= 0 && std::isfinite(p.scale_h) && std::isfinite(p.scale_w),
              "interpolate: scale factors must be positive and finite, got (", p.scale_h, ", ", p.scale_w, ")");
}

// out is (N, C, H_out, W_out); inp is (N, C, H_in, W_in).
template <typename T>
void upsample2d_forward_ref(T* out, const T* inp, const Upsample2dParams& p);
template <typename T>
void upsample2d_forward_cpu(T* out, const T* inp, const Upsample2dParams& p);

// dinp is (N, C, H_in, W_in), written fresh; dout is (N, C, H_out, W_out).
template <typename T>
void upsample2d_backward_ref(T* dinp, const T* dout, const Upsample2dParams& p);
template <typename T>
void upsample2d_backward_cpu(T* dinp, const T* dout, const Upsample2dParams& p);

// ---------------------------------------------------------------------------- bed of nails
struct BedOfNailsParams {
  index_t N = 1, C = 1, H = 1, W = 1;  // input sizes
  index_t sH = 1, sW = 1;              // integer scale per axis

  index_t H_out() const { return H * sH; }
  index_t W_out() const { return W * sW; }
};

inline void validate(const BedOfNailsParams& p) {
  PYCNN_CHECK(p.N >= 0 && p.C >= 0 && p.H >= 0 && p.W >= 0,
              "upsample_bed_of_nails: sizes must be >= 0, got (", p.N, ", ", p.C, ", ", p.H, ", ", p.W, ")");
  PYCNN_CHECK(p.sH >= 1 && p.sW >= 1, "upsample_bed_of_nails: scale_factor must be positive integers, got (",
              p.sH, ", ", p.sW, ")");
}

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

}  // namespace pycnn
