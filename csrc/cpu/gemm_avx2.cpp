// AVX2 + FMA GEMM micro-kernels (compiled with -mavx2 -mfma).
// Tile: MR rows x 2 ymm columns of C in registers; per k, two loads of B, MR broadcasts of A
// and 2*MR FMAs.  Full-width tiles use plain loads/stores, column edges masked ones; row edges
// pick the kernel compiled for exactly m rows.  Everything but the exported tables has
// internal linkage.  Packs transpose in registers (8 x 8 floats, 4 x 4 doubles).
#include <immintrin.h>

#include "gemm_kernels.h"

namespace pycnn {
namespace {

// In place: r[j] becomes column j of the 8 x 8 block whose rows were r[0..7].
void transpose8x8_f32(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 4; ++i) {  // per 128-bit lane L: t[2i] = (a0 b0 a1 b1), t[2i+1] = (a2 b2 a3 b3)
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // s[4h + c], lane L: column 4L + c of rows 4h..4h+3
    s[4 * h] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(s[c], s[4 + c], 0x31);
  }
}

// In place: r[j] becomes column j of the 4 x 4 block whose rows were r[0..3].
void transpose4x4_f64(__m256d r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// The vector operations of the tiles and packs, per element type.
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
  static void transpose(V r[kLanes]) { transpose8x8_f32(r); }
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
  static void transpose(V r[kLanes]) { transpose4x4_f64(r); }
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

// Stores the first n lanes of v (all of them without a masked move when n covers the vector).
template <class S>
void store_lanes(typename S::T* p, index_t n, typename S::V v) {
  if (n >= S::kLanes)
    S::store(p, v);
  else
    S::store(p, S::mask(n), v);
}

// Rows in groups of one vector's lanes, k in blocks of as many: masked loads (k tail),
// zero vectors for rows past `rows`, a register transpose, stores of the width's lanes.
template <class S>
void transpose_pack(const typename S::T* src, index_t ld, index_t rows, index_t kc, index_t width,
                    typename S::T* dst) {
  constexpr int L = S::kLanes;
  for (index_t g = 0; g < width; g += L) {
    for (index_t k0 = 0; k0 < kc; k0 += L) {
      const index_t kn = kc - k0 < L ? kc - k0 : L;
      const __m256i load_mask = S::mask(kn);
      typename S::V r[L];
#pragma GCC unroll 8
      for (int i = 0; i < L; ++i)
        r[i] = g + i >= rows ? S::zero()
               : kn == L     ? S::load(src + (g + i) * ld + k0)
                             : S::load(load_mask, src + (g + i) * ld + k0);
      S::transpose(r);
      for (index_t c = 0; c < kn; ++c) store_lanes<S>(dst + (k0 + c) * width + g, width - g, r[c]);
    }
  }
}

// Per k and vector of the width: a load of the rows present (zeros past `rows`), a store.
template <class S>
void copy_pack(const typename S::T* src, index_t ld, index_t rows, index_t kc, index_t width,
               typename S::T* dst) {
  for (index_t k = 0; k < kc; ++k, src += ld, dst += width)
    for (index_t g = 0; g < width; g += S::kLanes) {
      const typename S::V v = rows - g >= S::kLanes ? S::load(src + g)
                              : rows > g            ? S::load(S::mask(rows - g), src + g)
                                                    : S::zero();
      store_lanes<S>(dst + g, width - g, v);
    }
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

// The tile compiled for exactly m rows.
#define PYCNN_TILE_CASE(S, M) \
  case M: return tile<S, M>(n, kc, a, b, ldb, alpha, beta, c, ldc);
#define PYCNN_TILE_SWITCH(S)                                                            \
  static_assert(S::kMr == 6, "the row switch covers 1..6 rows");                        \
  switch (m) {                                                                          \
    PYCNN_TILE_CASE(S, 1) PYCNN_TILE_CASE(S, 2) PYCNN_TILE_CASE(S, 3)                    \
    PYCNN_TILE_CASE(S, 4) PYCNN_TILE_CASE(S, 5) default: PYCNN_TILE_CASE(S, 6)           \
  }

void gemm_microkernel_f32(index_t m, index_t n, index_t kc, const float* a, const float* b,
                               index_t ldb, float alpha, float beta, float* c, index_t ldc) {
  static_assert(kGemmAvx2NrF32 == 2 * F32::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F32)
}

void gemm_microkernel_f64(index_t m, index_t n, index_t kc, const double* a,
                               const double* b, index_t ldb, double alpha, double beta,
                               double* c, index_t ldc) {
  static_assert(kGemmAvx2NrF64 == 2 * F64::kLanes, "two vectors of columns");
  PYCNN_TILE_SWITCH(F64)
}

}  // namespace

const GemmKernels<float> gemm_kernels_f32_avx2 = {kGemmAvx2MrF32, kGemmAvx2NrF32, &gemm_microkernel_f32,
                                                    &gemm_transpose_pack_f32, &gemm_copy_pack_f32, false};
const GemmKernels<double> gemm_kernels_f64_avx2 = {kGemmAvx2MrF64, kGemmAvx2NrF64, &gemm_microkernel_f64,
                                                     &gemm_transpose_pack_f64, &gemm_copy_pack_f64, false};

}  // namespace pycnn
