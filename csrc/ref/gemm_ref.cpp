// Plain-loop GEMM: the executable spec for gemm.h, accumulated in double.
#include "gemm.h"

namespace pycnn {

template <typename T>
void gemm_ref(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
              const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      double acc = 0;
      for (index_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += double(a) * double(b);
      }
      const double prev = beta == T(0) ? 0.0 : double(beta) * double(C[i * ldc + j]);
      C[i * ldc + j] = T(double(alpha) * acc + prev);
    }
}

template void gemm_ref<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t,
                              const float*, index_t, float, float*, index_t);
template void gemm_ref<double>(bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                               const double*, index_t, double, double*, index_t);

}  // namespace pycnn
