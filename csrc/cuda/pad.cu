// CUDA padding kernels (pad.h): reflect / replicate / circular over up to three trailing dims.
// Forward: one thread per output reading each axis's source.  Backward: one thread per input
// summing the outputs that read it, the runs PadAxis::outputs_of gives per axis (no atomics:
// deterministic).
#include "cuda/cuda_compat.h"
#include "pad.h"

namespace pycnn {

namespace {

template <typename T>
__global__ void pad_forward_kernel(T* out, const T* inp, PadParams p, index_t n) {
  const index_t Do = p.d.out(), Ho = p.h.out(), Wo = p.w.out();
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % Wo, oh = (o / Wo) % Ho, od = (o / (Wo * Ho)) % Do, plane = o / (Do * Ho * Wo);
    const index_t id = p.d.source(od, p.mode), ih = p.h.source(oh, p.mode), iw = p.w.source(ow, p.mode);
    out[o] = inp[((plane * p.d.n + id) * p.h.n + ih) * p.w.n + iw];
  }
}

template <typename T>
__global__ void pad_backward_kernel(T* dinp, const T* dout, PadParams p, index_t n) {
  const index_t Do = p.d.out(), Ho = p.h.out(), Wo = p.w.out();
  const index_t D = p.d.n, H = p.h.n, W = p.w.n;
  PYCNN_GRID_STRIDE(i, n) {
    const index_t iw = i % W, ih = (i / W) % H, id = (i / (W * H)) % D, plane = i / (D * H * W);
    const PadRuns deps = p.d.outputs_of(id, p.mode);
    const PadRuns rows = p.h.outputs_of(ih, p.mode);
    const PadRuns cols = p.w.outputs_of(iw, p.mode);
    const T* g = dout + plane * Do * Ho * Wo;
    T sum = T(0);
    for (int a = 0; a < deps.n; ++a)
      for (index_t od = deps.start[a]; od < deps.start[a] + deps.count[a]; ++od)
        for (int b = 0; b < rows.n; ++b)
          for (index_t oh = rows.start[b]; oh < rows.start[b] + rows.count[b]; ++oh)
            for (int c = 0; c < cols.n; ++c)
              for (index_t ow = cols.start[c]; ow < cols.start[c] + cols.count[c]; ++ow)
                sum += g[(od * Ho + oh) * Wo + ow];
    dinp[i] = sum;
  }
}

}  // namespace

template <typename T>
void pad_forward_cuda(T* out, const T* inp, const PadParams& p, void* stream) {
  cuda::launch_elementwise("pad_forward_kernel", &pad_forward_kernel<T>, p.out_numel(), stream, out, inp, p,
                           p.out_numel());
}

template <typename T>
void pad_backward_cuda(T* dinp, const T* dout, const PadParams& p, void* stream) {
  cuda::launch_elementwise("pad_backward_kernel", &pad_backward_kernel<T>, p.in_numel(), stream, dinp, dout, p,
                           p.in_numel());
}

template void pad_forward_cuda<float>(float*, const float*, const PadParams&, void*);
template void pad_forward_cuda<double>(double*, const double*, const PadParams&, void*);
template void pad_backward_cuda<float>(float*, const float*, const PadParams&, void*);
template void pad_backward_cuda<double>(double*, const double*, const PadParams&, void*);

}  // namespace pycnn
