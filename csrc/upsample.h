// Upsampling, as torch.nn.functional.interpolate (modes nearest | nearest-exact |
// linear/bilinear/trilinear | bicubic) and the bed-of-nails upsample (each value at the top-left
// of its s x s block, zeros elsewhere).
//   inp is (N, C, D, H, W), out is (N, C, D_out, H_out, W_out); 2-D input is D = D_out = 1 and
//   1-D input H = H_out = 1 too.  Each axis maps an output coordinate d to source taps (i_k, w_k):
//     out[n,c,od,oh,ow] = sum_{a,b,c} wd_a(od) * wh_b(oh) * ww_c(ow) * inp[n,c, id_a, ih_b, iw_c]
//   nearest:        i0 = min(floor(d * scale), in-1), one tap (torch's nearest_idx, float arithmetic)
//   nearest-exact:  i0 = min(floor((d + 0.5) * scale), in-1), one tap
//   linear, align_corners=False: src = max((d + 0.5) * scale - 0.5, 0),  scale = in/out or 1/scale_factor
//   linear, align_corners=True:  src = d * (in-1)/(out-1)   (0 when out == 1)
//     i0 = min(floor(src), in-1), i1 = min(i0 + 1, in-1), w1 = clamp(src - i0, 0, 1), w0 = 1 - w1;
//     an unchanged size is a copy (one tap), as in torch.
//   cubic (bicubic), torch's Keys kernel with A = -0.75: src as linear but not clamped at 0,
//     f = floor(src), t = src - f, taps i_k = clamp(f - 1 + k, 0, in-1) for k = 0..3 with weights
//     w_0 = K(t + 1), w_1 = K(t), w_2 = K(1 - t), w_3 = K(2 - t), where
//     K(x) = (A+2)|x|^3 - (A+3)|x|^2 + 1 for |x| <= 1, A|x|^3 - 5A|x|^2 + 8A|x| - 4A for 1 < |x| < 2;
//     no copy shortcut (torch resamples an unchanged size given a scale_factor != 1).
//   Backward: dinp[i] = sum over the outputs o that read i of w(o, i) * dout[o] (fresh dinp, `=` contract).
//   Bed of nails: out[n,c,h*sH,w*sW] = inp[n,c,h,w], zero elsewhere; dinp = dout[:, :, ::sH, ::sW].
//
// Implementations: *_ref (csrc/ref, plain loops, the spec), *_cpu (csrc/cpu, OpenMP over
// (plane, depth, row), per-column taps precomputed once, backward gathered per input row:
// race-free) and *_cuda (csrc/cuda).
#pragma once
#include <math.h>

#include <array>
#include <optional>
#include <string>

#include "common.h"

namespace pycnn {

// linear covers 'linear', 'bilinear' and 'trilinear'; cubic is 'bicubic'
enum class UpsampleMode { nearest, nearest_exact, linear, cubic };

inline UpsampleMode upsample_mode_from_string(const std::string& s) {
  if (s == "nearest") return UpsampleMode::nearest;
  if (s == "nearest-exact") return UpsampleMode::nearest_exact;
  if (s == "linear" || s == "bilinear" || s == "trilinear") return UpsampleMode::linear;
  if (s == "bicubic") return UpsampleMode::cubic;
  throw std::invalid_argument(msg("interpolate: mode must be 'nearest', 'nearest-exact', 'linear', 'bilinear', "
                                  "'trilinear' or 'bicubic', got '", s, "'"));
}

inline const char* upsample_mode_name(UpsampleMode m) {
  switch (m) {
    case UpsampleMode::nearest: return "nearest";
    case UpsampleMode::nearest_exact: return "nearest-exact";
    case UpsampleMode::linear: return "linear";
    default: return "bicubic";
  }
}

constexpr int kMaxUpsampleTaps = 4;

// One output coordinate reads sum_k w[k] * in[i[k]], k < n, along an axis.
struct UpsampleTap {
  index_t i[kMaxUpsampleTaps] = {0, 0, 0, 0};
  double w[kMaxUpsampleTaps] = {1, 0, 0, 0};
  int n = 1;
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

// The Keys cubic convolution kernel, A = -0.75 (torch's cubic_convolution1 / 2).
PYCNN_HD double upsample_cubic_near(double x) {  // 0 <= x <= 1
  const double A = -0.75;
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}
PYCNN_HD double upsample_cubic_far(double x) {  // 1 <= x <= 2
  const double A = -0.75;
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}

// The taps of output coordinate d along an axis (see the header comment).
PYCNN_HD UpsampleTap upsample_tap(index_t d, index_t in, index_t out, UpsampleMode mode, bool align_corners,
                                  double scale_factor) {
  UpsampleTap t;
  if (mode == UpsampleMode::nearest) {
    t.i[0] = upsample_nearest_index(d, in, out, scale_factor);
  } else if (mode == UpsampleMode::nearest_exact) {
    t.i[0] = upsample_nearest_exact_index(d, in, out, scale_factor);
  } else if (mode == UpsampleMode::linear && out == in) {
    t.i[0] = d;  // torch copies when the size is unchanged, whatever the scale_factor
  } else {
    const double scale = upsample_linear_scale(in, out, align_corners, scale_factor);
    double src = align_corners ? scale * static_cast<double>(d) : scale * (static_cast<double>(d) + 0.5) - 0.5;
    if (mode == UpsampleMode::linear) {
      if (src < 0) src = 0;
      t.n = 2;
      t.i[0] = hd_min(static_cast<index_t>(::floor(src)), in - 1);
      t.i[1] = t.i[0] + (t.i[0] < in - 1 ? 1 : 0);
      t.w[1] = hd_min(hd_max(src - static_cast<double>(t.i[0]), 0.0), 1.0);
      t.w[0] = 1.0 - t.w[1];
    } else {  // cubic: src may be negative; the taps clamp to the edge
      const double f = ::floor(src), x = src - f;
      t.n = 4;
      for (int k = 0; k < 4; ++k)
        t.i[k] = hd_min(hd_max(static_cast<index_t>(f) - 1 + k, index_t(0)), in - 1);
      t.w[0] = upsample_cubic_far(x + 1), t.w[1] = upsample_cubic_near(x);
      t.w[2] = upsample_cubic_near(1 - x), t.w[3] = upsample_cubic_far(2 - x);
    }
  }
  return t;
}

// One resampled axis: input size, output size, torch's scale_factor when given (0: use in/out).
struct UpsampleAxis {
  index_t in = 1, out = 1;
  double scale_factor = 0;
};

struct UpsampleParams {
  index_t N = 1, C = 1;
  UpsampleAxis d, h, w;  // D = D_out = 1 for 1-D and 2-D input, H = H_out = 1 for 1-D
  UpsampleMode mode = UpsampleMode::nearest;
  bool align_corners = false;  // linear and cubic only

  PYCNN_HD UpsampleTap tap(const UpsampleAxis& a, index_t o) const {
    return upsample_tap(o, a.in, a.out, mode, align_corners, a.scale_factor);
  }
  PYCNN_HD index_t planes() const { return N * C; }
  PYCNN_HD index_t in_numel() const { return N * C * d.in * h.in * w.in; }
  PYCNN_HD index_t out_numel() const { return N * C * d.out * h.out * w.out; }
};

// The outputs o whose tap k is input i along an axis: [first(i), first(i + 1)), since each tap
// index is non-decreasing in o; first(i) is the smallest o with tap_k(o) >= i, found by a binary
// search over the forward's own tap function (the backward gathers of csrc/cuda).
PYCNN_HD index_t upsample_first_output(const UpsampleParams& p, const UpsampleAxis& a, index_t i, int k) {
  index_t lo = 0, hi = a.out;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (p.tap(a, mid).i[k] < i)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// The number of taps every output of an axis has (the tap count depends on the axis, not on o).
PYCNN_HD int upsample_tap_count(const UpsampleParams& p, const UpsampleAxis& a) { return p.tap(a, 0).n; }

// x_shape (N, C, D, H, W), output_size (D_out, H_out, W_out), scales: torch's scale_factor per
// axis or none; the sizes positive, the scales positive and finite, align_corners for the linear
// and cubic modes only (std::invalid_argument naming op).  Params: csrc/params/upsample_params.cpp.
UpsampleParams make_upsample_params(const char* op, const std::array<index_t, 5>& x_shape,
                                    std::array<index_t, 3> output_size, UpsampleMode mode, bool align_corners,
                                    std::array<std::optional<double>, 3> scales);

// out is (N, C, D_out, H_out, W_out); inp is (N, C, D, H, W).
template <typename T>
void upsample_forward_ref(T* out, const T* inp, const UpsampleParams& p);
template <typename T>
void upsample_forward_cpu(T* out, const T* inp, const UpsampleParams& p);

// dinp is (N, C, D, H, W), written fresh; dout is (N, C, D_out, H_out, W_out).
template <typename T>
void upsample_backward_ref(T* dinp, const T* dout, const UpsampleParams& p);
template <typename T>
void upsample_backward_cpu(T* dinp, const T* dout, const UpsampleParams& p);

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
void upsample_forward_cuda(T* out, const T* inp, const UpsampleParams& p, void* stream);
template <typename T>
void upsample_backward_cuda(T* dinp, const T* dout, const UpsampleParams& p, void* stream);
template <typename T>
void bed_of_nails_forward_cuda(T* out, const T* inp, const BedOfNailsParams& p, void* stream);
template <typename T>
void bed_of_nails_backward_cuda(T* dinp, const T* dout, const BedOfNailsParams& p, void* stream);

}  // namespace pycnn
