// The GEMM micro-kernel contract, shared by the driver (gemm.cpp, baseline ISA) and the
// per-ISA files (gemm_avx2.cpp, gemm_avx512.cpp).  Declarations, types and constants only: no
// inline code (simd.h: the ISA mechanism).
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

template <typename T>
using GemmMicrokernel = void (*)(index_t m, index_t n, index_t kc, const T* a, const T* b, index_t ldb,
                                 T alpha, T beta, T* c, index_t ldc);
// A transposing pack: dst[k*width + r] = src[r*ld + k] for r < rows, k < kc; zero for
// rows <= r < width.  Packs a sliver of op(A) stored (M, K) or of op(B) stored (N, K).
// A copying pack: dst[k*width + r] = src[k*ld + r] for r < rows, k < kc; zero for
// rows <= r < width.  Packs a sliver of op(A) stored (K, M) or of op(B) stored (K, N).
template <typename T>
using GemmPack = void (*)(const T* src, index_t ld, index_t rows, index_t kc, index_t width, T* dst);

// One SIMD level's GEMM: its tile (mr x nr of C in registers), the tile kernel and the packs
// (null: the portable loops of gemm.cpp).
template <typename T>
struct GemmKernels {
  int mr, nr;
  GemmMicrokernel<T> microkernel;
  GemmPack<T> transpose_pack = nullptr, copy_pack = nullptr;
  bool reads_b_within_n = false;  // may read an edge sliver of B (n < NR) in place
};

// Tile shapes (rows x columns of C) held in registers.
// AVX-512: 14 rows x 2 zmm = 28 accumulators of the 32 registers.
constexpr int kGemmAvx512MrF32 = 14, kGemmAvx512NrF32 = 32;
constexpr int kGemmAvx512MrF64 = 14, kGemmAvx512NrF64 = 16;
// AVX2: 6 rows x 2 ymm = 12 accumulators of the 16 registers.
constexpr int kGemmAvx2MrF32 = 6, kGemmAvx2NrF32 = 16;
constexpr int kGemmAvx2MrF64 = 6, kGemmAvx2NrF64 = 8;

// The tables the ISA files export (simd.h: the ISA mechanism).
extern const GemmKernels<float> gemm_kernels_f32_avx512;
extern const GemmKernels<double> gemm_kernels_f64_avx512;
extern const GemmKernels<float> gemm_kernels_f32_avx2;
extern const GemmKernels<double> gemm_kernels_f64_avx2;

}  // namespace pycnn
