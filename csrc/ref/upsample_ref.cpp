// Plain-loop upsampling: the executable spec for upsample.h.
#include "upsample.h"

namespace pycnn {

template <typename T>
void upsample2d_forward_ref(T* out, const T* inp, const Upsample2dParams& p) {
  const bool nearest = p.mode != UpsampleMode::linear;
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const UpsampleTap h = upsample_tap(oh, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
        const UpsampleTap w = upsample_tap(ow, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
        const T* plane = inp + nc * p.H * p.W;
        T& o = out[(nc * p.H_out + oh) * p.W_out + ow];
        if (nearest) {  // a copy: no 0 * x term that would turn an inf into a nan
          o = plane[h.i0 * p.W + w.i0];
          continue;
        }
        const double v = h.w0 * (w.w0 * plane[h.i0 * p.W + w.i0] + w.w1 * plane[h.i0 * p.W + w.i1]) +
                         h.w1 * (w.w0 * plane[h.i1 * p.W + w.i0] + w.w1 * plane[h.i1 * p.W + w.i1]);
        o = static_cast<T>(v);
      }
}

template <typename T>
void upsample2d_backward_ref(T* dinp, const T* dout, const Upsample2dParams& p) {
  for (index_t i = 0; i < p.N * p.C * p.H * p.W; ++i) dinp[i] = T(0);
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const UpsampleTap h = upsample_tap(oh, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
        const UpsampleTap w = upsample_tap(ow, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
        T* plane = dinp + nc * p.H * p.W;
        const double g = dout[(nc * p.H_out + oh) * p.W_out + ow];
        if (p.mode != UpsampleMode::linear) {
          plane[h.i0 * p.W + w.i0] += static_cast<T>(g);
          continue;
        }
        plane[h.i0 * p.W + w.i0] += static_cast<T>(h.w0 * w.w0 * g);
        plane[h.i0 * p.W + w.i1] += static_cast<T>(h.w0 * w.w1 * g);
        plane[h.i1 * p.W + w.i0] += static_cast<T>(h.w1 * w.w0 * g);
        plane[h.i1 * p.W + w.i1] += static_cast<T>(h.w1 * w.w1 * g);
      }
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

template void upsample2d_forward_ref<float>(float*, const float*, const Upsample2dParams&);
template void upsample2d_forward_ref<double>(double*, const double*, const Upsample2dParams&);
template void upsample2d_backward_ref<float>(float*, const float*, const Upsample2dParams&);
template void upsample2d_backward_ref<double>(double*, const double*, const Upsample2dParams&);
template void bed_of_nails_forward_ref<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_forward_ref<double>(double*, const double*, const BedOfNailsParams&);
template void bed_of_nails_backward_ref<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_backward_ref<double>(double*, const double*, const BedOfNailsParams&);

}  // namespace pycnn
