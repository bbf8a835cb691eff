// CUDA upsampling kernels (upsample.h): interpolate and bed of nails.  Forwards: one thread per
// output reading its taps (upsample.h's upsample_tap, shared with the CPU).  Backwards: one thread
// per input summing the outputs that read it: the outputs whose tap i0 (weight w0) or i1 (weight
// w1) is this input form a run per axis (upsample_first_output), so there are no atomics and the
// result is deterministic.
#include "cuda/cuda_compat.h"
#include "upsample.h"

namespace pycnn {

namespace {

template <typename T>
__global__ void upsample2d_forward_kernel(T* out, const T* inp, Upsample2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % p.W_out, oh = (o / p.W_out) % p.H_out, plane = o / (p.H_out * p.W_out);
    const UpsampleTap h = upsample_tap(oh, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
    const UpsampleTap w = upsample_tap(ow, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
    const T* x = inp + plane * p.H * p.W;
    if (p.mode != UpsampleMode::linear) {
      out[o] = x[h.i0 * p.W + w.i0];
    } else {
      const T wh0 = T(h.w0), wh1 = T(h.w1), ww0 = T(w.w0), ww1 = T(w.w1);
      out[o] = wh0 * (ww0 * x[h.i0 * p.W + w.i0] + ww1 * x[h.i0 * p.W + w.i1]) +
               wh1 * (ww0 * x[h.i1 * p.W + w.i0] + ww1 * x[h.i1 * p.W + w.i1]);
    }
  }
}

template <typename T>
__global__ void upsample2d_backward_kernel(T* dinp, const T* dout, Upsample2dParams p, index_t n) {
  const int taps = p.mode == UpsampleMode::linear ? 2 : 1;  // nearest reads i0 only
  PYCNN_GRID_STRIDE(i, n) {
    const index_t iw = i % p.W, ih = (i / p.W) % p.H, plane = i / (p.H * p.W);
    const T* g = dout + plane * p.H_out * p.W_out;
    T sum = T(0);
    for (int ah = 0; ah < taps; ++ah) {
      const index_t oh0 = upsample_first_output(ih, ah, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
      const index_t oh1 = upsample_first_output(ih + 1, ah, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
      for (index_t oh = oh0; oh < oh1; ++oh) {
        const UpsampleTap h = upsample_tap(oh, p.H, p.H_out, p.mode, p.align_corners, p.scale_h);
        const T wh = taps == 1 ? T(1) : T(ah ? h.w1 : h.w0);
        for (int aw = 0; aw < taps; ++aw) {
          const index_t ow0 = upsample_first_output(iw, aw, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
          const index_t ow1 = upsample_first_output(iw + 1, aw, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
          for (index_t ow = ow0; ow < ow1; ++ow) {
            const UpsampleTap w = upsample_tap(ow, p.W, p.W_out, p.mode, p.align_corners, p.scale_w);
            const T ww = taps == 1 ? T(1) : T(aw ? w.w1 : w.w0);
            sum += wh * ww * g[oh * p.W_out + ow];
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
void upsample2d_forward_cuda(T* out, const T* inp, const Upsample2dParams& p, void* stream) {
  cuda::launch_elementwise("upsample2d_forward_kernel", &upsample2d_forward_kernel<T>, p.out_numel(), stream, out, inp,
                           p, p.out_numel());
}

template <typename T>
void upsample2d_backward_cuda(T* dinp, const T* dout, const Upsample2dParams& p, void* stream) {
  cuda::launch_elementwise("upsample2d_backward_kernel", &upsample2d_backward_kernel<T>, p.in_numel(), stream, dinp,
                           dout, p, p.in_numel());
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
  template void upsample2d_forward_cuda<T>(T*, const T*, const Upsample2dParams&, void*);           \
  template void upsample2d_backward_cuda<T>(T*, const T*, const Upsample2dParams&, void*);          \
  template void bed_of_nails_forward_cuda<T>(T*, const T*, const BedOfNailsParams&, void*);         \
  template void bed_of_nails_backward_cuda<T>(T*, const T*, const BedOfNailsParams&, void*);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
