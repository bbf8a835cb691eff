// CPU elementwise kernels (see csrc/elementwise.h): chunks of kChunk elements over the OpenMP
// threads (whole cache lines per thread, no false sharing), a vectorized select inside.  Small
// arrays run on the calling thread: a parallel region costs more than the work below ~32k
// elements.
#include <algorithm>

#include "elementwise.h"

namespace pycnn {

namespace {
constexpr index_t kChunk = 16384;
constexpr index_t kParallelFrom = 32768;

template <typename F>
void for_each_chunk(index_t n, F&& f) {
  const index_t chunks = ceil_div(n, kChunk);
#pragma omp parallel for schedule(static) if (n >= kParallelFrom)
  for (index_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
}
}  // namespace

template <typename T>
void relu_forward_cpu(T* y, const T* x, index_t n) {
  for_each_chunk(n, [&](index_t lo, index_t hi) {
#pragma omp simd
    for (index_t i = lo; i < hi; ++i) y[i] = relu_value(x[i]);
  });
}

template <typename T>
void relu_backward_cpu(T* dx, const T* dy, const T* y, index_t n) {
  for_each_chunk(n, [&](index_t lo, index_t hi) {
#pragma omp simd
    for (index_t i = lo; i < hi; ++i) dx[i] = relu_grad(dy[i], y[i]);
  });
}

#define PYCNN_INSTANTIATE(T)                                        \
  template void relu_forward_cpu<T>(T*, const T*, index_t);         \
  template void relu_backward_cpu<T>(T*, const T*, const T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
