// CUDA convolution kernels (conv.h).  The general path is im2col -> GEMM -> (col2im) as in
// PyTorch without cuDNN; the GEMMs are the caller's (xp.matmul: cuBLAS through CuPy), these are the
// data movements and reductions around them:
//   im2col_kernel   col[n][ci*kH*kW + kh*kW + kw][oh*W_out + ow] = x[n, ci, ih, iw] (0 in the
//                   padding), ih = oh*sh - pt + kh*dh; one thread per col element;
//   col2im_kernel   dx[n, ci, h, w] = the sum over the taps (kh, kw) and outputs (oh, ow) that
//                   read (h, w) of col[...]: a gather (one thread per input), no atomics;
//   bias_grad_kernel db[c] = sum over (n, hw) of dy: one block per channel, a block reduction.
// Depthwise convs (groups == C_in, any depth multiplier m = C_out / C_in) have direct kernels:
//   forward one thread per output; input-grad one thread per input gathering its windows;
//   weight-grad one block per weight (co, kh, kw) reducing over (n, oh, ow).
// All reductions have a fixed order: the results are deterministic.
#include "conv.h"
#include "cuda/cuda_compat.h"
#include "cuda/reduce.cuh"

namespace pycnn {

namespace {

template <typename T>
__global__ void im2col_kernel(T* col, const T* x, Conv2dParams p, index_t n) {
  const index_t hw = p.out_hw(), taps = p.kH * p.kW;
  PYCNN_GRID_STRIDE(i, n) {
    const index_t o = i % hw, row = (i / hw) % (p.C_in * taps), img = i / (hw * p.C_in * taps);
    const index_t ci = row / taps, kh = (row % taps) / p.kW, kw = row % p.kW;
    const index_t ih = (o / p.W_out) * p.stride_h - p.pad_top + kh * p.dilation_h;
    const index_t iw = (o % p.W_out) * p.stride_w - p.pad_left + kw * p.dilation_w;
    const bool inside = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
    col[i] = inside ? x[((img * p.C_in + ci) * p.H + ih) * p.W + iw] : T(0);
  }
}

// The output positions o along one dimension with o*s - p + k*d == h, for each tap k: f(k, o).
template <typename F>
PYCNN_HD void for_each_tap(index_t h, index_t L_out, index_t k, index_t s, index_t p, index_t d, F f) {
  for (index_t t = 0; t < k; ++t) {
    const index_t v = h + p - t * d;
    if (v >= 0 && v % s == 0 && v / s < L_out) f(t, v / s);
  }
}

template <typename T>
__global__ void col2im_kernel(T* dx, const T* col, Conv2dParams p, index_t n) {
  const index_t hw = p.out_hw(), taps = p.kH * p.kW;
  PYCNN_GRID_STRIDE(i, n) {
    const index_t w = i % p.W, h = (i / p.W) % p.H, ci = (i / (p.H * p.W)) % p.C_in, img = i / (p.C_in * p.H * p.W);
    const T* c = col + (img * p.C_in + ci) * taps * hw;
    T sum = T(0);
    for_each_tap(h, p.H_out, p.kH, p.stride_h, p.pad_top, p.dilation_h, [&](index_t kh, index_t oh) {
      for_each_tap(w, p.W_out, p.kW, p.stride_w, p.pad_left, p.dilation_w, [&](index_t kw, index_t ow) {
        sum += c[(kh * p.kW + kw) * hw + oh * p.W_out + ow];
      });
    });
    dx[i] = sum;
  }
}

// db[c] = the sum of dy over (n, hw) for dy (N, C, HW); one block per channel.
template <typename T>
__global__ void bias_grad_kernel(T* db, const T* dy, index_t N, index_t C, index_t HW) {
  __shared__ double smem[cuda::kMaxWarps];
  const index_t c = blockIdx.x;
  double acc = 0;
  for (index_t j = threadIdx.x; j < N * HW; j += blockDim.x) acc += double(dy[((j / HW) * C + c) * HW + j % HW]);
  const double total = cuda::block_sum(acc, smem);
  if (threadIdx.x == 0) db[c] = T(total);
}

template <typename T>
__global__ void depthwise_forward_kernel(T* y, const T* x, const T* w, const T* b, Conv2dParams p, index_t n) {
  const index_t m = p.C_out / p.C_in;  // depth multiplier
  PYCNN_GRID_STRIDE(i, n) {
    const index_t ow = i % p.W_out, oh = (i / p.W_out) % p.H_out, co = (i / p.out_hw()) % p.C_out;
    const index_t img = i / (p.out_hw() * p.C_out), ci = co / m;
    const T* xp = x + (img * p.C_in + ci) * p.H * p.W;
    const T* wp = w + co * p.kH * p.kW;
    T sum = b ? b[co] : T(0);
    for (index_t kh = 0; kh < p.kH; ++kh) {
      const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
      if (ih < 0 || ih >= p.H) continue;
      for (index_t kw = 0; kw < p.kW; ++kw) {
        const index_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
        if (iw >= 0 && iw < p.W) sum += xp[ih * p.W + iw] * wp[kh * p.kW + kw];
      }
    }
    y[i] = sum;
  }
}

template <typename T>
__global__ void depthwise_input_grad_kernel(T* dx, const T* dy, const T* w, Conv2dParams p, index_t n) {
  const index_t m = p.C_out / p.C_in;
  PYCNN_GRID_STRIDE(i, n) {
    const index_t iw = i % p.W, ih = (i / p.W) % p.H, ci = (i / (p.H * p.W)) % p.C_in, img = i / (p.C_in * p.H * p.W);
    T sum = T(0);
    for (index_t co = ci * m; co < ci * m + m; ++co) {
      const T* g = dy + (img * p.C_out + co) * p.out_hw();
      const T* wp = w + co * p.kH * p.kW;
      for_each_tap(ih, p.H_out, p.kH, p.stride_h, p.pad_top, p.dilation_h, [&](index_t kh, index_t oh) {
        for_each_tap(iw, p.W_out, p.kW, p.stride_w, p.pad_left, p.dilation_w, [&](index_t kw, index_t ow) {
          sum += g[oh * p.W_out + ow] * wp[kh * p.kW + kw];
        });
      });
    }
    dx[i] = sum;
  }
}

// dw[co, 0, kh, kw] = sum over (n, oh, ow) of dy[n, co, oh, ow] * x[n, ci, ih, iw]; one block per weight.
template <typename T>
__global__ void depthwise_weight_grad_kernel(T* dw, const T* dy, const T* x, Conv2dParams p) {
  __shared__ double smem[cuda::kMaxWarps];
  const index_t taps = p.kH * p.kW, co = blockIdx.x / taps, kh = (blockIdx.x % taps) / p.kW, kw = blockIdx.x % p.kW;
  const index_t ci = co / (p.C_out / p.C_in), hw = p.out_hw();
  double acc = 0;
  for (index_t j = threadIdx.x; j < p.N * hw; j += blockDim.x) {
    const index_t img = j / hw, oh = (j % hw) / p.W_out, ow = j % p.W_out;
    const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    const index_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
    if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W)
      acc += double(dy[(img * p.C_out + co) * hw + oh * p.W_out + ow]) *
             double(x[((img * p.C_in + ci) * p.H + ih) * p.W + iw]);
  }
  const double total = cuda::block_sum(acc, smem);
  if (threadIdx.x == 0) dw[blockIdx.x] = T(total);
}

}  // namespace

// ------------------------------------------------------------------ launchers
template <typename T>
void im2col_cuda(T* col, const T* x, index_t images, const Conv2dParams& p, void* stream) {
  const index_t n = images * p.C_in * p.kH * p.kW * p.out_hw();
  cuda::launch_elementwise("im2col_kernel", &im2col_kernel<T>, n, stream, col, x, p, n);
}

template <typename T>
void col2im_cuda(T* dx, const T* col, index_t images, const Conv2dParams& p, void* stream) {
  const index_t n = images * p.C_in * p.H * p.W;
  cuda::launch_elementwise("col2im_kernel", &col2im_kernel<T>, n, stream, dx, col, p, n);
}

template <typename T>
void conv_bias_grad_cuda(T* db, const T* dy, index_t N, index_t C, index_t HW, void* stream) {
  if (C <= 0) return;
  cuda::launch("bias_grad_kernel", &bias_grad_kernel<T>, dim3(unsigned(C)), dim3(cuda::reduction_threads(N * HW)), 0,
               stream, db, dy, N, C, HW);
}

template <typename T>
void depthwise_conv2d_forward_cuda(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p, void* stream) {
  const index_t n = p.N * p.C_out * p.out_hw();
  cuda::launch_elementwise("depthwise_forward_kernel", &depthwise_forward_kernel<T>, n, stream, y, x, w, b, p, n);
}

template <typename T>
void depthwise_conv2d_backward_cuda(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const Conv2dParams& p,
                                    void* stream) {
  if (dx) {
    const index_t n = p.N * p.C_in * p.H * p.W;
    cuda::launch_elementwise("depthwise_input_grad_kernel", &depthwise_input_grad_kernel<T>, n, stream, dx, dy, w, p,
                             n);
  }
  if (dw && p.C_out * p.kH * p.kW > 0)
    cuda::launch("depthwise_weight_grad_kernel", &depthwise_weight_grad_kernel<T>,
                 dim3(unsigned(p.C_out * p.kH * p.kW)), dim3(cuda::reduction_threads(p.N * p.out_hw())), 0, stream,
                 dw, dy, x, p);
  if (db) conv_bias_grad_cuda(db, dy, p.N, p.C_out, p.out_hw(), stream);
}

#define PYCNN_INSTANTIATE(T)                                                                                   \
  template void im2col_cuda<T>(T*, const T*, index_t, const Conv2dParams&, void*);                             \
  template void col2im_cuda<T>(T*, const T*, index_t, const Conv2dParams&, void*);                             \
  template void conv_bias_grad_cuda<T>(T*, const T*, index_t, index_t, index_t, void*);                        \
  template void depthwise_conv2d_forward_cuda<T>(T*, const T*, const T*, const T*, const Conv2dParams&, void*); \
  template void depthwise_conv2d_backward_cuda<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dParams&, \
                                                  void*);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
