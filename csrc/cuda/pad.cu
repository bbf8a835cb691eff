// CUDA padding kernels (pad.h): reflect / replicate / circular.  Forward: one thread per output
// reading pad_source_index of each coordinate.  Backward: one thread per input summing the outputs
// that read it, the runs pad_outputs_of gives per axis (no atomics: deterministic).
#include "cuda/cuda_compat.h"
#include "pad.h"

namespace pycnn {

namespace {

template <typename T>
__global__ void pad2d_forward_kernel(T* out, const T* inp, Pad2dParams p, index_t n) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % Wo, oh = (o / Wo) % Ho, plane = o / (Ho * Wo);
    const index_t ih = pad_source_index(oh - p.pad_top, p.H, p.mode);
    const index_t iw = pad_source_index(ow - p.pad_left, p.W, p.mode);
    out[o] = inp[(plane * p.H + ih) * p.W + iw];
  }
}

template <typename T>
__global__ void pad2d_backward_kernel(T* dinp, const T* dout, Pad2dParams p, index_t n) {
  const index_t Ho = p.H_out(), Wo = p.W_out();
  PYCNN_GRID_STRIDE(i, n) {
    const index_t iw = i % p.W, ih = (i / p.W) % p.H, plane = i / (p.H * p.W);
    const PadRuns rows = pad_outputs_of(ih, p.H, p.pad_top, p.pad_bottom, p.mode);
    const PadRuns cols = pad_outputs_of(iw, p.W, p.pad_left, p.pad_right, p.mode);
    const T* g = dout + plane * Ho * Wo;
    T sum = T(0);
    for (int a = 0; a < rows.n; ++a)
      for (index_t oh = rows.start[a]; oh < rows.start[a] + rows.count[a]; ++oh)
        for (int b = 0; b < cols.n; ++b)
          for (index_t ow = cols.start[b]; ow < cols.start[b] + cols.count[b]; ++ow) sum += g[oh * Wo + ow];
    dinp[i] = sum;
  }
}

}  // namespace

template <typename T>
void pad2d_forward_cuda(T* out, const T* inp, const Pad2dParams& p, void* stream) {
  cuda::launch_elementwise("pad2d_forward_kernel", &pad2d_forward_kernel<T>, p.out_numel(), stream, out, inp, p,
                           p.out_numel());
}

template <typename T>
void pad2d_backward_cuda(T* dinp, const T* dout, const Pad2dParams& p, void* stream) {
  cuda::launch_elementwise("pad2d_backward_kernel", &pad2d_backward_kernel<T>, p.in_numel(), stream, dinp, dout, p,
                           p.in_numel());
}

template void pad2d_forward_cuda<float>(float*, const float*, const Pad2dParams&, void*);
template void pad2d_forward_cuda<double>(double*, const double*, const Pad2dParams&, void*);
template void pad2d_backward_cuda<float>(float*, const float*, const Pad2dParams&, void*);
template void pad2d_backward_cuda<double>(double*, const double*, const Pad2dParams&, void*);

}  // namespace pycnn
