// GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major, op(X) = X or X^T.
//   op(A) is (M, K), op(B) is (K, N), C is (M, N) with leading dimension ldc.
//   A is stored (M, K) with lda >= K, or (K, M) with lda >= M when trans_a.
//   B is stored (K, N) with ldb >= N, or (N, K) with ldb >= K when trans_b.
// beta == 0 never reads C (so C may hold garbage or NaN).  K == 0 or alpha == 0 gives
// C = beta * C without reading A or B (as BLAS does); gemm_ref still reads them.
//
// Implementations: gemm_ref (csrc/ref, plain loops, the spec) and the blocked,
// packed, OpenMP gemm in csrc/cpu whose micro-kernel is picked at run time
// (generic / AVX2 / AVX-512, csrc/cpu/simd.h).  gemm() is the one entry point everyone calls.
#pragma once
#include "common.h"

namespace pycnn {

template <typename T>
void gemm_ref(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
              const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

// Parallel (OpenMP) blocked GEMM.  Call from outside a parallel region.
template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

// Single-threaded variant, safe to call from inside an OpenMP region
// (e.g. one image per thread in conv).
template <typename T>
void gemm_serial(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
                 const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc);

}  // namespace pycnn
