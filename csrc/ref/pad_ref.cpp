// Plain-loop padding: the executable spec for pad.h.
#include "pad.h"

namespace pycnn {

namespace {
// Calls f(out_index, in_index) for every output element.
template <typename F>
void for_each_read(const PadParams& p, F f) {
  const index_t Do = p.d.out(), Ho = p.h.out(), Wo = p.w.out();
  for (index_t nc = 0; nc < p.planes(); ++nc)
    for (index_t od = 0; od < Do; ++od)
      for (index_t oh = 0; oh < Ho; ++oh)
        for (index_t ow = 0; ow < Wo; ++ow) {
          const index_t id = p.d.source(od, p.mode), ih = p.h.source(oh, p.mode), iw = p.w.source(ow, p.mode);
          f(((nc * Do + od) * Ho + oh) * Wo + ow, ((nc * p.d.n + id) * p.h.n + ih) * p.w.n + iw);
        }
}
}  // namespace

template <typename T>
void pad_forward_ref(T* out, const T* inp, const PadParams& p) {
  for_each_read(p, [&](index_t o, index_t i) { out[o] = inp[i]; });
}

template <typename T>
void pad_backward_ref(T* dinp, const T* dout, const PadParams& p) {
  for (index_t i = 0; i < p.in_numel(); ++i) dinp[i] = T(0);
  for_each_read(p, [&](index_t o, index_t i) { dinp[i] += dout[o]; });
}

template void pad_forward_ref<float>(float*, const float*, const PadParams&);
template void pad_forward_ref<double>(double*, const double*, const PadParams&);
template void pad_backward_ref<float>(float*, const float*, const PadParams&);
template void pad_backward_ref<double>(double*, const double*, const PadParams&);

}  // namespace pycnn
