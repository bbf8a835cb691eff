// AVX2 + FMA GEMM micro-kernels (compiled with -mavx2 -mfma).
// Tile: MR rows x 2 ymm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Full-width tiles use plain loads/stores, column edges masked ones; row edges
// pick the kernel compiled for exactly m rows.  Everything but the exported functions has
// internal linkage.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace pycnn {
namespace {

constexpr int kMrF32 = kGemmAvx2MrF32, kNrF32 = kGemmAvx2NrF32;
constexpr int kMrF64 = kGemmAvx2MrF64, kNrF64 = kGemmAvx2NrF64;

// All-ones in lanes [0, n) of 8 x 32-bit (f32) or 4 x 64-bit (f64) lanes.
__m256i mask_f32(index_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 0 ? 0 : n > 8 ? 8 : n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
__m256i mask_f64(index_t n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : n > 4 ? 4 : n),
                            _mm256_setr_epi64x(0, 1, 2, 3));
}

template <int M>
void tile_f32(index_t n, index_t kc, const float* a, const float* b, index_t ldb, float alpha,
              float beta, float* c, index_t ldc) {
  __m256 c0[M], c1[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMrF32;
    b += ldb;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (n == kNrF32) {
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      float* row = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, c0[i]), r1 = _mm256_mul_ps(va, c1[i]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), r1);
      }
      _mm256_storeu_ps(row, r0);
      _mm256_storeu_ps(row + 8, r1);
    }
    return;
  }
  const __m256i m0 = mask_f32(n), m1 = mask_f32(n - 8);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    __m256 r0 = _mm256_mul_ps(va, c0[i]), r1 = _mm256_mul_ps(va, c1[i]);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row, m0), r0);
      r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row + 8, m1), r1);
    }
    _mm256_maskstore_ps(row, m0, r0);
    _mm256_maskstore_ps(row + 8, m1, r1);
  }
}

template <int M>
void tile_f64(index_t n, index_t kc, const double* a, const double* b, index_t ldb, double alpha,
              double beta, double* c, index_t ldc) {
  __m256d c0[M], c1[M];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm256_setzero_pd();
    c1[i] = _mm256_setzero_pd();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m256d ai = _mm256_broadcast_sd(a + i);
      c0[i] = _mm256_fmadd_pd(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_pd(ai, b1, c1[i]);
    }
    a += kMrF64;
    b += ldb;
  }
  const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
  if (n == kNrF64) {
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      double* row = c + i * ldc;
      __m256d r0 = _mm256_mul_pd(va, c0[i]), r1 = _mm256_mul_pd(va, c1[i]);
      if (beta != 0.0) {
        r0 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(row), r0);
        r1 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(row + 4), r1);
      }
      _mm256_storeu_pd(row, r0);
      _mm256_storeu_pd(row + 4, r1);
    }
    return;
  }
  const __m256i m0 = mask_f64(n), m1 = mask_f64(n - 4);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    double* row = c + i * ldc;
    __m256d r0 = _mm256_mul_pd(va, c0[i]), r1 = _mm256_mul_pd(va, c1[i]);
    if (beta != 0.0) {
      r0 = _mm256_fmadd_pd(vb, _mm256_maskload_pd(row, m0), r0);
      r1 = _mm256_fmadd_pd(vb, _mm256_maskload_pd(row + 4, m1), r1);
    }
    _mm256_maskstore_pd(row, m0, r0);
    _mm256_maskstore_pd(row + 4, m1, r1);
  }
}

}  // namespace

#define PYCNN_TILE_CASE(KERNEL, M) \
  case M: return KERNEL<M>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(KERNEL)                                                        \
  switch (m) {                                                                           \
    PYCNN_TILE_CASE(KERNEL, 1) PYCNN_TILE_CASE(KERNEL, 2) PYCNN_TILE_CASE(KERNEL, 3)      \
    PYCNN_TILE_CASE(KERNEL, 4) PYCNN_TILE_CASE(KERNEL, 5)                                 \
    default: return KERNEL<6>(n, kc, a, b, ldb, alpha, beta, c, ldc);                    \
  }

static_assert(kMrF32 == 6 && kMrF64 == 6, "the row switch below covers 1..6 rows");

void gemm_microkernel_f32_avx2(index_t m, index_t n, index_t kc, const float* a, const float* b,
                               index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kNrF32 == 16, "two ymm of floats");
  PYCNN_TILE_SWITCH(tile_f32)
}

void gemm_microkernel_f64_avx2(index_t m, index_t n, index_t kc, const double* a,
                               const double* b, index_t ldb, double alpha, double beta,
                               double* c, index_t ldc) {
  static_assert(kNrF64 == 8, "two ymm of doubles");
  PYCNN_TILE_SWITCH(tile_f64)
}

}  // namespace pycnn
