// CPU elementwise kernels (see csrc/elementwise.h): chunks of kChunk elements over the OpenMP
// threads (whole cache lines per thread, no false sharing), the active SIMD level's loop inside
// (elementwise_loops.h).  Small arrays run on the calling thread: waking the passive OpenMP team
// costs about 15 us on the 2-core machine, as much as one thread's pass over ~128k floats
// (measured: bench/README.md, "Elementwise kernels").  `out` may alias an input (the loops read
// element i before writing it).
#include <algorithm>

#include "elementwise_loops.h"
#include "simd.h"

namespace pycnn {

namespace {
constexpr index_t kChunk = 16384;
constexpr index_t kParallelFrom = 131072;

template <typename F>
void for_each_chunk(index_t n, F&& f) {
  const index_t chunks = ceil_div(n, kChunk);
#pragma omp parallel for schedule(static) if (n >= kParallelFrom)
  for (index_t c = 0; c < chunks; ++c) {
    const index_t lo = c * kChunk;
    f(lo, std::min(n, lo + kChunk) - lo);
  }
}

// The loops of the active SIMD level (the generic ones are this file's copy).
constexpr ElementwiseLoops<float> kGenericLoopsF32 = elementwise_loop_table<float>();
constexpr ElementwiseLoops<double> kGenericLoopsF64 = elementwise_loop_table<double>();

template <typename T>
const ElementwiseLoops<T>& active_loops();
template <>
const ElementwiseLoops<float>& active_loops<float>() {
  return active_table(kGenericLoopsF32, elementwise_loops_f32_avx2, elementwise_loops_f32_avx512);
}
template <>
const ElementwiseLoops<double>& active_loops<double>() {
  return active_table(kGenericLoopsF64, elementwise_loops_f64_avx2, elementwise_loops_f64_avx512);
}
}  // namespace

template <typename T>
void activation_forward_cpu(Activation act, T* y, const T* x, index_t n, T alpha) {
  const auto run = active_loops<T>().activation_forward[int(act)];
  for_each_chunk(n, [&](index_t lo, index_t len) { run(y + lo, x + lo, len, alpha); });
}

template <typename T>
void activation_backward_cpu(Activation act, T* dx, const T* dy, const T* saved, index_t n, T alpha) {
  const auto run = active_loops<T>().activation_backward[int(act)];
  for_each_chunk(n, [&](index_t lo, index_t len) { run(dx + lo, dy + lo, saved + lo, len, alpha); });
}

template <typename T>
void binary_cpu(BinaryOp op, T* out, const T* a, const T* b, index_t n) {
  const auto run = active_loops<T>().binary[int(op)];
  for_each_chunk(n, [&](index_t lo, index_t len) { run(out + lo, a + lo, b + lo, len); });
}

#define PYCNN_INSTANTIATE(T)                                                                   \
  template void activation_forward_cpu<T>(Activation, T*, const T*, index_t, T);               \
  template void activation_backward_cpu<T>(Activation, T*, const T*, const T*, index_t, T);    \
  template void binary_cpu<T>(BinaryOp, T*, const T*, const T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
