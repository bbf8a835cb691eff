// CPU elementwise kernels (see csrc/elementwise.h): chunks of kChunk elements over the OpenMP
// threads (whole cache lines per thread, no false sharing), the active SIMD level's loop inside
// (elementwise_loops.h).  Small arrays run on the calling thread: waking the passive OpenMP team
// costs about 15 us on the 2-core machine, as much as one thread's pass over ~128k floats
// (measured: bench/README.md, "Elementwise kernels").  `out` may alias an input (the loops read
// element i before writing it).
#include <omp.h>

#include <algorithm>
#include <vector>

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

// The chunks of the flat index walked in runs that stay in one channel's plane (inner > 1: the
// scalar loop with that channel's value) or one row (inner == 1: the same-shape loop against
// small's run of channels).
template <typename T>
void binary_broadcast_cpu(BinaryOp op, T* out, const T* big, const T* small, BroadcastShape b, bool small_first) {
  const ElementwiseLoops<T>& loops = active_loops<T>();
  const auto scalar = loops.binary_scalar[int(op)][small_first ? 1 : 0];
  const auto rows = loops.binary[int(op)];
  for_each_chunk(b.size(), [&](index_t lo, index_t len) {
    for (index_t at = lo, end = lo + len; at < end;) {
      if (b.inner == 1) {
        const index_t c = at % b.C, run = std::min(b.C - c, end - at);
        if (small_first)
          rows(out + at, small + c, big + at, run);
        else
          rows(out + at, big + at, small + c, run);
        at += run;
      } else {
        const index_t plane = at / b.inner, run = std::min((plane + 1) * b.inner, end) - at;
        scalar(out + at, big + at, small[plane % b.C], run);
        at += run;
      }
    }
  });
}

// With at least as many images (outer) as threads, each thread sums its range of them into its
// own C partials, added in thread order; otherwise the threads split the channels.  Either way
// the result is the same on every call with one thread count and SIMD level.
template <typename T>
void broadcast_sum_cpu(T* s, const T* g, const T* other, BroadcastShape b) {
  const ElementwiseLoops<T>& loops = active_loops<T>();
  const int product = other != nullptr ? 1 : 0;
  const auto sum = loops.sum[product];
  const auto accumulate = loops.accumulate[product];
  // part[c] += the sums over images [o0, o1) of channels [c0, c1)
  auto add_block = [&](T* part, index_t o0, index_t o1, index_t c0, index_t c1) {
    for (index_t o = o0; o < o1; ++o) {
      const index_t base = o * b.C * b.inner;
      const T* gr = g + base;
      const T* xr = product ? other + base : nullptr;
      if (b.inner == 1) {
        accumulate(part + c0, gr + c0, product ? xr + c0 : nullptr, c1 - c0);
      } else {
        for (index_t c = c0; c < c1; ++c)
          part[c] += sum(gr + c * b.inner, product ? xr + c * b.inner : nullptr, b.inner);
      }
    }
  };
  std::fill(s, s + b.C, T(0));
  const int nt = b.size() >= kParallelFrom ? num_threads() : 1;
  if (nt <= 1) {
    add_block(s, 0, b.outer, 0, b.C);
  } else if (b.outer >= nt) {
    std::vector<T> partial(size_t(nt) * size_t(b.C), T(0));
#pragma omp parallel num_threads(nt)
    for (int t = omp_get_thread_num(); t < nt; t += omp_get_num_threads())
      add_block(partial.data() + index_t(t) * b.C, b.outer * t / nt, b.outer * (t + 1) / nt, 0, b.C);
    for (int t = 0; t < nt; ++t)
      for (index_t c = 0; c < b.C; ++c) s[c] += partial[size_t(t) * size_t(b.C) + size_t(c)];
  } else {
#pragma omp parallel num_threads(nt)
    for (int t = omp_get_thread_num(); t < nt; t += omp_get_num_threads())
      add_block(s, 0, b.outer, b.C * t / nt, b.C * (t + 1) / nt);
  }
}

#define PYCNN_INSTANTIATE(T)                                                                   \
  template void activation_forward_cpu<T>(Activation, T*, const T*, index_t, T);               \
  template void activation_backward_cpu<T>(Activation, T*, const T*, const T*, index_t, T);    \
  template void binary_cpu<T>(BinaryOp, T*, const T*, const T*, index_t);                      \
  template void binary_broadcast_cpu<T>(BinaryOp, T*, const T*, const T*, BroadcastShape, bool); \
  template void broadcast_sum_cpu<T>(T*, const T*, const T*, BroadcastShape);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
