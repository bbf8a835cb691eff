// The GEMM micro-kernel contract, shared by the driver (gemm.cpp, baseline ISA) and the
// per-ISA files (gemm_avx2.cpp, gemm_avx512.cpp).  Declarations and constants only: no
// inline functions or templates, so no code compiled with AVX flags can be merged into
// baseline code by the linker (see BUILD-NOTES, "SIMD in a portable build").
//
// A micro-kernel computes one MR x NR tile of C:
//   C[i, j] = alpha * sum_k Ap[k*MR + i] * Bp[k*ldb + j] + beta * C[i, j]
// for i < m <= MR, j < n <= NR, k < kc; beta == 0 never reads C.
//   Ap: a packed sliver of op(A), k-major, MR values per k (rows >= m zero-padded).
//   Bp: NR values per k at stride ldb: a packed sliver (ldb == NR, columns >= n zero-padded)
//       or op(B) read in place (row-major, not transposed): when n == NR, or for any n with
//       the AVX-512 kernels, which never read B past column n.
#pragma once
#include <cstdint>

namespace pycnn {

using index_t = std::int64_t;

using GemmMicrokernelF32 = void (*)(index_t m, index_t n, index_t kc, const float* a,
                                    const float* b, index_t ldb, float alpha, float beta,
                                    float* c, index_t ldc);
using GemmMicrokernelF64 = void (*)(index_t m, index_t n, index_t kc, const double* a,
                                    const double* b, index_t ldb, double alpha, double beta,
                                    double* c, index_t ldc);

// A transposing pack: dst[k*width + r] = src[r*ld + k] for r < rows, k < kc; zero for
// rows <= r < width.  Packs a sliver of op(A) stored (M, K) or of op(B) stored (N, K).
using GemmTransposePackF32 = void (*)(const float* src, index_t ld, index_t rows, index_t kc,
                                      index_t width, float* dst);
using GemmTransposePackF64 = void (*)(const double* src, index_t ld, index_t rows, index_t kc,
                                      index_t width, double* dst);

// A copying pack: dst[k*width + r] = src[k*ld + r] for r < rows, k < kc; zero for
// rows <= r < width.  Packs a sliver of op(A) stored (K, M) or of op(B) stored (K, N).
using GemmCopyPackF32 = void (*)(const float* src, index_t ld, index_t rows, index_t kc,
                                 index_t width, float* dst);
using GemmCopyPackF64 = void (*)(const double* src, index_t ld, index_t rows, index_t kc,
                                 index_t width, double* dst);

// Tile shapes (rows x columns of C) held in registers.
// AVX-512: 14 rows x 2 zmm = 28 accumulators of the 32 registers.
constexpr int kGemmAvx512MrF32 = 14, kGemmAvx512NrF32 = 32;
constexpr int kGemmAvx512MrF64 = 14, kGemmAvx512NrF64 = 16;
// AVX2: 6 rows x 2 ymm = 12 accumulators of the 16 registers.
constexpr int kGemmAvx2MrF32 = 6, kGemmAvx2NrF32 = 16;
constexpr int kGemmAvx2MrF64 = 6, kGemmAvx2NrF64 = 8;

void gemm_microkernel_f32_avx512(index_t m, index_t n, index_t kc, const float* a, const float* b,
                                 index_t ldb, float alpha, float beta, float* c, index_t ldc);
void gemm_microkernel_f64_avx512(index_t m, index_t n, index_t kc, const double* a,
                                 const double* b, index_t ldb, double alpha, double beta,
                                 double* c, index_t ldc);
void gemm_transpose_pack_f32_avx512(const float* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, float* dst);
void gemm_transpose_pack_f64_avx512(const double* src, index_t ld, index_t rows, index_t kc,
                                    index_t width, double* dst);
void gemm_copy_pack_f32_avx512(const float* src, index_t ld, index_t rows, index_t kc,
                               index_t width, float* dst);
void gemm_copy_pack_f64_avx512(const double* src, index_t ld, index_t rows, index_t kc,
                               index_t width, double* dst);
void gemm_transpose_pack_f32_avx2(const float* src, index_t ld, index_t rows, index_t kc,
                                  index_t width, float* dst);
void gemm_transpose_pack_f64_avx2(const double* src, index_t ld, index_t rows, index_t kc,
                                  index_t width, double* dst);
void gemm_copy_pack_f32_avx2(const float* src, index_t ld, index_t rows, index_t kc,
                             index_t width, float* dst);
void gemm_copy_pack_f64_avx2(const double* src, index_t ld, index_t rows, index_t kc,
                             index_t width, double* dst);
void gemm_microkernel_f32_avx2(index_t m, index_t n, index_t kc, const float* a, const float* b,
                               index_t ldb, float alpha, float beta, float* c, index_t ldc);
void gemm_microkernel_f64_avx2(index_t m, index_t n, index_t kc, const double* a,
                               const double* b, index_t ldb, double alpha, double beta,
                               double* c, index_t ldc);

}  // namespace pycnn
