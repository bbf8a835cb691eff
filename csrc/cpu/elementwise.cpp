// CPU elementwise kernels (see csrc/elementwise.h): chunks of kChunk elements over the OpenMP
// threads (whole cache lines per thread, no false sharing), a vectorized loop inside.  Small
// arrays run on the calling thread: waking the passive OpenMP team costs about 15 us on the
// 2-core machine, as much as one thread's pass over ~128k floats (measured: bench/README.md,
// "Elementwise kernels").  `out` may alias an input (the loops read element i before writing it).
#include <algorithm>

#include "elementwise.h"

namespace pycnn {

namespace {
constexpr index_t kChunk = 16384;
constexpr index_t kParallelFrom = 131072;

template <typename F>
void for_each_chunk(index_t n, F&& f) {
  const index_t chunks = ceil_div(n, kChunk);
#pragma omp parallel for schedule(static) if (n >= kParallelFrom)
  for (index_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
}
}  // namespace

template <typename T>
void activation_forward_cpu(Activation act, T* y, const T* x, index_t n, T alpha) {
  with_activation(act, [&](auto a) {
    for_each_chunk(n, [&](index_t lo, index_t hi) {
#pragma omp simd
      for (index_t i = lo; i < hi; ++i) y[i] = activation_value<decltype(a)::value>(x[i], alpha);
    });
  });
}

template <typename T>
void activation_backward_cpu(Activation act, T* dx, const T* dy, const T* saved, index_t n, T alpha) {
  with_activation(act, [&](auto a) {
    for_each_chunk(n, [&](index_t lo, index_t hi) {
#pragma omp simd
      for (index_t i = lo; i < hi; ++i) dx[i] = activation_grad<decltype(a)::value>(dy[i], saved[i], alpha);
    });
  });
}

template <typename T>
void binary_cpu(BinaryOp op, T* out, const T* a, const T* b, index_t n) {
  with_binary(op, [&](auto o) {
    for_each_chunk(n, [&](index_t lo, index_t hi) {
#pragma omp simd
      for (index_t i = lo; i < hi; ++i) out[i] = binary_value<decltype(o)::value>(a[i], b[i]);
    });
  });
}

#define PYCNN_INSTANTIATE(T)                                                                   \
  template void activation_forward_cpu<T>(Activation, T*, const T*, index_t, T);               \
  template void activation_backward_cpu<T>(Activation, T*, const T*, const T*, index_t, T);    \
  template void binary_cpu<T>(BinaryOp, T*, const T*, const T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
