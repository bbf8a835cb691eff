// Pooling kernels (OpenMP), see pool.h for the windows and layouts (params: csrc/params).
//
// Every window is separable: its rows and its columns are precomputed once per call as 1-D
// spans, already clipped to the input, so the inner loops carry no bounds tests:
//   max / adaptive max:  taps first, first + d, ..., first + (n-1) d
//   avg / adaptive avg:  [begin, end) and the divisor's share (count) of that dimension
// Forward kernels parallelize over (plane, output row) pairs, or (plane, block of rows) for the
// fixed max windows (gathers: no races).  Backward scatters (max: dx[idx] += dy; avg:
// dx[window] += dy / divisor) give a thread whole planes, so overlapping windows never race.
// Per plane, memory traffic is one read of the input plane and one write of the output (plus
// indices).  The scatters, gathers and avg pooling run near copy speed.  Max pooling's forward
// is bound by its compare-and-selects (two per tap at the baseline ISA): the common windows
// (2x2 s2, 3x3 s2, 3x3 s1) have compile-time kernels that vectorize a whole row, borders and
// tails included (see max_pool_rows_fixed and bench/bench_pool.py).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "omp_guard.h"
#include "pool.h"

namespace pycnn {

// ------------------------------------------------------------------ kernels
namespace {

// Below this many elements a kernel runs on one thread: waking a team costs more than the work.
constexpr index_t kParallelMin = index_t(1) << 14;

// The windows of every output along one dimension, from pool.h's index maps (computed once per
// call, so the inner loops carry no bounds tests).
using Taps = PoolTaps;
using Span = PoolSpan;

std::vector<Taps> pool_taps(index_t L_out, index_t L, index_t k, index_t s, index_t p, index_t d) {
  std::vector<Taps> t(L_out);
  for (index_t o = 0; o < L_out; ++o) t[o] = max_pool_taps(o, L, k, s, p, d);
  return t;
}

std::vector<Taps> adaptive_taps(index_t L_out, index_t L) {
  std::vector<Taps> t(L_out);
  for (index_t o = 0; o < L_out; ++o) {
    const PoolSpan sp = adaptive_span(o, L, L_out);
    t[o] = {sp.begin, sp.count};
  }
  return t;
}

std::vector<Span> avg_spans(index_t L_out, index_t L, index_t k, index_t s, index_t p,
                            bool count_include_pad) {
  std::vector<Span> sp(L_out);
  for (index_t o = 0; o < L_out; ++o) sp[o] = avg_pool_span(o, L, k, s, p, count_include_pad);
  return sp;
}

std::vector<Span> adaptive_spans(index_t L_out, index_t L) {
  std::vector<Span> sp(L_out);
  for (index_t o = 0; o < L_out; ++o) sp[o] = adaptive_span(o, L, L_out);
  return sp;
}

// The output columns [lo, hi) whose windows lie wholly inside the input (all kW taps valid).
struct Interior {
  index_t lo, hi;
};

Interior interior_columns(const std::vector<Taps>& cols, index_t k) {
  index_t lo = 0, hi = index_t(cols.size());
  while (lo < hi && cols[lo].n != k) ++lo;
  while (hi > lo && cols[hi - 1].n != k) --hi;
  for (index_t o = lo; o < hi; ++o)
    if (cols[o].n != k) return {0, 0};  // a hole (cannot happen for strided windows): no fast path
  return {lo, hi};
}

// max over one window's taps, in row-major order (ties: first; NaN: the last NaN seen).
template <typename T>
inline void max_window(const T* xp, index_t W, Taps rt, Taps ct, index_t dH, index_t dW, T& y,
                       std::int64_t& at_out) {
  T best = -std::numeric_limits<T>::infinity();
  index_t best_at = rt.first * W + ct.first;
  for (index_t i = 0; i < rt.n; ++i) {
    const index_t row = (rt.first + i * dH) * W;
    for (index_t j = 0; j < ct.n; ++j) {
      const index_t at = row + ct.first + j * dW;
      const T v = xp[at];
      const bool take = (v > best) | (v != v);
      best = take ? v : best;
      best_at = take ? at : best_at;
    }
  }
  y = best;
  at_out = best_at;
}

// Positions inside a plane for the interior fast path: int32 for both types (an int64 select
// under a double mask does not vectorize at the baseline ISA; planes of 2^31+ take the
// per-window path).
using LanePos = std::int32_t;

// One tap of every interior output of a row: best[o] / at[o] take xr[o*S] when it is larger,
// or NaN (branch-free selects: vectorizable).  S > 0 is a compile-time stride, S = 0 uses s.
template <index_t S, typename T, typename P>
inline void max_tap(T* best, P* at, const T* xr, index_t n, index_t s, index_t pos0) {
  const index_t st = S > 0 ? S : s;
#pragma omp simd
  for (index_t o = 0; o < n; ++o) {
    const T v = xr[o * st];
    const bool take = (v > best[o]) | (v != v);
    best[o] = take ? v : best[o];
    at[o] = take ? P(pos0 + o * st) : at[o];
  }
}

// y, idx: output row oh of plane pl; the max over taps rows[oh] x cols[ow] (step dH, dW).
// Interior columns run tap by tap across the whole row (the same row-major tap order per
// output); border columns (and adaptive windows) window by window.
template <typename T>
void max_pool_rows(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p,
                   const std::vector<Taps>& rows, const std::vector<Taps>& cols, index_t dH,
                   index_t dW, index_t sW, index_t kW) {
  using P = LanePos;
  const index_t total = p.planes() * p.H_out;
  const bool lanes_fit = p.in_plane() <= index_t(std::numeric_limits<P>::max());
  const Interior in = kW > 0 && lanes_fit ? interior_columns(cols, kW) : Interior{0, 0};
  const index_t n_in = in.hi - in.lo;
  PerThread<P> at_buf(n_in);  // scratch before the region: see omp_guard.h
#pragma omp parallel if (p.planes() * p.in_plane() > kParallelMin)
  {
    P* at = at_buf.get();
#pragma omp for schedule(static)
    for (index_t r = 0; r < total; ++r) {
      const index_t pl = r / p.H_out, oh = r % p.H_out;
      const T* xp = x + pl * p.in_plane();
      T* yr = y + r * p.W_out;
      std::int64_t* ir = idx + r * p.W_out;
      const Taps rt = rows[oh];
      for (index_t ow = 0; ow < in.lo; ++ow)
        max_window(xp, p.W, rt, cols[ow], dH, dW, yr[ow], ir[ow]);
      for (index_t ow = in.hi; ow < p.W_out; ++ow)
        max_window(xp, p.W, rt, cols[ow], dH, dW, yr[ow], ir[ow]);
      if (n_in == 0) continue;
      T* best = yr + in.lo;
      const index_t c0 = cols[in.lo].first;  // column of tap 0 of the first interior output
      for (index_t o = 0; o < n_in; ++o) {
        best[o] = -std::numeric_limits<T>::infinity();
        at[o] = P(rt.first * p.W + c0 + o * sW);
      }
      for (index_t i = 0; i < rt.n; ++i)
        for (index_t j = 0; j < kW; ++j) {
          const index_t off = (rt.first + i * dH) * p.W + c0 + j * dW;
          if (sW == 1)
            max_tap<1>(best, at, xp + off, n_in, sW, off);
          else if (sW == 2)
            max_tap<2>(best, at, xp + off, n_in, sW, off);
          else
            max_tap<0>(best, at, xp + off, n_in, sW, off);
        }
      for (index_t o = 0; o < n_in; ++o) ir[in.lo + o] = at[o];
    }
  }
}

// Fixed windows: KH x KW taps, column stride S (compile-time), column dilation 1.  Rows whose
// windows all lie inside the input and whose taps cover whole stride groups (KW % S == 0) load
// x directly (strided loads of complete groups: deinterleaving shuffles).  Otherwise the input
// rows are first split into S phase rows, phase q holding the columns k*S + q - pW (k < len)
// clamped to [0, W): tap j of output o is then phase j % S at o + j / S, so the loop over a row's
// outputs has only contiguous loads (no gathers), and the tap loop unrolls.  The loop runs over
// blocks of kFixedBlock outputs (the last block overlaps the one before it, or pads a short row
// into scratch): no scalar remainder.  A clamped column repeats an edge tap next to itself, which
// changes neither the first max nor the last NaN; only its position needs the clamp, applied
// after the loop to the border outputs.  Rows clipped by the padding repeat the first valid row
// before them and the last after them, the same way.
//
// A lane keeps the winning tap's offset h*W + j (uniform over the lanes: a select of constants;
// int32 for both types, as an int64 select under a double mask does not vectorize at the
// baseline ISA), and the output's column o*S - pW is added at the end.  The first tap seeds the
// max: the same as -inf with a position on tap 0.
constexpr index_t kFixedBlock = 8;  // a multiple of the lane counts at the baseline ISA

// kFixedBlock outputs from o0 of one output row into y / idx; ph[i]: phase 0 of tap row i, or
// (Direct) the input row of tap row i.
template <int KH, int KW, int S, bool Direct, typename T>
inline void max_block_fixed(T* y, std::int64_t* idx, const std::array<const T*, KH>& ph,
                            const std::array<std::int32_t, KH * KW>& tap_at, index_t len,
                            index_t o0, index_t pW) {
#pragma omp simd
  for (index_t o = o0; o < o0 + kFixedBlock; ++o) {
    T best = ph[0][Direct ? o * S : o];
    std::int32_t at = tap_at[0];
#pragma GCC unroll 16
    for (int t = 1; t < KH * KW; ++t) {  // tap (t / KW, t % KW), row-major
      const T v = Direct ? ph[t / KW][o * S + t % KW]
                         : ph[t / KW][(t % KW) % S * len + o + (t % KW) / S];
      const bool take = (v > best) | (v != v);
      best = take ? v : best;
      at = take ? tap_at[t] : at;
    }
    y[o - o0] = best;
    idx[o - o0] = std::int64_t(at) + (o * S - pW);
  }
}

template <int KH, int KW, int S, typename T>
void max_pool_rows_fixed(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p,
                         const std::vector<Taps>& rows, const std::vector<Taps>& cols) {
  const index_t W = p.W, W_out = p.W_out;
  const index_t len = std::max(W_out, kFixedBlock) + (KW - 1) / S;  // phase row length
  // phase positions k with every column k*S + q - pW inside the row: [k_lo, k_hi)
  const index_t k_lo = std::min((p.pad_left + S - 1) / S, len);
  const index_t k_hi = std::clamp<index_t>((W + p.pad_left) / S, k_lo, len);
  const Interior in = interior_columns(cols, KW);  // the other outputs have clamped taps
  const bool direct =
      KW % S == 0 && p.pad_left == 0 && in.lo == 0 && in.hi == W_out && W_out >= kFixedBlock;
  if (p.planes() == 0) return;
  // tasks: (plane, block of output rows); whole planes when there are enough of them
  const index_t blocks = std::clamp<index_t>((32 + p.planes() - 1) / p.planes(), 1, p.H_out);
  const index_t rows_per_block = (p.H_out + blocks - 1) / blocks;
  PerThread<T> phases_buf(direct ? 0 : p.H * S * len), yb_buf(kFixedBlock);  // see omp_guard.h
  PerThread<std::int64_t> ib_buf(kFixedBlock);
#pragma omp parallel if (p.planes() * p.in_plane() > kParallelMin)
  {
    T* const phases = phases_buf.get();
    T* const yb = yb_buf.get();
    std::int64_t* const ib = ib_buf.get();
#pragma omp for schedule(static)
    for (index_t task = 0; task < p.planes() * blocks; ++task) {
      const index_t pl = task / blocks, oh0 = task % blocks * rows_per_block;
      const index_t oh1 = std::min(oh0 + rows_per_block, p.H_out);
      if (oh0 >= oh1) continue;
      const T* xp = x + pl * p.in_plane();
      // The input rows the block's windows read.  With padding and row dilation an earlier
      // output can start lower than a later one (its first tap clipped), so take the extremes.
      index_t h0 = rows[oh0].first, h1 = 0;
      for (index_t oh = oh0; oh < oh1; ++oh) {
        h0 = std::min(h0, rows[oh].first);
        h1 = std::max(h1, rows[oh].first + (rows[oh].n - 1) * p.dilation_h + 1);
      }
      for (index_t h = h0; h < (direct ? h0 : h1); ++h) {
        T* dst = phases + h * S * len;
        const T* xr = xp + h * W;
        for (index_t k = 0; k < k_lo; ++k)
          for (int q = 0; q < S; ++q)
            dst[q * len + k] = xr[std::clamp<index_t>(k * S + q - p.pad_left, 0, W - 1)];
#pragma omp simd
        for (index_t k = k_lo; k < k_hi; ++k)
          for (int q = 0; q < S; ++q) dst[q * len + k] = xr[k * S + q - p.pad_left];
        for (index_t k = k_hi; k < len; ++k)
          for (int q = 0; q < S; ++q)
            dst[q * len + k] = xr[std::clamp<index_t>(k * S + q - p.pad_left, 0, W - 1)];
      }
      for (index_t oh = oh0; oh < oh1; ++oh) {
        const Taps rt = rows[oh];
        const index_t lead = (rt.first - (oh * p.stride_h - p.pad_top)) / p.dilation_h;  // tap rows in the padding
        std::array<const T*, KH> ph;
        std::array<std::int32_t, KH * KW> tap_at;
        for (index_t i = 0; i < KH; ++i) {
          const index_t h = rt.first + std::min(std::max<index_t>(i - lead, 0), rt.n - 1) * p.dilation_h;
          ph[i] = direct ? xp + h * W : phases + h * S * len;
          for (int j = 0; j < KW; ++j) tap_at[i * KW + j] = std::int32_t(h * W + j);
        }
        T* yr = y + (pl * p.H_out + oh) * W_out;
        std::int64_t* ir = idx + (pl * p.H_out + oh) * W_out;
        if (W_out >= kFixedBlock) {
          for (index_t o0 = 0; o0 < W_out; o0 += kFixedBlock) {
            const index_t o = std::min(o0, W_out - kFixedBlock);
            if (direct)
              max_block_fixed<KH, KW, S, true>(yr + o, ir + o, ph, tap_at, len, o, p.pad_left);
            else
              max_block_fixed<KH, KW, S, false>(yr + o, ir + o, ph, tap_at, len, o, p.pad_left);
          }
        } else {
          max_block_fixed<KH, KW, S, false>(yb, ib, ph, tap_at, len, 0, p.pad_left);
          std::copy(yb, yb + W_out, yr);
          std::copy(ib, ib + W_out, ir);
        }
        const auto clamp_position = [&](index_t o) {
          const index_t at = ir[o] - (o * S - p.pad_left), row = at / W * W;  // at - row = j < W
          ir[o] = row + std::clamp<index_t>(o * S - p.pad_left + at - row, 0, W - 1);
        };
        for (index_t o = 0; o < in.lo; ++o) clamp_position(o);
        for (index_t o = std::max(in.hi, in.lo); o < W_out; ++o) clamp_position(o);
      }
    }
  }
}

// Where a kernel meets an index outside [0, plane): the smallest flat position (the min
// reduction over threads), or none.
constexpr index_t kNoBadIndex = std::numeric_limits<index_t>::max();

inline index_t bad_or_none(index_t first) { return first == kNoBadIndex ? -1 : first; }

// Per plane (one thread each): dst = 0, then dst[idx[i]] += src[i] (Add) or = src[i] (in
// order: the last write wins); an index outside [0, n_dst) is skipped and reported.
template <bool Add, typename T>
index_t scatter_planes(T* dst, index_t n_dst, const T* src, const std::int64_t* idx, index_t n_src,
                       index_t planes) {
  index_t first_bad = kNoBadIndex;
  const bool parallel = planes * n_dst > kParallelMin;
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (parallel)
  for (index_t pl = 0; pl < planes; ++pl) {
    T* d = dst + pl * n_dst;
    const T* sp = src + pl * n_src;
    const std::int64_t* ip = idx + pl * n_src;
    std::memset(d, 0, sizeof(T) * n_dst);
    for (index_t i = 0; i < n_src; ++i) {
      const std::int64_t k = ip[i];
      if (std::uint64_t(k) >= std::uint64_t(n_dst)) {
        first_bad = std::min(first_bad, pl * n_src + i);
        continue;
      }
      if (Add)
        d[k] += sp[i];
      else
        d[k] = sp[i];
    }
  }
  return bad_or_none(first_bad);
}

// Separable: per output row, colsum[w] = sum of x[h, w] over the window's rows (contiguous,
// SIMD), then each output sums its columns of colsum.
template <typename T>
void avg_pool_rows(T* y, const T* x, const Pool2dParams& p, const std::vector<Span>& rows,
                   const std::vector<Span>& cols, index_t divisor_override) {
  const index_t total = p.planes() * p.H_out, W = p.W;
  PerThread<T> colsum(W);  // scratch before the region: see omp_guard.h
#pragma omp parallel if (p.planes() * p.in_plane() > kParallelMin)
  {
    T* cs_ = colsum.get();
#pragma omp for schedule(static)
    for (index_t r = 0; r < total; ++r) {
      const index_t pl = r / p.H_out, oh = r % p.H_out;
      const T* xp = x + pl * p.in_plane();
      T* yr = y + r * p.W_out;
      const Span rs = rows[oh];
      if (rs.begin >= rs.end) {
        std::fill(yr, yr + p.W_out, T(0));
        continue;
      }
      std::copy(xp + rs.begin * W, xp + (rs.begin + 1) * W, cs_);
      for (index_t h = rs.begin + 1; h < rs.end; ++h) {
        const T* xr = xp + h * W;
#pragma omp simd
        for (index_t w = 0; w < W; ++w) cs_[w] += xr[w];
      }
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const Span cs = cols[ow];
        T sum = 0;
        for (index_t w = cs.begin; w < cs.end; ++w) sum += cs_[w];
        const T div = T(divisor_override != 0 ? divisor_override : rs.count * cs.count);
        yr[ow] = cs.begin < cs.end ? sum / div : T(0);
      }
    }
  }
}

// The adjoint of avg_pool_rows: per output row, rowgrad[w] = sum of dy / divisor over the
// outputs whose columns hold w, then added to each of the window's rows (contiguous, SIMD).
template <typename T>
void avg_pool_backward_planes(T* dx, const T* dy, const Pool2dParams& p,
                              const std::vector<Span>& rows, const std::vector<Span>& cols,
                              index_t divisor_override) {
  const index_t in = p.in_plane(), W = p.W;
  PerThread<T> rowgrad(W);  // scratch before the region: see omp_guard.h
#pragma omp parallel if (p.planes() * in > kParallelMin)
  {
    T* rg = rowgrad.get();
#pragma omp for schedule(static)
    for (index_t pl = 0; pl < p.planes(); ++pl) {
      T* dxp = dx + pl * in;
      const T* dyp = dy + pl * p.out_plane();
      std::memset(dxp, 0, sizeof(T) * in);
      for (index_t oh = 0; oh < p.H_out; ++oh) {
        const Span rs = rows[oh];
        if (rs.begin >= rs.end) continue;
        std::fill(rg, rg + W, T(0));
        for (index_t ow = 0; ow < p.W_out; ++ow) {
          const Span cs = cols[ow];
          const T g = dyp[oh * p.W_out + ow] /
                      T(divisor_override != 0 ? divisor_override : rs.count * cs.count);
          for (index_t w = cs.begin; w < cs.end; ++w) rg[w] += g;
        }
        for (index_t h = rs.begin; h < rs.end; ++h) {
          T* dr = dxp + h * W;
#pragma omp simd
          for (index_t w = 0; w < W; ++w) dr[w] += rg[w];
        }
      }
    }
  }
}

// avg_pool_backward_planes for a column stride S (compile-time) and kW taps at p.pad_left padding.
// Per output row, g = dy / divisor is scattered into S phase rows (phase q, position m: padded
// column m*S + q, so tap j of output o lands in phase j % S at o + j / S: contiguous adds),
// interleaved back into a padded row (padding columns are dropped), and added to the window's
// rows.  Every window has kW taps here; those outside the input only reach the padding.
template <int S, typename T>
void avg_pool_backward_planes_strided(T* dx, const T* dy, const Pool2dParams& p,
                                      const std::vector<Span>& rows, const std::vector<Span>& cols,
                                      index_t divisor_override) {
  const index_t in = p.in_plane(), W = p.W, W_out = p.W_out, kW = p.kW;
  const index_t len = W_out + (kW - 1) / S;            // phase row length
  const index_t padded = std::max(S * len, W + p.pad_left);  // padded row length
  // divisor = row factor * cdiv[ow]; live[ow] = 0 where the window has no input column (its
  // share is 0; cdiv is then 1, so that the division never meets 0)
  std::vector<T> cdiv(W_out), live(W_out);
  for (index_t ow = 0; ow < W_out; ++ow) {
    const bool has_input = cols[ow].begin < cols[ow].end;
    live[ow] = T(has_input);
    cdiv[ow] = has_input ? T(divisor_override != 0 ? divisor_override : cols[ow].count) : T(1);
  }
  const T* cd = cdiv.data();
  const T* lv = live.data();
  PerThread<T> g(W_out), phases(S * len), rowgrad(padded, T(0));  // see omp_guard.h
#pragma omp parallel if (p.planes() * in > kParallelMin)
  {
    T* gp = g.get();
    T* ph = phases.get();
    T* rg = rowgrad.get();
#pragma omp for schedule(static)
    for (index_t pl = 0; pl < p.planes(); ++pl) {
      T* dxp = dx + pl * in;
      const T* dyp = dy + pl * p.out_plane();
      std::memset(dxp, 0, sizeof(T) * in);
      for (index_t oh = 0; oh < p.H_out; ++oh) {
        const Span rs = rows[oh];
        if (rs.begin >= rs.end) continue;
        const T* dyr = dyp + oh * W_out;
        const T row_factor = T(divisor_override != 0 ? 1 : rs.count);
#pragma omp simd
        for (index_t ow = 0; ow < W_out; ++ow)  // no division under a branch: SIMD
          gp[ow] = dyr[ow] * lv[ow] / (row_factor * cd[ow]);
        std::fill(ph, ph + S * len, T(0));
        for (index_t j = 0; j < kW; ++j) {
          T* dst = ph + (j % S) * len + j / S;
#pragma omp simd
          for (index_t ow = 0; ow < W_out; ++ow) dst[ow] += gp[ow];
        }
#pragma omp simd
        for (index_t m = 0; m < len; ++m)
          for (int q = 0; q < S; ++q) rg[m * S + q] = ph[q * len + m];
        const T* rgw = rg + p.pad_left;  // column 0
        for (index_t h = rs.begin; h < rs.end; ++h) {
          T* dr = dxp + h * W;
#pragma omp simd
          for (index_t w = 0; w < W; ++w) dr[w] += rgw[w];
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void max_pool2d_forward_cpu(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p) {
  const auto rows = pool_taps(p.H_out, p.H, p.kH, p.stride_h, p.pad_top, p.dilation_h);
  const auto cols = pool_taps(p.W_out, p.W, p.kW, p.stride_w, p.pad_left, p.dilation_w);
  // the common windows get compile-time kernels (their positions are int32)
  const bool fixed = p.dilation_w == 1 && p.kW <= p.W &&
                     p.in_plane() <= index_t(std::numeric_limits<std::int32_t>::max());
  const auto is = [&](index_t kH, index_t kW, index_t sW) {
    return fixed && p.kH == kH && p.kW == kW && p.stride_w == sW;
  };
  if (is(2, 2, 2)) return max_pool_rows_fixed<2, 2, 2>(y, idx, x, p, rows, cols);
  if (is(3, 3, 2)) return max_pool_rows_fixed<3, 3, 2>(y, idx, x, p, rows, cols);
  if (is(3, 3, 1)) return max_pool_rows_fixed<3, 3, 1>(y, idx, x, p, rows, cols);
  max_pool_rows(y, idx, x, p, rows, cols, p.dilation_h, p.dilation_w, p.stride_w, p.kW);
}

template <typename T>
index_t max_pool2d_backward_cpu(T* dx, const T* dy, const std::int64_t* idx,
                                const Pool2dParams& p) {
  return scatter_planes<true>(dx, p.in_plane(), dy, idx, p.out_plane(), p.planes());
}

template <typename T>
void avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dParams& p) {
  const bool count_include_pad = p.count_include_pad;
  const index_t divisor_override = p.divisor_override;
  avg_pool_rows(y, x, p, avg_spans(p.H_out, p.H, p.kH, p.stride_h, p.pad_top, count_include_pad),
                avg_spans(p.W_out, p.W, p.kW, p.stride_w, p.pad_left, count_include_pad), divisor_override);
}

template <typename T>
void avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dParams& p) {
  const bool count_include_pad = p.count_include_pad;
  const index_t divisor_override = p.divisor_override;
  const auto rows = avg_spans(p.H_out, p.H, p.kH, p.stride_h, p.pad_top, count_include_pad);
  const auto cols = avg_spans(p.W_out, p.W, p.kW, p.stride_w, p.pad_left, count_include_pad);
  if (p.stride_w == 1)
    return avg_pool_backward_planes_strided<1>(dx, dy, p, rows, cols, divisor_override);
  if (p.stride_w == 2)
    return avg_pool_backward_planes_strided<2>(dx, dy, p, rows, cols, divisor_override);
  avg_pool_backward_planes(dx, dy, p, rows, cols, divisor_override);
}

template <typename T>
void adaptive_avg_pool2d_forward_cpu(T* y, const T* x, const Pool2dParams& p) {
  avg_pool_rows(y, x, p, adaptive_spans(p.H_out, p.H), adaptive_spans(p.W_out, p.W), 0);
}

template <typename T>
void adaptive_avg_pool2d_backward_cpu(T* dx, const T* dy, const Pool2dParams& p) {
  avg_pool_backward_planes(dx, dy, p, adaptive_spans(p.H_out, p.H), adaptive_spans(p.W_out, p.W),
                           0);
}

template <typename T>
void adaptive_max_pool2d_forward_cpu(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p) {
  // windows of varying width: no common tap count, every column takes the per-window path
  max_pool_rows(y, idx, x, p, adaptive_taps(p.H_out, p.H), adaptive_taps(p.W_out, p.W), 1, 1, 1, 0);
}

template <typename T>
index_t max_unpool2d_forward_cpu(T* y, const T* x, const std::int64_t* idx, const Pool2dParams& p) {
  return scatter_planes<false>(y, p.out_plane(), x, idx, p.in_plane(), p.planes());
}

template <typename T>
index_t max_unpool2d_backward_cpu(T* dx, const T* dy, const std::int64_t* idx,
                                  const Pool2dParams& p) {
  const index_t in = p.in_plane(), out = p.out_plane();
  if (out == 0) return p.planes() * in > 0 ? 0 : -1;  // nothing to gather from: any index is bad
  index_t first_bad = kNoBadIndex;
  const bool parallel = p.planes() * (in + out) > kParallelMin;
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (parallel)
  for (index_t pl = 0; pl < p.planes(); ++pl) {
    T* dxp = dx + pl * in;
    const T* dyp = dy + pl * out;
    const std::int64_t* ip = idx + pl * in;
    bool bad = false;
    for (index_t i = 0; i < in; ++i) {  // clamp, then report: keeps the gather branch-free
      const std::int64_t k = ip[i];
      const bool ok = std::uint64_t(k) < std::uint64_t(out);
      bad |= !ok;
      dxp[i] = dyp[ok ? k : 0];
    }
    if (bad)
      for (index_t i = 0; i < in; ++i)
        if (std::uint64_t(ip[i]) >= std::uint64_t(out)) {
          first_bad = std::min(first_bad, pl * in + i);
          break;
        }
  }
  return bad_or_none(first_bad);
}

#define PYCNN_INSTANTIATE(T)                                                                      \
  template void max_pool2d_forward_cpu<T>(T*, std::int64_t*, const T*, const Pool2dParams&);      \
  template index_t max_pool2d_backward_cpu<T>(T*, const T*, const std::int64_t*,                  \
                                              const Pool2dParams&);                               \
  template void avg_pool2d_forward_cpu<T>(T*, const T*, const Pool2dParams&);               \
  template void avg_pool2d_backward_cpu<T>(T*, const T*, const Pool2dParams&);             \
  template void adaptive_avg_pool2d_forward_cpu<T>(T*, const T*, const Pool2dParams&);            \
  template void adaptive_avg_pool2d_backward_cpu<T>(T*, const T*, const Pool2dParams&);           \
  template void adaptive_max_pool2d_forward_cpu<T>(T*, std::int64_t*, const T*,                   \
                                                   const Pool2dParams&);                          \
  template index_t max_unpool2d_forward_cpu<T>(T*, const T*, const std::int64_t*,                 \
                                               const Pool2dParams&);                              \
  template index_t max_unpool2d_backward_cpu<T>(T*, const T*, const std::int64_t*,                \
                                                const Pool2dParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
