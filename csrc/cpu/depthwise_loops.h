// The inner loops of the depthwise conv's flat form (conv.cpp, "depthwise": the layout and the
// driver), one source for every ISA: conv.cpp (baseline), conv_depthwise_avx2.cpp and
// conv_depthwise_avx512.cpp each include this header and build a DepthwiseLoops<T> table from the
// templates below (anonymous namespace: each file its own copy, with its own flags); conv.cpp
// picks one by active_simd_level() (the ISA mechanism: simd.h).
//
// The flat form: a plane's taps become whole-plane shifts.  The driver lays the source out with a
// row stride ld (junk columns past the output width), so output i = oh*ld + ow reads tap t at
// src[off[t] + i] for every i; a 3x3 kernel is 9 fused multiply-adds per output vector, over the
// whole plane at once, however narrow its rows (an 8-wide plane fills AVX-512 vectors too).
#pragma once
#include <algorithm>
#include <cstring>

#include "common.h"

namespace pycnn {

// The loops run on 64-byte vectors (Vec64 below), whose sums stay in registers across the taps;
// n is a multiple of one (the driver rounds up and pads the source that far).
template <typename T>
constexpr index_t kDepthwiseBlock = 64 / sizeof(T);

template <typename T>
struct DepthwiseLoops {
  // out[i] = (accumulate ? out[i] : 0) + sum over t < taps of w[t] * src[off[t] + i], i < n.
  void (*taps)(T* out, const T* src, const index_t* off, const T* w, index_t taps, index_t n, bool accumulate);
  // dw[t] += sum over i < n of dy[i] * src[off[t] + i], t < taps.  The sum runs in
  // kDepthwiseBlock lanes, then over the lanes in order (deterministic).
  void (*tap_dots)(T* dw, const T* dy, const T* src, const index_t* off, index_t taps, index_t n);
};

extern const DepthwiseLoops<float> depthwise_loops_f32_avx2;
extern const DepthwiseLoops<double> depthwise_loops_f64_avx2;
extern const DepthwiseLoops<float> depthwise_loops_f32_avx512;
extern const DepthwiseLoops<double> depthwise_loops_f64_avx512;

namespace {

// 64 bytes of T as one GCC / Clang vector: one AVX-512 register, two AVX2 or four SSE ones (the
// compiler splits it by the file's flags).  Explicit vectors keep the sums in registers, where
// plain loops over an acc[] array were compiled to a scalar loop through memory.
// (The attribute needs a concrete type: it is ignored on a template parameter.)
template <typename T>
struct Vec64Of;
template <>
struct Vec64Of<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vec64Of<double> {
  typedef double type __attribute__((vector_size(64)));
};
template <typename T>
using Vec64 = typename Vec64Of<T>::type;

template <typename T>
inline Vec64<T> load64(const T* p) {
  Vec64<T> v;
  std::memcpy(&v, p, sizeof v);  // an unaligned load
  return v;
}

template <typename T>
inline void store64(T* p, Vec64<T> v) {
  std::memcpy(p, &v, sizeof v);
}

template <typename T>
void depthwise_taps(T* out, const T* src, const index_t* off, const T* w, index_t taps, index_t n,
                    bool accumulate) {
  constexpr index_t L = kDepthwiseBlock<T>;  // elements a vector
  index_t i0 = 0;
  for (; i0 + 4 * L <= n; i0 += 4 * L) {  // four vectors at a time, then one
    Vec64<T> a0{}, a1{}, a2{}, a3{};
    if (accumulate) {
      a0 = load64(out + i0), a1 = load64(out + i0 + L), a2 = load64(out + i0 + 2 * L), a3 = load64(out + i0 + 3 * L);
    }
    for (index_t t = 0; t < taps; ++t) {
      const Vec64<T> wt = Vec64<T>{} + w[t];
      const T* s = src + off[t] + i0;
      a0 += wt * load64(s), a1 += wt * load64(s + L), a2 += wt * load64(s + 2 * L), a3 += wt * load64(s + 3 * L);
    }
    store64(out + i0, a0), store64(out + i0 + L, a1), store64(out + i0 + 2 * L, a2), store64(out + i0 + 3 * L, a3);
  }
  for (; i0 < n; i0 += L) {
    Vec64<T> a = accumulate ? load64(out + i0) : Vec64<T>{};
    for (index_t t = 0; t < taps; ++t) a += (Vec64<T>{} + w[t]) * load64(src + off[t] + i0);
    store64(out + i0, a);
  }
}

// One dy load serves every tap: TAPS sums in registers (TAPS > 0: a compile-time count, the
// common 3x3; 0: taps at run time, in groups of 4).
template <typename T, index_t TAPS>
void depthwise_tap_dots_n(T* dw, const T* dy, const T* src, const index_t* off, index_t taps, index_t n) {
  constexpr index_t L = kDepthwiseBlock<T>;
  constexpr index_t G = TAPS > 0 ? TAPS : 4;
  for (index_t t0 = 0; t0 < taps; t0 += G) {
    const index_t g = std::min<index_t>(G, taps - t0);
    const T* s[G];
    Vec64<T> acc[G];
    for (index_t k = 0; k < G; ++k) {
      s[k] = src + off[t0 + std::min(k, g - 1)];  // a short last group repeats its last tap
      acc[k] = Vec64<T>{};
    }
    for (index_t i0 = 0; i0 < n; i0 += L) {
      const Vec64<T> d = load64(dy + i0);
      for (index_t k = 0; k < G; ++k) acc[k] += d * load64(s[k] + i0);
    }
    for (index_t k = 0; k < g; ++k) {
      T sum = 0;
      for (index_t l = 0; l < L; ++l) sum += acc[k][l];
      dw[t0 + k] += sum;
    }
  }
}

template <typename T>
void depthwise_tap_dots(T* dw, const T* dy, const T* src, const index_t* off, index_t taps, index_t n) {
  if (taps == 9)
    depthwise_tap_dots_n<T, 9>(dw, dy, src, off, taps, n);
  else
    depthwise_tap_dots_n<T, 0>(dw, dy, src, off, taps, n);
}

template <typename T>
constexpr DepthwiseLoops<T> depthwise_loop_table() {
  return DepthwiseLoops<T>{&depthwise_taps<T>, &depthwise_tap_dots<T>};
}

}  // namespace
}  // namespace pycnn
