// AVX-512 GEMM micro-kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl).
// Tile: MR rows x 2 zmm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Column edges use masked loads/stores; row edges pick the kernel compiled
// for exactly m rows.  Everything but the exported tables has internal linkage.
#include <immintrin.h>

#include "gemm_kernels.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_ps() as maybe-uninitialized (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pycnn {
namespace {

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

// The vector operations of the tiles and packs, per element type.
struct F32 {
  using T = float;
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16, kMr = kGemmAvx512MrF32;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V load(Mask m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(T* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static void transpose(V r[kLanes]) { transpose16x16_f32(r); }
  // Lanes [0, n), n clamped to [0, 16].
  static Mask mask(index_t n) { return n >= 16 ? Mask(0xFFFF) : n <= 0 ? 0 : Mask((1u << n) - 1); }
};

struct F64 {
  using T = double;
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8, kMr = kGemmAvx512MrF64;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V load(Mask m, const T* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(T* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static void transpose(V r[kLanes]) { transpose8x8_f64(r); }
  static Mask mask(index_t n) { return n >= 8 ? Mask(0xFF) : n <= 0 ? 0 : Mask((1u << n) - 1); }
};

// M rows x NV vectors of C (NV = 2, or 1 for a column edge at most one vector wide).
template <class S, int M, int NV>
void tile(index_t n, index_t kc, const typename S::T* a, const typename S::T* b, index_t ldb,
          typename S::T alpha, typename S::T beta, typename S::T* c, index_t ldc) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = S::zero();
    c1[i] = S::zero();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    if (NV == 2) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + L), _MM_HINT_T0);
  }
  // Masked B loads (as fast as plain ones) never read past column n: B may be read in place.
  const auto m0 = S::mask(n), m1 = S::mask(n - L);
#pragma GCC unroll 2
  for (index_t k = 0; k < kc; ++k) {
    const V b0 = S::load(m0, b);
    const V b1 = NV == 2 ? S::load(m1, b + L) : S::zero();
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const V ai = S::set1(a[i]);
      c0[i] = S::fmadd(ai, b0, c0[i]);
      if (NV == 2) c1[i] = S::fmadd(ai, b1, c1[i]);
    }
    a += S::kMr;
    b += ldb;
  }
  const V va = S::set1(alpha), vb = S::set1(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    typename S::T* row = c + i * ldc;
    V r0 = S::mul(va, c0[i]);
    if (beta != 0) r0 = S::fmadd(vb, S::load(m0, row), r0);
    S::store(row, m0, r0);
    if (NV == 2) {
      V r1 = S::mul(va, c1[i]);
      if (beta != 0) r1 = S::fmadd(vb, S::load(m1, row + L), r1);
      S::store(row + L, m1, r1);
    }
  }
}

// Rows in groups of one vector's lanes, k in blocks of as many: masked loads (k tail),
// zero vectors for rows past `rows`, a register transpose, masked stores (width tail).
template <class S>
void transpose_pack(const typename S::T* src, index_t ld, index_t rows, index_t kc, index_t width,
                    typename S::T* dst) {
  constexpr int L = S::kLanes;
  for (index_t g = 0; g < width; g += L) {
    const auto store_mask = S::mask(width - g);
    for (index_t k0 = 0; k0 < kc; k0 += L) {
      const index_t kn = kc - k0 < L ? kc - k0 : L;
      const auto load_mask = S::mask(kn);
      typename S::V r[L];
#pragma GCC unroll 16
      for (int i = 0; i < L; ++i)
        r[i] = g + i < rows ? S::load(load_mask, src + (g + i) * ld + k0) : S::zero();
      S::transpose(r);
      for (index_t c = 0; c < kn; ++c) S::store(dst + (k0 + c) * width + g, store_mask, r[c]);
    }
  }
}

// Per k, one masked load (zeros past `rows`) and one masked store per vector of the width.
template <class S>
void copy_pack(const typename S::T* src, index_t ld, index_t rows, index_t kc, index_t width,
               typename S::T* dst) {
  for (index_t k = 0; k < kc; ++k, src += ld, dst += width)
    for (index_t g = 0; g < width; g += S::kLanes)
      S::store(dst + g, S::mask(width - g), S::load(S::mask(rows - g), src + g));
}

void gemm_transpose_pack_f32(const float* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, float* dst) {
  transpose_pack<F32>(src, ld, rows, kc, width, dst);
}

void gemm_transpose_pack_f64(const double* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, double* dst) {
  transpose_pack<F64>(src, ld, rows, kc, width, dst);
}

void gemm_copy_pack_f32(const float* src, index_t ld, index_t rows, index_t kc,
                               index_t width, float* dst) {
  copy_pack<F32>(src, ld, rows, kc, width, dst);
}

void gemm_copy_pack_f64(const double* src, index_t ld, index_t rows, index_t kc,
                               index_t width, double* dst) {
  copy_pack<F64>(src, ld, rows, kc, width, dst);
}

// The tile compiled for exactly m rows; one vector of columns when n fits in one.
#define PYCNN_TILE_CASE(S, M)                                                 \
  case M:                                                                     \
    return n > S::kLanes ? tile<S, M, 2>(n, kc, a, b, ldb, alpha, beta, c, ldc) \
                         : tile<S, M, 1>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(S)                                                                   \
  static_assert(S::kMr == 14, "the row switch covers 1..14 rows");                             \
  switch (m) {                                                                                 \
    PYCNN_TILE_CASE(S, 1) PYCNN_TILE_CASE(S, 2) PYCNN_TILE_CASE(S, 3) PYCNN_TILE_CASE(S, 4)     \
    PYCNN_TILE_CASE(S, 5) PYCNN_TILE_CASE(S, 6) PYCNN_TILE_CASE(S, 7) PYCNN_TILE_CASE(S, 8)     \
    PYCNN_TILE_CASE(S, 9) PYCNN_TILE_CASE(S, 10) PYCNN_TILE_CASE(S, 11) PYCNN_TILE_CASE(S, 12)  \
    PYCNN_TILE_CASE(S, 13) default: PYCNN_TILE_CASE(S, 14)                                     \
  }

void gemm_microkernel_f32(index_t m, index_t n, index_t kc, const float* a, const float* b,
                                 index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kGemmAvx512NrF32 == 2 * F32::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F32)
}

void gemm_microkernel_f64(index_t m, index_t n, index_t kc, const double* a,
                                 const double* b, index_t ldb, double alpha, double beta,
                                 double* c, index_t ldc) {
  static_assert(kGemmAvx512NrF64 == 2 * F64::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F64)
}

}  // namespace

const GemmKernels<float> gemm_kernels_f32_avx512 = {kGemmAvx512MrF32, kGemmAvx512NrF32, &gemm_microkernel_f32,
                                                    &gemm_transpose_pack_f32, &gemm_copy_pack_f32, true};
const GemmKernels<double> gemm_kernels_f64_avx512 = {kGemmAvx512MrF64, kGemmAvx512NrF64, &gemm_microkernel_f64,
                                                     &gemm_transpose_pack_f64, &gemm_copy_pack_f64, true};

}  // namespace pycnn
