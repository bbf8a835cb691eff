// AVX2 + FMA GEMM micro-kernels (compiled with -mavx2 -mfma).
// Tile: MR rows x 2 ymm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Full-width tiles use plain loads/stores, column edges masked ones; row edges
// pick the kernel compiled for exactly m rows.  Everything but the exported functions has
// internal linkage.  Packing uses the portable loops of gemm.cpp.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace pycnn {
namespace {

// The vector operations of the tiles, per element type.
struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int kLanes = 8, kMr = kGemmAvx2MrF32;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V broadcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V load(__m256i m, const T* p) { return _mm256_maskload_ps(p, m); }
  static void store(T* p, __m256i m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // All-ones in lanes [0, n), n clamped to [0, 8].
  static __m256i mask(index_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 0 ? 0 : n > 8 ? 8 : n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int kLanes = 4, kMr = kGemmAvx2MrF64;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V broadcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V load(__m256i m, const T* p) { return _mm256_maskload_pd(p, m); }
  static void store(T* p, __m256i m, V v) { _mm256_maskstore_pd(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static __m256i mask(index_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : n > 4 ? 4 : n),
                              _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

// C row = alpha * acc (+ beta * C row) for the two vectors of a row; `masks` null: full width.
template <class S>
void write_row(typename S::T* row, typename S::V acc0, typename S::V acc1, typename S::V va,
               typename S::V vb, typename S::T beta, const __m256i* masks) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V r0 = S::mul(va, acc0), r1 = S::mul(va, acc1);
  if (masks == nullptr) {
    if (beta != 0) {
      r0 = S::fmadd(vb, S::load(row), r0);
      r1 = S::fmadd(vb, S::load(row + L), r1);
    }
    S::store(row, r0);
    S::store(row + L, r1);
  } else {
    if (beta != 0) {
      r0 = S::fmadd(vb, S::load(masks[0], row), r0);
      r1 = S::fmadd(vb, S::load(masks[1], row + L), r1);
    }
    S::store(row, masks[0], r0);
    S::store(row + L, masks[1], r1);
  }
}

template <class S, int M>
void tile(index_t n, index_t kc, const typename S::T* a, const typename S::T* b, index_t ldb,
          typename S::T alpha, typename S::T beta, typename S::T* c, index_t ldc) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V c0[M], c1[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    c0[i] = S::zero();
    c1[i] = S::zero();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const V b0 = S::load(b), b1 = S::load(b + L);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const V ai = S::broadcast(a + i);
      c0[i] = S::fmadd(ai, b0, c0[i]);
      c1[i] = S::fmadd(ai, b1, c1[i]);
    }
    a += S::kMr;
    b += ldb;
  }
  const V va = S::set1(alpha), vb = S::set1(beta);
  const __m256i masks[2] = {S::mask(n), S::mask(n - L)};
  const __m256i* edge = n == 2 * L ? nullptr : masks;  // masked moves only at a column edge
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) write_row<S>(c + i * ldc, c0[i], c1[i], va, vb, beta, edge);
}

}  // namespace

// The tile compiled for exactly m rows.
#define PYCNN_TILE_CASE(S, M) \
  case M: return tile<S, M>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(S)                                                            \
  static_assert(S::kMr == 6, "the row switch covers 1..6 rows");                        \
  switch (m) {                                                                          \
    PYCNN_TILE_CASE(S, 1) PYCNN_TILE_CASE(S, 2) PYCNN_TILE_CASE(S, 3)                    \
    PYCNN_TILE_CASE(S, 4) PYCNN_TILE_CASE(S, 5) default: PYCNN_TILE_CASE(S, 6)           \
  }

void gemm_microkernel_f32_avx2(index_t m, index_t n, index_t kc, const float* a, const float* b,
                               index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kGemmAvx2NrF32 == 2 * F32::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F32)
}

void gemm_microkernel_f64_avx2(index_t m, index_t n, index_t kc, const double* a,
                               const double* b, index_t ldb, double alpha, double beta,
                               double* c, index_t ldc) {
  static_assert(kGemmAvx2NrF64 == 2 * F64::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F64)
}

}  // namespace pycnn
