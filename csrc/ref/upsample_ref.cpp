// Plain-loop upsampling: the executable spec for upsample.h.
#include "upsample.h"

namespace pycnn {

namespace {
// Calls f(out_index, in_index, weight) for every (output, tap) pair, in output order.
template <typename F>
void for_each_tap(const UpsampleParams& p, F f) {
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out, D = p.d.in, H = p.h.in, W = p.w.in;
  for (index_t nc = 0; nc < p.planes(); ++nc)
    for (index_t od = 0; od < Do; ++od)
      for (index_t oh = 0; oh < Ho; ++oh)
        for (index_t ow = 0; ow < Wo; ++ow) {
          const UpsampleTap td = p.tap(p.d, od), th = p.tap(p.h, oh), tw = p.tap(p.w, ow);
          const index_t o = ((nc * Do + od) * Ho + oh) * Wo + ow;
          for (int a = 0; a < td.n; ++a)
            for (int b = 0; b < th.n; ++b)
              for (int c = 0; c < tw.n; ++c)
                f(o, ((nc * D + td.i[a]) * H + th.i[b]) * W + tw.i[c], td.w[a] * th.w[b] * tw.w[c]);
        }
}
}  // namespace

template <typename T>
void upsample_forward_ref(T* out, const T* inp, const UpsampleParams& p) {
  if (p.mode == UpsampleMode::nearest || p.mode == UpsampleMode::nearest_exact) {
    // a copy: no 0 * x term that would turn an inf into a nan
    for_each_tap(p, [&](index_t o, index_t i, double) { out[o] = inp[i]; });
    return;
  }
  // sum in double per output (outputs come in order, each output's taps together)
  index_t current = -1;
  double acc = 0;
  for_each_tap(p, [&](index_t o, index_t i, double w) {
    if (o != current) {
      if (current >= 0) out[current] = static_cast<T>(acc);
      current = o, acc = 0;
    }
    acc += w * static_cast<double>(inp[i]);
  });
  if (current >= 0) out[current] = static_cast<T>(acc);
}

template <typename T>
void upsample_backward_ref(T* dinp, const T* dout, const UpsampleParams& p) {
  for (index_t i = 0; i < p.in_numel(); ++i) dinp[i] = T(0);
  for_each_tap(p, [&](index_t o, index_t i, double w) {
    dinp[i] += static_cast<T>(w * static_cast<double>(dout[o]));
  });
}

template <typename T>
void bed_of_nails_forward_ref(T* out, const T* inp, const BedOfNailsParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  for (index_t i = 0; i < p.N * p.C * Ho * Wo; ++i) out[i] = T(0);
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t h = 0; h < p.H; ++h)
      for (index_t w = 0; w < p.W; ++w)
        out[(nc * Ho + h * p.scale_h) * Wo + w * p.scale_w] = inp[(nc * p.H + h) * p.W + w];
}

template <typename T>
void bed_of_nails_backward_ref(T* dinp, const T* dout, const BedOfNailsParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t h = 0; h < p.H; ++h)
      for (index_t w = 0; w < p.W; ++w)
        dinp[(nc * p.H + h) * p.W + w] = dout[(nc * Ho + h * p.scale_h) * Wo + w * p.scale_w];
}

template void upsample_forward_ref<float>(float*, const float*, const UpsampleParams&);
template void upsample_forward_ref<double>(double*, const double*, const UpsampleParams&);
template void upsample_backward_ref<float>(float*, const float*, const UpsampleParams&);
template void upsample_backward_ref<double>(double*, const double*, const UpsampleParams&);
template void bed_of_nails_forward_ref<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_forward_ref<double>(double*, const double*, const BedOfNailsParams&);
template void bed_of_nails_backward_ref<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_backward_ref<double>(double*, const double*, const BedOfNailsParams&);

}  // namespace pycnn
