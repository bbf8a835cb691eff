// Fused normalization kernels (OpenMP), see norm.h for the math and the (N, C, S) view.
//
// Passes over the data, per kernel ("read" = one sweep over x, or over x and dy together).
// Each normalized set is handled by one thread from start to end, so the second sweep hits
// cache whenever the set fits in L2 (a BatchNorm channel of (32, *, 32, 32) float32 is 128 KB),
// except where noted:
//   batch_norm_forward   training: 2 reads + 1 write (shifted sums, normalize); eval: 1 + 1
//   batch_norm_backward  training: 2 reads + 1 write (sum dy, sum dy*(x-mean); dx); eval: 1 + 1
//                        (large channels: two sample-major sweeps of a thread's channels)
//   group_norm_forward   2 reads + 1 write
//   group_norm_backward  2 reads + 1 write (+ an O(threads * C) reduction for dgamma, dbeta)
//                        (LayerNorm over long rows: columns split across threads, 2 sweeps)
//   pixel_norm_forward   2 reads + 1 write (over a block of pixels, all channels)
//   pixel_norm_backward  2 reads + 1 write
// Statistics are one-pass shifted sums (K = the set's first element, see norm.h) summed in T
// lanes and folded into double every 1024 values (lane_sums).  The inner loops over a run are
// in norm_loops.h, compiled once per SIMD level and picked at run time (active_loops).  |K - mean| <= sqrt(n) * std
// (Samuelson), so a set whose first element is an extreme outlier loses at most about sqrt(n)
// float ulps of its variance; typical data loses nothing measurable (float32 1e4 + N(0,1)).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "norm.h"
#include "norm_loops.h"
#include "simd.h"

namespace pycnn {

namespace {

// Below this many elements a kernel runs on one thread: waking a team costs more than the
// work (and far more on an oversubscribed machine, where idle threads spin).
constexpr index_t kParallelMin = index_t(1) << 15;

// mean = hi + lo with hi = T(mean): (x - hi) - lo is x - mean to T's precision even when
// x ~ mean is large (x - hi is then exact).
template <typename T>
struct SplitMean {
  T hi, lo;
  explicit SplitMean(double mean) : hi(T(mean)), lo(T(mean - double(T(mean)))) {}
};

// Mean and biased variance of cnt values from their shifted sums.
inline void shifted_moments(double K, double s1, double s2, double cnt, double& mean,
                            double& var) {
  if (cnt <= 0) {
    mean = var = 0;
    return;
  }
  const double m = s1 / cnt;
  mean = K + m;
  var = std::max(s2 / cnt - m * m, 0.0);
}

// y = (x - mean) * scale + shift = (x - hi) * scale + (shift - lo * scale) over a run.
template <typename T>
inline void affine_run(const NormLoops<T>& L, T* y, const T* x, index_t n, SplitMean<T> m,
                       T scale, T shift, bool relu = false) {
  L.affine_run(y, x, n, m.hi, scale, T(double(shift) - double(m.lo) * double(scale)), relu);
}

// a += sum dy, b += sum dy*(x-mean), from sum dy*(x-mean) = sum dy*(x-hi) - lo*sum dy (x - hi
// is exact near the mean; one op less).  dx_k, when given, gets k1*dy_k in the same sweep.
template <typename T>
inline void dy_sums(const NormLoops<T>& L, const T* dy, const T* x, index_t n, SplitMean<T> m,
                    double& a, double& b, T* dx = nullptr, T k1 = T(0),
                    const T* relu_out = nullptr) {
  double sa = 0, sb = 0;
  L.dy_sums(dy, x, n, m.hi, &sa, &sb, dx, k1, relu_out);
  a += sa;
  b += sb - double(m.lo) * sa;
}

// The loops of the active SIMD level (norm_loops.h; the generic ones are this file's copy).
constexpr NormLoops<float> kGenericLoopsF32 = norm_loop_table<float>();
constexpr NormLoops<double> kGenericLoopsF64 = norm_loop_table<double>();

template <typename T>
const NormLoops<T>& active_loops();
template <>
const NormLoops<float>& active_loops<float>() {
  return active_table(kGenericLoopsF32, norm_loops_f32_avx2, norm_loops_f32_avx512);
}
template <>
const NormLoops<double>& active_loops<double>() {
  return active_table(kGenericLoopsF64, norm_loops_f64_avx2, norm_loops_f64_avx512);
}

// gamma / beta, or ones / zeros when the layer has no affine.
template <typename T>
struct Affine {
  std::vector<T> ones, zeros;
  const T* gamma;
  const T* beta;
  Affine(const T* g, const T* b, index_t C)
      : ones(g ? 0 : C, T(1)), zeros(b ? 0 : C, T(0)), gamma(g ? g : ones.data()),
        beta(b ? b : zeros.data()) {}
};

}  // namespace

// ---------------------------------------------------------------------------- batch norm
// Each thread owns a static range of channels, done in blocks: a block's N runs per channel are
// read for the statistics (read 1), then again to normalize or for dx (read 2).  Blocks of one
// channel keep its data in L1/L2 for read 2, but the channel's N runs of S values lie C*S apart:
// each run starts cold (the prefetcher stops at page ends) and with a power-of-two stride they
// share L2 sets.  So two cases sweep sample-major over the thread's whole range instead (one
// block; the runs (i, c0..c1) of a sample are contiguous):
//   * short runs, below kShortRunBytes (8 x 8 planes): channel by channel a 64 -> 64 channel
//     BatchNorm on (64, 64, 8, 8) float32 took 1.7x as long, forward and backward, inside a
//     ResNet step (its input fresh from the conv);
//   * the backward's large channels, past kChannelReuseBytes of x and dy (read 2 would miss L2
//     anyway).  The bound was 64 KB, from a 2x loss channel by channel on (32, 64, 32, 32)
//     float32 (256 KB a channel) on the AMD development machine; on the Sapphire Rapids VM of
//     2026-12-04 that shape ran 1.1-1.4x faster channel by channel on 2 threads (0.58-0.73 ms
//     against 0.79) and 1.5x on one, (64, 16, 32, 32) 1.3x, so it is 1 MB now.  (The forward,
//     one input and a fresh output, keeps channel order there: the sweep measured slower.)
constexpr index_t kShortRunBytes = 1024;
constexpr index_t kChannelReuseBytes = index_t(1) << 20;

template <typename T>
bool short_runs(const NormParams& p) {
  return p.S * index_t(sizeof(T)) < kShortRunBytes;
}

template <typename T>
void batch_norm_forward_cpu(T* y, double* save_mean, double* save_rstd, T* running_mean,
                            T* running_var, const T* x, const T* gamma, const T* beta,
                            const NormParams& p, bool training, double momentum, bool relu) {
  const index_t N = p.N, C = p.C, S = p.S;
  const double cnt = double(N * S);
  const Affine<T> af(gamma, beta, C);
  const NormLoops<T>& L = active_loops<T>();
  const index_t cb = short_runs<T>(p) ? C : 1;  // channels per block
  // per channel: the shifted sums, then the normalize's scale and shift (allocated before the
  // region: an exception must not leave it)
  std::vector<double> s1(size_t(C), 0.0), s2(size_t(C), 0.0);
  std::vector<T> scales(static_cast<size_t>(C)), shifts(static_cast<size_t>(C));
  const auto K = [&](index_t c) { return N * S > 0 ? x[c * S] : T(0); };  // channel c's shift: its first value
#pragma omp parallel if (p.numel() >= kParallelMin)
  {
    const index_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const index_t c_end = C * (t + 1) / nt;
    for (index_t b0 = C * t / nt; b0 < c_end; b0 += cb) {
      const index_t b1 = std::min(c_end, b0 + cb);
      if (training) {  // read 1: shifted sums
        for (index_t i = 0; i < N; ++i)
          for (index_t c = b0; c < b1; ++c)
            L.shifted_sums(x + (i * C + c) * S, S, K(c), &s1[size_t(c)], &s2[size_t(c)]);
      }
      for (index_t c = b0; c < b1; ++c) {
        double mean, var;
        if (training) {
          shifted_moments(double(K(c)), s1[size_t(c)], s2[size_t(c)], cnt, mean, var);
          if (running_mean)
            running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * mean);
          if (running_var && cnt > 1)
            running_var[c] =
                T((1 - momentum) * double(running_var[c]) + momentum * var * cnt / (cnt - 1));
        } else {
          mean = double(running_mean[c]);
          var = double(running_var[c]);
        }
        const double rstd = 1.0 / std::sqrt(var + p.eps);
        save_mean[c] = mean;
        save_rstd[c] = rstd;
        scales[size_t(c)] = T(double(af.gamma[c]) * rstd);
        shifts[size_t(c)] = af.beta[c];
      }
      for (index_t i = 0; i < N; ++i)  // read 2 + write: normalize
        for (index_t c = b0; c < b1; ++c)
          affine_run(L, y + (i * C + c) * S, x + (i * C + c) * S, S, SplitMean<T>(save_mean[c]),
                     scales[size_t(c)], shifts[size_t(c)], relu);
    }
  }
}

template <typename T>
void batch_norm_backward_cpu(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p, bool training, const T* relu_out) {
  const index_t N = p.N, C = p.C, S = p.S;
  const double cnt = double(N * S);
  const Affine<T> af(gamma, nullptr, C);
  const index_t per_channel = std::max(index_t(1), N * S * index_t(2 * sizeof(T)));
  const index_t cb = per_channel <= kChannelReuseBytes && !short_runs<T>(p) ? 1 : C;  // channels per block
  const NormLoops<T>& L = active_loops<T>();
  // Per thread: sum dy and sum dy*(x-mean) of a block of channels.  Allocated here, before
  // the region: an exception (bad_alloc) must not leave an OpenMP region.
  const index_t width = std::min(cb, C);
  std::vector<double> sums(size_t(2 * width * num_threads()));
#pragma omp parallel if (p.numel() >= kParallelMin)
  {
    const index_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const index_t c_end = C * (t + 1) / nt;
    double* sdy = sums.data() + 2 * width * t;
    double* sdyx = sdy + width;
    for (index_t b0 = C * t / nt; b0 < c_end; b0 += cb) {
      const index_t b1 = std::min(c_end, b0 + cb);
      std::fill(sdy, sdy + width, 0.0);
      std::fill(sdyx, sdyx + width, 0.0);
      for (index_t i = 0; i < N; ++i) {
        for (index_t c = b0; c < b1; ++c) {
          const index_t o = (i * C + c) * S;
          const T* dyr = dy + o;
          const T* xr = x + o;
          const T* rr = relu_out ? relu_out + o : nullptr;
          const SplitMean<T> m(save_mean[c]);
          double& a = sdy[size_t(c - b0)];
          double& b = sdyx[size_t(c - b0)];
          if (training) {  // read 1
            dy_sums(L, dyr, xr, S, m, a, b, static_cast<T*>(nullptr), T(0), rr);
          } else {  // the only read: dx = rstd*gamma*dy needs no statistics of dy
            const T k1 = T(save_rstd[c] * double(af.gamma[c]));
            dy_sums(L, dyr, xr, S, m, a, b, dx + o, k1, rr);
          }
        }
      }
      for (index_t c = b0; c < b1; ++c) {
        dgamma[c] = T(sdyx[size_t(c - b0)] * save_rstd[c]);
        dbeta[c] = T(sdy[size_t(c - b0)]);
      }
      if (!training || cnt <= 0) continue;
      for (index_t i = 0; i < N; ++i) {  // read 2 + write
        for (index_t c = b0; c < b1; ++c) {
          // dx = rstd*g*(dy - mean(dy) - xhat*mean(dy*xhat)) = k1*dy + k2*(x-mean) + k3
          const double rstd = save_rstd[c], g = double(af.gamma[c]);
          const SplitMean<T> m(save_mean[c]);
          const double k2 = -g * rstd * rstd * rstd * sdyx[size_t(c - b0)] / cnt;
          const T k1 = T(rstd * g), k2t = T(k2), hi = m.hi,
                  k3 = T(-g * rstd * sdy[size_t(c - b0)] / cnt - k2 * double(m.lo));
          const index_t o = (i * C + c) * S;
          L.dx_run(dx + o, dy + o, x + o, S, k1, k2t, hi, k3, relu_out ? relu_out + o : nullptr);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------- group norm
// A thread walks its contiguous range of sets in blocks of kSetBlock, each phase over the whole
// block: the sums, then the statistics, then the sweep that uses them.  A set's scalar part
// (divisions, a square root) is then independent of the next set's sums and pipelines with the
// other sets'; done set by set it was a serial chain as long as the sweeps of a 64-value
// LayerNorm row (0.6-0.9x torch's forward there, the fold of the lane sums in series too).
constexpr index_t kSetBlock = 16;

// [begin, end) of sets for thread t of nt: contiguous, sizes differing by at most one.
inline void thread_sets(index_t sets, index_t t, index_t nt, index_t& begin, index_t& end) {
  begin = sets * t / nt;
  end = sets * (t + 1) / nt;
}

template <typename T>
void group_norm_forward_cpu(T* y, double* save_mean, double* save_rstd, const T* x,
                            const T* gamma, const T* beta, const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S, G = p.G, Cg = C / G, len = Cg * S;
  const Affine<T> af(gamma, beta, C);
  const NormLoops<T>& L = active_loops<T>();
#pragma omp parallel if (p.numel() >= kParallelMin)
  {
    index_t i_begin, i_end;  // group (n, g) = set i is the contiguous x[i*len, (i+1)*len)
    thread_sets(N * G, omp_get_thread_num(), omp_get_num_threads(), i_begin, i_end);
    for (index_t b0 = i_begin; b0 < i_end; b0 += kSetBlock) {
      const index_t nb = std::min(kSetBlock, i_end - b0);
      double s1[kSetBlock], s2[kSetBlock];
      T K[kSetBlock];
      for (index_t r = 0; r < nb; ++r) {  // read 1
        const T* xg = x + (b0 + r) * len;
        K[r] = len > 0 ? xg[0] : T(0);
        s1[r] = s2[r] = 0;
        L.shifted_sums(xg, len, K[r], &s1[r], &s2[r]);
      }
      for (index_t r = 0; r < nb; ++r) {
        double mean, var;
        shifted_moments(double(K[r]), s1[r], s2[r], double(len), mean, var);
        save_mean[b0 + r] = mean;
        save_rstd[b0 + r] = 1.0 / std::sqrt(var + p.eps);
      }
      for (index_t r = 0; r < nb; ++r) {  // read 2 + write
        const index_t i = b0 + r, c0 = (i % G) * Cg;
        const T* xg = x + i * len;
        T* yg = y + i * len;
        const double rstd = save_rstd[i];
        const SplitMean<T> m(save_mean[i]);
        if (S == 1) {  // elementwise affine (LayerNorm): vectorize across channels
          L.layer_norm_forward_row(yg, xg, af.gamma + c0, af.beta + c0, Cg, m.hi, m.lo, T(rstd));
        } else {
          for (index_t j = 0; j < Cg; ++j)
            affine_run(L, yg + j * S, xg + j * S, S, m, T(double(af.gamma[c0 + j]) * rstd),
                       af.beta[c0 + j]);
        }
      }
    }
  }
}

namespace {

// LayerNorm backward (one group, S = 1: M rows of D values, gamma per column) for long rows:
// the columns are split across threads instead of the rows, so each thread owns the column
// sums dgamma, dbeta of its columns and every thread has work however few rows there are.
// dgamma, dbeta need only the saved statistics, so they come with the row sums in read 1:
//   read 1, per tile of columns, over all rows (column sums stay in L1): the thread's part of
//     the row sums a = sum dy*gamma, b = sum dy*gamma*(x-mean), and dgamma += dy*xhat,
//     dbeta += dy (summed in T over kFoldRows rows, then in double);
//   barrier; read 2 + write: dx from the row totals (thread parts added in thread order).
// (Row blocks re-read from L2 instead measured slower: the column sums then live in L2.)
constexpr index_t kColumnSplitMin = 2048;  // row length from which the column split is used
constexpr index_t kColumnTile = 2048;
constexpr index_t kFoldRows = 64;

template <typename T>
void layer_norm_backward_columns(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                                 const double* save_mean, const double* save_rstd,
                                 const T* gamma, index_t M, index_t D, bool parallel) {
  // Every buffer is allocated before the region (an exception must not leave it): the row
  // constants, and per thread and row the partial sums (A, B) at partial[2 * (n * nt + t)].
  std::vector<double> partial(size_t(2 * M * num_threads()), 0.0);
  std::vector<T> r(M), hi(M), lo(M);
  for (index_t n = 0; n < M; ++n) {
    const SplitMean<T> m(save_mean[n]);
    r[n] = T(save_rstd[n]);
    hi[n] = m.hi;
    lo[n] = m.lo;
  }
  const NormLoops<T>& L = active_loops<T>();
#pragma omp parallel if (parallel)
  {
    const index_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const index_t tiles = ceil_div(D, kColumnTile);
    const index_t j0 = std::min(D, tiles * t / nt * kColumnTile);
    const index_t j1 = std::min(D, tiles * (t + 1) / nt * kColumnTile);
    const auto ra = [&](index_t n) { return &partial[size_t(2 * (n * nt + t))]; };
    const auto rb = [&](index_t n) { return &partial[size_t(2 * (n * nt + t) + 1)]; };
    for (index_t c0 = j0; c0 < j1; c0 += kColumnTile) {  // read 1
      const index_t w = std::min(kColumnTile, j1 - c0);
      const T* gm = gamma + c0;
      double g[kColumnTile], bt[kColumnTile];
      T gf[kColumnTile], bf[kColumnTile];
      std::fill(g, g + w, 0.0);
      std::fill(bt, bt + w, 0.0);
      for (index_t n0 = 0; n0 < M; n0 += kFoldRows) {
        std::fill(gf, gf + w, T(0));
        std::fill(bf, bf + w, T(0));
        for (index_t n = n0; n < std::min(M, n0 + kFoldRows); ++n) {
          L.layer_norm_column_sums(dy + n * D + c0, x + n * D + c0, gm, w, r[n], hi[n], lo[n],
                                   ra(n), rb(n), gf, bf);
        }
        for (index_t j = 0; j < w; ++j) {
          g[j] += double(gf[j]);
          bt[j] += double(bf[j]);
        }
      }
      for (index_t j = 0; j < w; ++j) {
        dgamma[c0 + j] = T(g[j]);
        dbeta[c0 + j] = T(bt[j]);
      }
    }
#pragma omp barrier
    for (index_t n = 0; n < M; ++n) {  // read 2 + write
      double A = 0, B = 0;
      for (index_t u = 0; u < nt; ++u) {
        A += partial[size_t(2 * (n * nt + u))];
        B += partial[size_t(2 * (n * nt + u) + 1)];
      }
      // dx = rstd*(dy*gamma - A/D - xhat*rstd*B/D) = rstd*gamma*dy + k2*(x-mean) + k3
      const double rstd = save_rstd[n];
      const T rn = r[n], hn = hi[n], ln = lo[n];
      const double k2d = -rstd * rstd * rstd * B / double(D);
      const T k2 = T(k2d), k3 = T(-rstd * A / double(D) - k2d * double(ln));
      L.layer_norm_column_dx(dx + n * D + j0, dy + n * D + j0, x + n * D + j0, gamma + j0, j1 - j0,
                             rn, k2, k3, hn);
    }
  }
}

}  // namespace

template <typename T>
void group_norm_backward_cpu(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x,
                             const double* save_mean, const double* save_rstd, const T* gamma,
                             const NormParams& p) {
  const index_t N = p.N, C = p.C, S = p.S, G = p.G, Cg = C / G, len = Cg * S;
  const Affine<T> af(gamma, nullptr, C);
  if (G == 1 && S == 1 && C >= kColumnSplitMin)
    return layer_norm_backward_columns(dx, dgamma, dbeta, dy, x, save_mean, save_rstd, af.gamma,
                                       N, C, p.numel() >= kParallelMin);
  // dgamma, dbeta sum over samples, which different threads own: per-thread partials.  With
  // S = 1 (a gamma per element) each row adds into them elementwise: in T (gf, bf), folded
  // into the double partials once every group has had kFoldRows more rows.
  const int nt = num_threads();
  std::vector<double> partial(size_t(2 * nt * C), 0.0);
  // the T folds, allocated before the region (an exception must not leave it)
  const index_t fold_len = S == 1 ? C : 0;
  std::vector<T> folds(size_t(2 * nt * fold_len), T(0));
  const NormLoops<T>& L = active_loops<T>();
#pragma omp parallel if (p.numel() >= kParallelMin)
  {
    double* pg = partial.data() + size_t(2 * omp_get_thread_num() * C);
    double* pb = pg + C;
    T* gf = folds.data() + 2 * omp_get_thread_num() * fold_len;
    T* bf = gf + fold_len;
    index_t unfolded = 0;  // rows added into gf, bf since their last fold
    const auto fold = [&] {
      for (index_t c = 0; c < fold_len; ++c) {
        pg[c] += double(gf[c]);
        pb[c] += double(bf[c]);
        gf[c] = bf[c] = T(0);
      }
      unfolded = 0;
    };
    index_t i_begin, i_end;  // sets in blocks of kSetBlock, as in the forward
    thread_sets(N * G, omp_get_thread_num(), omp_get_num_threads(), i_begin, i_end);
    for (index_t b0 = i_begin; b0 < i_end; b0 += kSetBlock) {
      const index_t nb = std::min(kSetBlock, i_end - b0);
      double A[kSetBlock], B[kSetBlock];  // sum dy*gamma, sum dy*gamma*(x-mean)
      for (index_t r = 0; r < nb; ++r) {  // read 1
        const index_t i = b0 + r, c0 = (i % G) * Cg, base = i * len;
        const SplitMean<T> m(save_mean[i]);
        const T* gm = af.gamma + c0;
        A[r] = B[r] = 0;
        if (S == 1) {
          L.layer_norm_row_sums(dy + base, x + base, gm, Cg, m.hi, &A[r], &B[r]);
          B[r] -= double(m.lo) * A[r];
        } else {
          for (index_t j = 0; j < Cg; ++j) {
            const T* dyr = dy + base + j * S;
            const T* xr = x + base + j * S;
            double a = 0, b = 0;
            dy_sums(L, dyr, xr, S, m, a, b);
            pg[c0 + j] += b * save_rstd[i];
            pb[c0 + j] += a;
            A[r] += a * double(gm[j]);
            B[r] += b * double(gm[j]);
          }
        }
      }
      if (len == 0) continue;
      // dx = rstd*(dy*gamma - A/len - xhat*rstd*B/len) = rstd*gamma*dy + k2*(x-mean) + k3
      T k2[kSetBlock], k3[kSetBlock];
      for (index_t r = 0; r < nb; ++r) {
        const double rstd = save_rstd[b0 + r];
        const SplitMean<T> m(save_mean[b0 + r]);
        const double k2d = -rstd * rstd * rstd * B[r] / double(len);
        k2[r] = T(k2d);
        k3[r] = T(-rstd * A[r] / double(len) - k2d * double(m.lo));
      }
      for (index_t r = 0; r < nb; ++r) {  // read 2 + write
        const index_t i = b0 + r, c0 = (i % G) * Cg, base = i * len;
        const double rstd = save_rstd[i];
        const SplitMean<T> m(save_mean[i]);
        const T* gm = af.gamma + c0;
        if (S == 1) {  // dgamma += dy*xhat, xhat = (x-hi)*r - lo*r
          L.layer_norm_row_backward(dx + base, dy + base, x + base, gm, Cg, T(rstd), k2[r], k3[r],
                                    m.hi, T(-double(m.lo) * rstd), gf + c0, bf + c0);
          if (++unfolded == kFoldRows * G) fold();
        } else {
          for (index_t j = 0; j < Cg; ++j) {
            const index_t o = base + j * S;
            L.dx_run(dx + o, dy + o, x + o, S, T(rstd * double(gm[j])), k2[r], m.hi, k3[r],
                     nullptr);
          }
        }
      }
    }
    fold();
  }
#pragma omp parallel for schedule(static) if (p.numel() >= kParallelMin)
  for (index_t c = 0; c < C; ++c) {
    double g = 0, b = 0;
    for (int t = 0; t < nt; ++t) {
      g += partial[size_t(2 * t * C + c)];
      b += partial[size_t(2 * t * C + C + c)];
    }
    dgamma[c] = T(g);
    dbeta[c] = T(b);
  }
}

// ---------------------------------------------------------------------------- pixel norm
// Work item: sample n and a block of up to kPixelBlock pixels, all C channels.  The running
// per-pixel sums vectorize across pixels; the block (C * 256 values) stays in L2 for read 2.
constexpr index_t kPixelBlock = 256;

// f(sample i, first pixel s0, pixels sb) for every block, in parallel over the blocks.
template <typename F>
void for_each_pixel_block(const NormParams& p, F&& f) {
  const index_t nb = ceil_div(p.S, kPixelBlock);
#pragma omp parallel for schedule(static) if (p.numel() >= kParallelMin)
  for (index_t t = 0; t < p.N * nb; ++t) {
    const index_t s0 = (t % nb) * kPixelBlock;
    f(t / nb, s0, std::min(kPixelBlock, p.S - s0));
  }
}

template <typename T>
void pixel_norm_forward_cpu(T* y, double* save_rstd, const T* x, const NormParams& p) {
  const index_t C = p.C, S = p.S;
  const double inv_c = C > 0 ? 1.0 / double(C) : 0.0;
  for_each_pixel_block(p, [&](index_t i, index_t s0, index_t sb) {
    double acc[kPixelBlock];
    T r[kPixelBlock];
    std::fill(acc, acc + sb, 0.0);
    for (index_t c = 0; c < C; ++c) {  // read 1: sum of squares per pixel
      const T* xr = x + (i * C + c) * S + s0;
#pragma omp simd
      for (index_t s = 0; s < sb; ++s) acc[s] += double(xr[s]) * double(xr[s]);
    }
    for (index_t s = 0; s < sb; ++s) {
      const double rs = 1.0 / std::sqrt(acc[s] * inv_c + p.eps);
      save_rstd[i * S + s0 + s] = rs;
      r[s] = T(rs);
    }
    for (index_t c = 0; c < C; ++c) {  // read 2 + write
      const T* xr = x + (i * C + c) * S + s0;
      T* yr = y + (i * C + c) * S + s0;
#pragma omp simd
      for (index_t s = 0; s < sb; ++s) yr[s] = xr[s] * r[s];
    }
  });
}

template <typename T>
void pixel_norm_backward_cpu(T* dx, const T* dy, const T* x, const double* save_rstd,
                             const NormParams& p) {
  const index_t C = p.C, S = p.S;
  const double inv_c = C > 0 ? 1.0 / double(C) : 0.0;
  for_each_pixel_block(p, [&](index_t i, index_t s0, index_t sb) {
    double acc[kPixelBlock];
    T k1[kPixelBlock], k2[kPixelBlock];
    std::fill(acc, acc + sb, 0.0);
    for (index_t c = 0; c < C; ++c) {  // read 1: sum_c dy*x per pixel
      const index_t o = (i * C + c) * S + s0;
#pragma omp simd
      for (index_t s = 0; s < sb; ++s) acc[s] += double(dy[o + s]) * double(x[o + s]);
    }
    for (index_t s = 0; s < sb; ++s) {  // dx = r*dy - x * r^3 * mean_c(dy*x)
      const double r = save_rstd[i * S + s0 + s];
      k1[s] = T(r);
      k2[s] = T(-r * r * r * acc[s] * inv_c);
    }
    for (index_t c = 0; c < C; ++c) {  // read 2 + write
      const index_t o = (i * C + c) * S + s0;
#pragma omp simd
      for (index_t s = 0; s < sb; ++s) dx[o + s] = k1[s] * dy[o + s] + k2[s] * x[o + s];
    }
  });
}

#define PYCNN_INSTANTIATE(T)                                                                    \
  template void batch_norm_forward_cpu<T>(T*, double*, double*, T*, T*, const T*, const T*,     \
                                          const T*, const NormParams&, bool, double, bool);     \
  template void batch_norm_backward_cpu<T>(T*, T*, T*, const T*, const T*, const double*,       \
                                           const double*, const T*, const NormParams&, bool,    \
                                           const T*);                                           \
  template void group_norm_forward_cpu<T>(T*, double*, double*, const T*, const T*, const T*,   \
                                          const NormParams&);                                   \
  template void group_norm_backward_cpu<T>(T*, T*, T*, const T*, const T*, const double*,       \
                                           const double*, const T*, const NormParams&);         \
  template void pixel_norm_forward_cpu<T>(T*, double*, const T*, const NormParams&);            \
  template void pixel_norm_backward_cpu<T>(T*, const T*, const T*, const double*,               \
                                           const NormParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
