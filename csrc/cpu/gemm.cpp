// Blocked, packed GEMM (GotoBLAS/BLIS loop nest) with run-time dispatched micro-kernels.
//
//   for jc in N step NC:            op(B) panel kc x nc    -> packed (L3)
//     for pc in K step KC:          beta applies to the first K block only
//       for ic in M step MC:        op(A) block mc x kc    -> packed (L2)
//         for jr in NC step NR:     one B sliver kc x NR stays in L1
//           for ir in MC step MR:   micro-kernel: MR x NR tile of C in registers
//
// Packing copies op(A) into MR-row slivers and op(B) into NR-column slivers (k-major,
// zero-padded), so the transposes and strides are handled there, once (AVX2/AVX-512 pack with
// register transposes; the generic level with the loops below).  When all of M is one block of
// A, the B panel's slivers are packed one at a time in the jr loop, each just before its use.  A row-major op(B) feeding
// few rows of A is read in place instead (packing would cost as much as the FMAs).
// Scratch is thread-local (no shared statics): gemm_serial may run on every thread of an
// OpenMP region at once.  gemm() splits C into a grid of MR/NR-aligned blocks, one per thread.
#include "gemm.h"

#include <omp.h>

#include <algorithm>
#include <new>

#include "gemm_kernels.h"
#include "omp_guard.h"
#include "simd.h"

namespace pycnn {
namespace {

// ------------------------------------------------------------------ micro-kernels
// The tile kernels and packs of one SIMD level (gemm_kernels.h); a null pack: the portable loops
// below.
template <typename T>
using Microkernel = GemmKernels<T>;

// Portable tile (same contract as gemm_kernels.h), left to the compiler to vectorise over j.
template <typename T, int MR, int NR>
void microkernel_generic(index_t m, index_t n, index_t kc, const T* a, const T* b, index_t ldb,
                         T alpha, T beta, T* c, index_t ldc) {
  T acc[MR][NR] = {};
  for (index_t k = 0; k < kc; ++k, a += MR, b += ldb)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      T r = alpha * acc[i][j];
      if (beta != T(0)) r += beta * c[i * ldc + j];
      c[i * ldc + j] = r;
    }
}

template <typename T>
Microkernel<T> microkernel_for(int level);

template <>
Microkernel<float> microkernel_for<float>(int level) {
  switch (level) {
    case kSimdAvx512: return gemm_kernels_f32_avx512;
    case kSimdAvx2: return gemm_kernels_f32_avx2;
    default: return {4, 8, &microkernel_generic<float, 4, 8>};
  }
}

template <>
Microkernel<double> microkernel_for<double>(int level) {
  switch (level) {
    case kSimdAvx512: return gemm_kernels_f64_avx512;
    case kSimdAvx2: return gemm_kernels_f64_avx2;
    default: return {4, 4, &microkernel_generic<double, 4, 4>};
  }
}

// ------------------------------------------------------------------ blocking and packing
index_t round_up(index_t x, index_t m) { return ceil_div(x, m) * m; }

// Splits `total` into the fewest blocks of at most `cap`, of equal size rounded up to `unit`.
index_t balanced_block(index_t total, index_t cap, index_t unit) {
  return std::min(round_up(ceil_div(total, ceil_div(total, cap)), unit), round_up(total, unit));
}

struct Blocking {
  index_t kc, mc, nc;
};

// The mc x kc block of A takes about half of L2 (1 MiB per core), the kc x nc panel of B a
// share of L3.  A deep kc means fewer passes over C: 768 beat 256 by 5-10% on 2048^2
// products here (the kc x NR sliver of B then streams from L2 rather than sitting in L1).
template <typename T>
Blocking blocking_for(index_t M, index_t N, index_t K, int mr, int nr) {
  const index_t kc_cap = 768;
  const index_t k_bytes = kc_cap * index_t(sizeof(T));
  const index_t mc_cap = std::max<index_t>(mr, (index_t(512) << 10) / k_bytes / mr * mr);
  const index_t nc_cap = std::max<index_t>(nr, (index_t(4) << 20) / k_bytes / nr * nr);
  return {balanced_block(K, kc_cap, 1), balanced_block(M, mc_cap, mr), balanced_block(N, nc_cap, nr)};
}

// A 64-byte aligned buffer that only grows; one per thread and role.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  template <typename T>
  T* get(index_t count) {
    const size_t bytes = size_t(round_up(count * index_t(sizeof(T)), 64));
    if (bytes > bytes_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      if (data_ == nullptr) {
        bytes_ = 0;
        throw std::bad_alloc();
      }
      bytes_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

thread_local PackBuffer tls_pack_a, tls_pack_b;

// op(A)[0:mc, 0:kc] -> slivers of mr rows, each kc x mr k-major (dst[k*mr + i]).
// A points at op(A)[0, 0]: op(A)[i, k] = ta ? A[k*lda + i] : A[i*lda + k].
template <typename T>
void pack_a(const Microkernel<T>& uk, bool ta, const T* A, index_t lda, index_t mc, index_t kc,
            T* dst) {
  const int mr = uk.mr;
  for (index_t i0 = 0; i0 < mc; i0 += mr, dst += mr * kc) {
    const index_t m = std::min<index_t>(mr, mc - i0);
    if (!ta && uk.transpose_pack) {
      uk.transpose_pack(A + i0 * lda, lda, m, kc, mr, dst);
    } else if (ta && uk.copy_pack) {
      uk.copy_pack(A + i0, lda, m, kc, mr, dst);
    } else if (ta) {
      for (index_t k = 0; k < kc; ++k) {
        const T* src = A + k * lda + i0;
        T* d = dst + k * mr;
        for (index_t i = 0; i < m; ++i) d[i] = src[i];
        for (index_t i = m; i < mr; ++i) d[i] = T(0);
      }
    } else {
      for (index_t i = 0; i < m; ++i) {
        const T* src = A + (i0 + i) * lda;
        for (index_t k = 0; k < kc; ++k) dst[k * mr + i] = src[k];
      }
      for (index_t i = m; i < mr; ++i)
        for (index_t k = 0; k < kc; ++k) dst[k * mr + i] = T(0);
    }
  }
}

// op(B)[0:kc, 0:nc] -> slivers of nr columns, each kc x nr k-major (dst[k*nr + j]).
// B points at op(B)[0, 0]: op(B)[k, j] = tb ? B[j*ldb + k] : B[k*ldb + j].
template <typename T>
void pack_b(const Microkernel<T>& uk, bool tb, const T* B, index_t ldb, index_t kc, index_t nc,
            T* dst) {
  const int nr = uk.nr;
  for (index_t j0 = 0; j0 < nc; j0 += nr, dst += nr * kc) {
    const index_t n = std::min<index_t>(nr, nc - j0);
    if (tb && uk.transpose_pack) {
      uk.transpose_pack(B + j0 * ldb, ldb, n, kc, nr, dst);
    } else if (!tb && uk.copy_pack) {
      uk.copy_pack(B + j0, ldb, n, kc, nr, dst);
    } else if (tb) {
      for (index_t j = 0; j < n; ++j) {
        const T* src = B + (j0 + j) * ldb;
        for (index_t k = 0; k < kc; ++k) dst[k * nr + j] = src[k];
      }
      for (index_t j = n; j < nr; ++j)
        for (index_t k = 0; k < kc; ++k) dst[k * nr + j] = T(0);
    } else {
      for (index_t k = 0; k < kc; ++k) {
        const T* src = B + k * ldb + j0;
        T* d = dst + k * nr;
        for (index_t j = 0; j < n; ++j) d[j] = src[j];
        for (index_t j = n; j < nr; ++j) d[j] = T(0);
      }
    }
  }
}

// C = beta * C (beta == 0: zeros, C not read): the whole product when K == 0 or alpha == 0.
template <typename T>
void scale_c(index_t M, index_t N, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0))
      std::fill(row, row + N, T(0));
    else
      for (index_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// ------------------------------------------------------------------ drivers
// The single-threaded loop nest of the header comment; M, N, K >= 1.
template <typename T>
void gemm_blocked(const Microkernel<T>& uk, bool ta, bool tb, index_t M, index_t N, index_t K,
                  T alpha, const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C,
                  index_t ldc) {
  const index_t mr = uk.mr, nr = uk.nr;
  const Blocking bk = blocking_for<T>(M, N, K, uk.mr, uk.nr);
  // B is re-read once per MR rows of A: with at most 4 slivers of A, packing B costs about
  // as much as using it, so a row-major op(B) is read in place (an edge sliver narrower than
  // NR is still packed unless the kernel masks its loads of B).
  const bool b_in_place = !tb && M <= 4 * mr;
  // With one block of A (M <= mc) each sliver of the B panel is used once, by every sliver of
  // A in turn: it is packed just before that use, while it is hot, rather than the whole panel
  // first (a panel past L2 is then read back from memory: 64 x 1024 x 576 went from about 30
  // to 45-50 GFLOP/s on one Sapphire Rapids core, 2026-12-03).
  const bool b_per_sliver = !b_in_place && M <= bk.mc;
  T* pa = tls_pack_a.get<T>(bk.mc * bk.kc);
  T* pb = tls_pack_b.get<T>(bk.kc * (b_in_place || b_per_sliver ? nr : bk.nc));
  for (index_t jc = 0; jc < N; jc += bk.nc) {
    const index_t nc = std::min(bk.nc, N - jc);
    const index_t nc_in_place = uk.reads_b_within_n ? nc : nc / nr * nr;  // when b_in_place
    for (index_t pc = 0; pc < K; pc += bk.kc) {
      const index_t kc = std::min(bk.kc, K - pc);
      const T beta_k = pc == 0 ? beta : T(1);
      const T* b_src = tb ? B + jc * ldb + pc : B + pc * ldb + jc;  // op(B)[pc, jc]
      if (!b_in_place && !b_per_sliver)
        pack_b(uk, tb, b_src, ldb, kc, nc, pb);
      else if (nc_in_place < nc)
        pack_b(uk, tb, b_src + nc_in_place, ldb, kc, nc - nc_in_place, pb);
      for (index_t ic = 0; ic < M; ic += bk.mc) {
        const index_t mc = std::min(bk.mc, M - ic);
        pack_a(uk, ta, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, mc, kc, pa);
        for (index_t jr = 0; jr < nc; jr += nr) {
          const index_t n = std::min(nr, nc - jr);
          const T* bp = pb + jr * kc;
          index_t b_stride = nr;
          if (b_per_sliver) {
            pack_b(uk, tb, tb ? b_src + jr * ldb : b_src + jr, ldb, kc, n, pb);
            bp = pb;
          } else if (b_in_place) {
            bp = jr < nc_in_place ? b_src + jr : pb;
            b_stride = jr < nc_in_place ? ldb : nr;
          }
          T* c = C + ic * ldc + jc + jr;
          for (index_t ir = 0; ir < mc; ir += mr)
            uk.microkernel(std::min(mr, mc - ir), n, kc, pa + ir * kc, bp, b_stride, alpha, beta_k,
                  c + ir * ldc, ldc);
        }
      }
    }
  }
}

// Below this many multiply-adds per thread, another thread costs more than it saves
// (2 cores, AVX-512: a 64^3 product, 2 x this, gains about 10% from the second thread).
constexpr double kMinMacsPerThread = 64.0 * 64 * 32;

// [begin, end) of part `p` of `parts` of [0, total), cut on multiples of `unit`.
std::pair<index_t, index_t> split_range(index_t total, index_t unit, int parts, int p) {
  const index_t chunks = ceil_div(total, unit);
  return {std::min(total, chunks * p / parts * unit), std::min(total, chunks * (p + 1) / parts * unit)};
}

struct ThreadGrid {
  int rows = 1, cols = 1;
};

// The tm x tn grid of at most nt threads (largest count first) with the least per-thread
// work: its tile of C plus the cost of packing its rows of A and columns of B.
ThreadGrid thread_grid(index_t M, index_t N, int nt, int mr, int nr) {
  const index_t m_chunks = ceil_div(M, mr), n_chunks = ceil_div(N, nr);
  for (int p = nt; p > 1; --p) {
    ThreadGrid best;
    double best_cost = -1;
    for (int tm = 1; tm <= p; ++tm) {
      if (p % tm != 0) continue;
      const int tn = p / tm;
      if (tm > m_chunks || tn > n_chunks) continue;
      const double m = double(ceil_div(m_chunks, tm) * mr), n = double(ceil_div(n_chunks, tn) * nr);
      const double cost = m * n + 8.0 * (m + n);
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        best = {tm, tn};
      }
    }
    if (best_cost >= 0) return best;
  }
  return {};
}

}  // namespace

template <typename T>
void gemm_serial(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha,
                 const T* A, index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) return scale_c(M, N, beta, C, ldc);
  const Microkernel<T> uk = microkernel_for<T>(active_simd_level());
  gemm_blocked(uk, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) return scale_c(M, N, beta, C, ldc);
  const Microkernel<T> uk = microkernel_for<T>(active_simd_level());
  // Never nest: inside a parallel region this thread's share is the whole product.
  const int max_threads = omp_in_parallel() ? 1 : num_threads();
  const double macs = double(M) * double(N) * double(K);
  const int nt = int(std::min<double>(max_threads, std::max(1.0, macs / kMinMacsPerThread)));
  const ThreadGrid grid = thread_grid(M, N, nt, uk.mr, uk.nr);
  const int tiles = grid.rows * grid.cols;
  if (tiles <= 1)
    return gemm_blocked(uk, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  OmpGuard guard;  // a thread's packing buffer may fail to grow (bad_alloc): see omp_guard.h
#pragma omp parallel num_threads(tiles)
  for (int t = omp_get_thread_num(); t < tiles; t += omp_get_num_threads()) {
    const auto [m0, m1] = split_range(M, uk.mr, grid.rows, t / grid.cols);
    const auto [n0, n1] = split_range(N, uk.nr, grid.cols, t % grid.cols);
    if (m1 <= m0 || n1 <= n0) continue;
    guard.run([&] {
      gemm_blocked(uk, trans_a, trans_b, m1 - m0, n1 - n0, K, alpha,
                   trans_a ? A + m0 : A + m0 * lda, lda, trans_b ? B + n0 * ldb : B + n0, ldb,
                   beta, C + m0 * ldc + n0, ldc);
    });
  }
  guard.rethrow();
}

#define PYCNN_INSTANTIATE(T)                                                                      \
  template void gemm<T>(bool, bool, index_t, index_t, index_t, T, const T*, index_t, const T*,    \
                        index_t, T, T*, index_t);                                                 \
  template void gemm_serial<T>(bool, bool, index_t, index_t, index_t, T, const T*, index_t,       \
                               const T*, index_t, T, T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
