// AVX-512 GEMM micro-kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl).
// Tile: MR rows x 2 zmm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Column edges use masked loads/stores; row edges pick the kernel compiled
// for exactly m rows.  Everything but the exported functions has internal linkage.
#include <immintrin.h>

#include "gemm_kernels.h"

namespace pycnn {
namespace {

constexpr int kMrF32 = kGemmAvx512MrF32, kNrF32 = kGemmAvx512NrF32;
constexpr int kMrF64 = kGemmAvx512MrF64, kNrF64 = kGemmAvx512NrF64;

// Lanes [0, n) of a 16-lane (f32) or 8-lane (f64) vector, n clamped to [0, lanes].
__mmask16 mask16(index_t n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? 0 : __mmask16((1u << n) - 1); }
__mmask8 mask8(index_t n) { return n >= 8 ? __mmask8(0xFF) : n <= 0 ? 0 : __mmask8((1u << n) - 1); }

template <int M>
void tile_f32(index_t n, index_t kc, const float* a, const float* b, index_t ldb, float alpha,
              float beta, float* c, index_t ldc) {
  __m512 c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMrF32;
    b += ldb;
  }
  const __mmask16 m0 = mask16(n), m1 = mask16(n - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, c0[i]), r1 = _mm512_mul_ps(va, c1[i]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

template <int M>
void tile_f64(index_t n, index_t kc, const double* a, const double* b, index_t ldb, double alpha,
              double beta, double* c, index_t ldc) {
  __m512d c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm512_setzero_pd();
    c1[i] = _mm512_setzero_pd();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      c0[i] = _mm512_fmadd_pd(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_pd(ai, b1, c1[i]);
    }
    a += kMrF64;
    b += ldb;
  }
  const __mmask8 m0 = mask8(n), m1 = mask8(n - 8);
  const __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    double* row = c + i * ldc;
    __m512d r0 = _mm512_mul_pd(va, c0[i]), r1 = _mm512_mul_pd(va, c1[i]);
    if (beta != 0.0) {
      r0 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m0, row), r0);
      r1 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m1, row + 8), r1);
    }
    _mm512_mask_storeu_pd(row, m0, r0);
    _mm512_mask_storeu_pd(row + 8, m1, r1);
  }
}

}  // namespace

#define PYCNN_TILE_CASE(KERNEL, M) \
  case M: return KERNEL<M>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(KERNEL)                                                          \
  switch (m) {                                                                             \
    PYCNN_TILE_CASE(KERNEL, 1) PYCNN_TILE_CASE(KERNEL, 2) PYCNN_TILE_CASE(KERNEL, 3)        \
    PYCNN_TILE_CASE(KERNEL, 4) PYCNN_TILE_CASE(KERNEL, 5) PYCNN_TILE_CASE(KERNEL, 6)        \
    PYCNN_TILE_CASE(KERNEL, 7) PYCNN_TILE_CASE(KERNEL, 8) PYCNN_TILE_CASE(KERNEL, 9)        \
    PYCNN_TILE_CASE(KERNEL, 10) PYCNN_TILE_CASE(KERNEL, 11) PYCNN_TILE_CASE(KERNEL, 12)     \
    PYCNN_TILE_CASE(KERNEL, 13) default: return KERNEL<14>(n, kc, a, b, ldb, alpha, beta, c, ldc); \
  }

static_assert(kMrF32 == 14 && kMrF64 == 14, "the row switch below covers 1..14 rows");

void gemm_microkernel_f32_avx512(index_t m, index_t n, index_t kc, const float* a, const float* b,
                                 index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kNrF32 == 32, "two zmm of floats");
  PYCNN_TILE_SWITCH(tile_f32)
}

void gemm_microkernel_f64_avx512(index_t m, index_t n, index_t kc, const double* a,
                                 const double* b, index_t ldb, double alpha, double beta,
                                 double* c, index_t ldc) {
  static_assert(kNrF64 == 16, "two zmm of doubles");
  PYCNN_TILE_SWITCH(tile_f64)
}

}  // namespace pycnn
