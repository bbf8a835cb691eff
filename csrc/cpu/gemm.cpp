// PLACEHOLDER blocked GEMM (to be replaced by the packed, SIMD-dispatched one).
#include "gemm.h"
#include <omp.h>

namespace pycnn {

template <typename T>
void gemm_serial(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
                 const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    for (index_t j = 0; j < N; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
    for (index_t k = 0; k < K; ++k) {
      const T a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
      if (trans_b) for (index_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      else { const T* b = B + k * ldb; for (index_t j = 0; j < N; ++j) c[j] += a * b[j]; }
    }
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
          const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  const index_t rows = 16;
  #pragma omp parallel for schedule(static)
  for (index_t i0 = 0; i0 < M; i0 += rows) {
    const index_t m = std::min(rows, M - i0);
    const T* a = trans_a ? A + i0 : A + i0 * lda;
    gemm_serial(trans_a, trans_b, m, N, K, alpha, a, lda, B, ldb, beta, C + i0 * ldc, ldc);
  }
}

const char* simd_level() { return "generic"; }
void set_simd_level(const std::string&) {}

#define PYCNN_INSTANTIATE(T)                                                                      \
  template void gemm<T>(bool, bool, index_t, index_t, index_t, T, const T*, index_t, const T*,    \
                        index_t, T, T*, index_t);                                                 \
  template void gemm_serial<T>(bool, bool, index_t, index_t, index_t, T, const T*, index_t,       \
                               const T*, index_t, T, T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
