// CUDA upsampling kernels (upsample.h): interpolate and bed of nails.  Forwards: one thread per
// output reading its taps (upsample.h's upsample_tap, shared with the CPU).  Backwards: one thread
// per input summing the outputs that read it: the outputs whose tap k is this input form a run per
// axis (upsample_first_output), so there are no atomics and the result is deterministic.
#include "cuda/cuda_compat.h"
#include "upsample.h"

namespace pycnn {

namespace {

template <typename T>
__global__ void upsample_forward_kernel(T* out, const T* inp, UpsampleParams p, index_t n) {
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out, D = p.d.in, H = p.h.in, W = p.w.in;
  const bool nearest = p.mode == UpsampleMode::nearest || p.mode == UpsampleMode::nearest_exact;
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % Wo, oh = (o / Wo) % Ho, od = (o / (Wo * Ho)) % Do, plane = o / (Do * Ho * Wo);
    const UpsampleTap td = p.tap(p.d, od), th = p.tap(p.h, oh), tw = p.tap(p.w, ow);
    const T* x = inp + plane * D * H * W;
    if (nearest) {  // a copy: no 0 * x term that would turn an inf into a nan
      out[o] = x[(td.i[0] * H + th.i[0]) * W + tw.i[0]];
      continue;
    }
    T v = T(0);
    for (int a = 0; a < td.n; ++a)
      for (int b = 0; b < th.n; ++b) {
        const T* row = x + (td.i[a] * H + th.i[b]) * W;
        T r = T(0);
        for (int c = 0; c < tw.n; ++c) r += T(tw.w[c]) * row[tw.i[c]];
        v += T(td.w[a] * th.w[b]) * r;
      }
    out[o] = v;
  }
}

template <typename T>
__global__ void upsample_backward_kernel(T* dinp, const T* dout, UpsampleParams p, index_t n) {
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out, D = p.d.in, H = p.h.in, W = p.w.in;
  const int nd = upsample_tap_count(p, p.d), nh = upsample_tap_count(p, p.h), nw = upsample_tap_count(p, p.w);
  PYCNN_GRID_STRIDE(i, n) {
    const index_t iw = i % W, ih = (i / W) % H, id = (i / (W * H)) % D, plane = i / (D * H * W);
    const T* g = dout + plane * Do * Ho * Wo;
    T sum = T(0);
    for (int a = 0; a < nd; ++a) {
      const index_t od0 = upsample_first_output(p, p.d, id, a), od1 = upsample_first_output(p, p.d, id + 1, a);
      for (index_t od = od0; od < od1; ++od) {
        const T wd = T(p.tap(p.d, od).w[a]);
        for (int b = 0; b < nh; ++b) {
          const index_t oh0 = upsample_first_output(p, p.h, ih, b), oh1 = upsample_first_output(p, p.h, ih + 1, b);
          for (index_t oh = oh0; oh < oh1; ++oh) {
            const T wdh = wd * T(p.tap(p.h, oh).w[b]);
            for (int c = 0; c < nw; ++c) {
              const index_t ow0 = upsample_first_output(p, p.w, iw, c), ow1 = upsample_first_output(p, p.w, iw + 1, c);
              for (index_t ow = ow0; ow < ow1; ++ow)
                sum += wdh * T(p.tap(p.w, ow).w[c]) * g[(od * Ho + oh) * Wo + ow];
            }
          }
        }
      }
    }
    dinp[i] = sum;
  }
}

template <typename T>
__global__ void bed_of_nails_forward_kernel(T* out, const T* inp, BedOfNailsParams p, index_t n) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % Wo, oh = (o / Wo) % Ho, plane = o / (Ho * Wo);
    const bool nail = oh % p.scale_h == 0 && ow % p.scale_w == 0;
    out[o] = nail ? inp[(plane * p.H + oh / p.scale_h) * p.W + ow / p.scale_w] : T(0);
  }
}

template <typename T>
__global__ void bed_of_nails_backward_kernel(T* dinp, const T* dout, BedOfNailsParams p, index_t n) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  PYCNN_GRID_STRIDE(i, n) {
    const index_t w = i % p.W, h = (i / p.W) % p.H, plane = i / (p.H * p.W);
    dinp[i] = dout[(plane * Ho + h * p.scale_h) * Wo + w * p.scale_w];
  }
}

}  // namespace

template <typename T>
void upsample_forward_cuda(T* out, const T* inp, const UpsampleParams& p, void* stream) {
  cuda::launch_elementwise("upsample_forward_kernel", &upsample_forward_kernel<T>, p.out_numel(), stream, out, inp, p,
                           p.out_numel());
}

template <typename T>
void upsample_backward_cuda(T* dinp, const T* dout, const UpsampleParams& p, void* stream) {
  cuda::launch_elementwise("upsample_backward_kernel", &upsample_backward_kernel<T>, p.in_numel(), stream, dinp, dout,
                           p, p.in_numel());
}

template <typename T>
void bed_of_nails_forward_cuda(T* out, const T* inp, const BedOfNailsParams& p, void* stream) {
  cuda::launch_elementwise("bed_of_nails_forward_kernel", &bed_of_nails_forward_kernel<T>, p.out_numel(), stream, out,
                           inp, p, p.out_numel());
}

template <typename T>
void bed_of_nails_backward_cuda(T* dinp, const T* dout, const BedOfNailsParams& p, void* stream) {
  cuda::launch_elementwise("bed_of_nails_backward_kernel", &bed_of_nails_backward_kernel<T>, p.in_numel(), stream,
                           dinp, dout, p, p.in_numel());
}

#define PYCNN_INSTANTIATE(T)                                                                        \
  template void upsample_forward_cuda<T>(T*, const T*, const UpsampleParams&, void*);               \
  template void upsample_backward_cuda<T>(T*, const T*, const UpsampleParams&, void*);              \
  template void bed_of_nails_forward_cuda<T>(T*, const T*, const BedOfNailsParams&, void*);         \
  template void bed_of_nails_backward_cuda<T>(T*, const T*, const BedOfNailsParams&, void*);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
