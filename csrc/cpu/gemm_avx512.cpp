// AVX-512 GEMM micro-kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl).
// Tile: MR rows x 2 zmm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Column edges use masked loads/stores; row edges pick the kernel compiled
// for exactly m rows.  Everything but the exported functions has internal linkage.
#include <immintrin.h>

#include "gemm_kernels.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_ps() as maybe-uninitialized (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pycnn {
namespace {

constexpr int kMrF32 = kGemmAvx512MrF32, kNrF32 = kGemmAvx512NrF32;
constexpr int kMrF64 = kGemmAvx512MrF64, kNrF64 = kGemmAvx512NrF64;

// Lanes [0, n) of a 16-lane (f32) or 8-lane (f64) vector, n clamped to [0, lanes].
__mmask16 mask16(index_t n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? 0 : __mmask16((1u << n) - 1); }
__mmask8 mask8(index_t n) { return n >= 8 ? __mmask8(0xFF) : n <= 0 ? 0 : __mmask8((1u << n) - 1); }

// NV = 2 vectors of columns, or 1 for a tile edge at most one vector wide.
template <int M, int NV>
void tile_f32(index_t n, index_t kc, const float* a, const float* b, index_t ldb, float alpha,
              float beta, float* c, index_t ldc) {
  __m512 c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    if (NV == 2) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = NV == 2 ? _mm512_loadu_ps(b + 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      if (NV == 2) c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMrF32;
    b += ldb;
  }
  const auto m0 = mask16(n), m1 = mask16(n - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, c0[i]);
    if (beta != float(0)) r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), r0);
    _mm512_mask_storeu_ps(row, m0, r0);
    if (NV == 2) {
      __m512 r1 = _mm512_mul_ps(va, c1[i]);
      if (beta != float(0)) r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), r1);
      _mm512_mask_storeu_ps(row + 16, m1, r1);
    }
  }
}

// NV = 2 vectors of columns, or 1 for a tile edge at most one vector wide.
template <int M, int NV>
void tile_f64(index_t n, index_t kc, const double* a, const double* b, index_t ldb, double alpha,
              double beta, double* c, index_t ldc) {
  __m512d c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = _mm512_setzero_pd();
    c1[i] = _mm512_setzero_pd();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    if (NV == 2) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_loadu_pd(b);
    const __m512d b1 = NV == 2 ? _mm512_loadu_pd(b + 8) : _mm512_setzero_pd();
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      c0[i] = _mm512_fmadd_pd(ai, b0, c0[i]);
      if (NV == 2) c1[i] = _mm512_fmadd_pd(ai, b1, c1[i]);
    }
    a += kMrF64;
    b += ldb;
  }
  const auto m0 = mask8(n), m1 = mask8(n - 8);
  const __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    double* row = c + i * ldc;
    __m512d r0 = _mm512_mul_pd(va, c0[i]);
    if (beta != double(0)) r0 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m0, row), r0);
    _mm512_mask_storeu_pd(row, m0, r0);
    if (NV == 2) {
      __m512d r1 = _mm512_mul_pd(va, c1[i]);
      if (beta != double(0)) r1 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m1, row + 8), r1);
      _mm512_mask_storeu_pd(row + 8, m1, r1);
    }
  }
}

// In place: r[j] becomes column j of the 16 x 16 block whose rows were r[0..15].
void transpose16x16_f32(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane L: t[2i] = (a0 b0 a1 b1), t[2i+1] = (a2 b2 a3 b3)
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + c], lane L: column 4L + c of rows 4i..4i+3
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {  // gather lane L of r[c], r[4+c], r[8+c], r[12+c]
    t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xdd);
  }
}

// In place: r[j] becomes column j of the 8 x 8 block whose rows were r[0..7].
void transpose8x8_f64(__m512d r[8]) {
  __m512d t[8], s[8];
  for (int i = 0; i < 4; ++i) {  // t[2i + c], 128-bit lane L: column 2L + c of rows 2i, 2i+1
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  for (int c = 0; c < 2; ++c) {
    s[c] = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x88);
    s[2 + c] = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xdd);
    s[4 + c] = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x88);
    s[6 + c] = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xdd);
  }
  for (int c = 0; c < 2; ++c) {
    r[c] = _mm512_shuffle_f64x2(s[c], s[4 + c], 0x88);
    r[4 + c] = _mm512_shuffle_f64x2(s[c], s[4 + c], 0xdd);
    r[2 + c] = _mm512_shuffle_f64x2(s[2 + c], s[6 + c], 0x88);
    r[6 + c] = _mm512_shuffle_f64x2(s[2 + c], s[6 + c], 0xdd);
  }
}

}  // namespace

// Rows in groups of one vector's lanes, k in blocks of as many: masked loads (k tail),
// zero vectors for rows past `rows`, a register transpose, masked stores (width tail).
void gemm_transpose_pack_f32_avx512(const float* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, float* dst) {
  for (index_t g = 0; g < width; g += 16) {
    const __mmask16 store_mask = mask16(width - g);
    for (index_t k0 = 0; k0 < kc; k0 += 16) {
      const index_t kn = kc - k0 < 16 ? kc - k0 : 16;
      const __mmask16 load_mask = mask16(kn);
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = g + i < rows ? _mm512_maskz_loadu_ps(load_mask, src + (g + i) * ld + k0)
                            : _mm512_setzero_ps();
      transpose16x16_f32(r);
      for (index_t c = 0; c < kn; ++c) _mm512_mask_storeu_ps(dst + (k0 + c) * width + g, store_mask, r[c]);
    }
  }
}

void gemm_transpose_pack_f64_avx512(const double* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, double* dst) {
  for (index_t g = 0; g < width; g += 8) {
    const __mmask8 store_mask = mask8(width - g);
    for (index_t k0 = 0; k0 < kc; k0 += 8) {
      const index_t kn = kc - k0 < 8 ? kc - k0 : 8;
      const __mmask8 load_mask = mask8(kn);
      __m512d r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
        r[i] = g + i < rows ? _mm512_maskz_loadu_pd(load_mask, src + (g + i) * ld + k0)
                            : _mm512_setzero_pd();
      transpose8x8_f64(r);
      for (index_t c = 0; c < kn; ++c) _mm512_mask_storeu_pd(dst + (k0 + c) * width + g, store_mask, r[c]);
    }
  }
}

// Per k, one masked load (zeros past `rows`) and one masked store per vector of the width.
void gemm_copy_pack_f32_avx512(const float* src, index_t ld, index_t rows, index_t kc,
                               index_t width, float* dst) {
  for (index_t k = 0; k < kc; ++k, src += ld, dst += width)
    for (index_t g = 0; g < width; g += 16)
      _mm512_mask_storeu_ps(dst + g, mask16(width - g), _mm512_maskz_loadu_ps(mask16(rows - g), src + g));
}

void gemm_copy_pack_f64_avx512(const double* src, index_t ld, index_t rows, index_t kc,
                               index_t width, double* dst) {
  for (index_t k = 0; k < kc; ++k, src += ld, dst += width)
    for (index_t g = 0; g < width; g += 8)
      _mm512_mask_storeu_pd(dst + g, mask8(width - g), _mm512_maskz_loadu_pd(mask8(rows - g), src + g));
}

// A full-width tile or, for n within one vector, the one-vector one.
#define PYCNN_TILE_CASE(KERNEL, M)                                                      \
  case M:                                                                               \
    return n > LANES ? KERNEL<M, 2>(n, kc, a, b, ldb, alpha, beta, c, ldc)              \
                     : KERNEL<M, 1>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(KERNEL)                                                          \
  switch (m) {                                                                             \
    PYCNN_TILE_CASE(KERNEL, 1) PYCNN_TILE_CASE(KERNEL, 2) PYCNN_TILE_CASE(KERNEL, 3)        \
    PYCNN_TILE_CASE(KERNEL, 4) PYCNN_TILE_CASE(KERNEL, 5) PYCNN_TILE_CASE(KERNEL, 6)        \
    PYCNN_TILE_CASE(KERNEL, 7) PYCNN_TILE_CASE(KERNEL, 8) PYCNN_TILE_CASE(KERNEL, 9)        \
    PYCNN_TILE_CASE(KERNEL, 10) PYCNN_TILE_CASE(KERNEL, 11) PYCNN_TILE_CASE(KERNEL, 12)     \
    PYCNN_TILE_CASE(KERNEL, 13) default: PYCNN_TILE_CASE(KERNEL, 14)                   \
  }

static_assert(kMrF32 == 14 && kMrF64 == 14, "the row switch below covers 1..14 rows");

void gemm_microkernel_f32_avx512(index_t m, index_t n, index_t kc, const float* a, const float* b,
                                 index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kNrF32 == 32, "two zmm of floats");
  constexpr index_t LANES = 16;
  PYCNN_TILE_SWITCH(tile_f32)
}

void gemm_microkernel_f64_avx512(index_t m, index_t n, index_t kc, const double* a,
                                 const double* b, index_t ldb, double alpha, double beta,
                                 double* c, index_t ldc) {
  static_assert(kNrF64 == 16, "two zmm of doubles");
  constexpr index_t LANES = 8;
  PYCNN_TILE_SWITCH(tile_f64)
}

}  // namespace pycnn
