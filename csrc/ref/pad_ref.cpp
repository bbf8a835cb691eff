// Plain-loop padding: the executable spec for pad.h.
#include "pad.h"

namespace pycnn {

template <typename T>
void pad2d_forward_ref(T* out, const T* inp, const Pad2dParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t oh = 0; oh < Ho; ++oh)
      for (index_t ow = 0; ow < Wo; ++ow) {
        const index_t ih = pad_source_index(oh - p.pad_top, p.H, p.mode);
        const index_t iw = pad_source_index(ow - p.pad_left, p.W, p.mode);
        out[(nc * Ho + oh) * Wo + ow] = inp[(nc * p.H + ih) * p.W + iw];
      }
}

template <typename T>
void pad2d_backward_ref(T* dinp, const T* dout, const Pad2dParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  for (index_t i = 0; i < p.N * p.C * p.H * p.W; ++i) dinp[i] = T(0);
  for (index_t nc = 0; nc < p.N * p.C; ++nc)
    for (index_t oh = 0; oh < Ho; ++oh)
      for (index_t ow = 0; ow < Wo; ++ow) {
        const index_t ih = pad_source_index(oh - p.pad_top, p.H, p.mode);
        const index_t iw = pad_source_index(ow - p.pad_left, p.W, p.mode);
        dinp[(nc * p.H + ih) * p.W + iw] += dout[(nc * Ho + oh) * Wo + ow];
      }
}

template void pad2d_forward_ref<float>(float*, const float*, const Pad2dParams&);
template void pad2d_forward_ref<double>(double*, const double*, const Pad2dParams&);
template void pad2d_backward_ref<float>(float*, const float*, const Pad2dParams&);
template void pad2d_backward_ref<double>(double*, const double*, const Pad2dParams&);

}  // namespace pycnn
