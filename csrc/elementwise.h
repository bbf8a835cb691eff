// Elementwise ops with a native kernel (the rest of the elementwise glue runs on the device's
// array module).  ReLU, as PyTorch defines it:
//   forward   y = x <= 0 ? 0 : x        (relu(-inf) = 0, relu(-0.0) = +0, NaN stays NaN)
//   backward  dx = y <= 0 ? 0 : dy      (from the saved output, a select: an infinite dy where
//                                        x <= 0 gives 0, never NaN; torch's threshold_backward)
// Layout: any shape, C-contiguous, n elements.  Reference: csrc/ref/elementwise_ref.cpp; CPU:
// csrc/cpu/elementwise.cpp (OpenMP over chunks, SIMD inside).  On the CUDA backend these two are
// glue on CuPy (pycnn/_cuda_native.py), as the other elementwise ops.
#pragma once
#include "common.h"

namespace pycnn {

template <typename T>
PYCNN_HD T relu_value(T x) {
  return x <= T(0) ? T(0) : x;
}

template <typename T>
PYCNN_HD T relu_grad(T dy, T y) {
  return y <= T(0) ? T(0) : dy;
}

template <typename T>
void relu_forward_ref(T* y, const T* x, index_t n);
template <typename T>
void relu_backward_ref(T* dx, const T* dy, const T* y, index_t n);
template <typename T>
void relu_forward_cpu(T* y, const T* x, index_t n);
template <typename T>
void relu_backward_cpu(T* dx, const T* dy, const T* y, index_t n);

}  // namespace pycnn
