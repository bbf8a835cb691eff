// The tile transforms of the Winograd F(2x2, 3x3) conv (conv.cpp has the math and the driver),
// one source for every ISA: conv.cpp (baseline), conv_winograd_avx2.cpp and
// conv_winograd_avx512.cpp each include this header and build a WinogradLoops<T> table from
// the templates below (anonymous namespace: each file its own copy, with its own flags);
// conv.cpp picks one by active_simd_level() (the ISA mechanism: simd.h).
//
// The *_row functions transform one tile row (row i of tiles of a plane: output rows 2i, 2i+1)
// of every channel, vectorized over the row's tw tiles; the *_plane functions all th tile rows
// of one image, vectorized over its th * tw tiles (a row's tiles fill a fraction of a vector
// on small planes: 4 of 16 AVX-512 float lanes on 8 x 8 outputs).  The transformed tiles live in
// (16, channels, ld) arrays: element k = 4r + c of tile t of channel ch at [k*kst + ch*ld + t],
// kst >= channels * ld (the driver pads it: 16 element planes a multiple of 4 KB apart would
// share one set of L1 lines; the transforms write all 16 at once).
// Plane columns go through a deinterleaved (even, odd) copy, so tile j's columns 2j .. 2j+3
// are contiguous vectors over j: even[j], odd[j], even[j+1], odd[j+1].
#pragma once
#include <algorithm>

#include "common.h"

namespace pycnn {

// The planes of one pass: C_in planes (H, W) -> C_out planes (Ho, Wo); tile (i, j) reads input
// rows from 2i - pt and columns from 2j - pl (zero outside); tw = ceil(Wo / 2) tiles a row.
struct WinogradPlanes {
  index_t ci, co, H, W, Ho, Wo, pt, pl, tw;
};

// Channels a row transform stages at once: each stage (the input rows, the even / odd halves of
// B^T d, the transformed tiles) runs over a block of channels before the next stage reads it,
// so that its vector loads, one element off the previous stage's stores, do not wait on stores
// still in flight.  Measured on the development machine (AVX-512): no difference either way
// (what did matter was padding and aligning the 16 element planes: conv.cpp, WinogradPass).
constexpr index_t kWinogradBlock = 8;

// Scratch a row transform needs (buf): per channel of a block 5 rows of 2 tw + 2 (input rows
// and a zero row) and 8 halves of tw + 1.
constexpr index_t winograd_row_scratch(index_t tw) { return kWinogradBlock * (5 * (2 * tw + 2) + 8 * (tw + 1)); }

// Scratch a plane transform needs (buf) for th x tw tiles: the input plane's rows split by row
// and column parity (4 runs of (th + 1) tw + 1), its last two columns (4 (th + 1)), the row
// transform (8 (th + 1) tw); the output / dy transforms need 4 th tw of it.
constexpr index_t winograd_plane_scratch(index_t th, index_t tw) {
  return 4 * ((th + 1) * tw + 1) + 4 * (th + 1) + 8 * (th + 1) * tw;
}

template <typename T>
struct WinogradLoops {
  // V (16, ci, ld) columns [t, t + tw) <- B^T d B of tile row i of the ci planes at x.
  void (*input_row)(T* V, index_t ld, index_t kst, index_t t, const T* x, const WinogradPlanes& s, index_t i, T* buf);
  // Tile row i of the co planes at y <- A^T m A of M (16, co, ld) columns [t, t + tw).
  void (*output_row)(T* y, const T* M, index_t ld, index_t kst, index_t t, const WinogradPlanes& s, index_t i, T* buf);
  // Z (16, co, ld) columns [t, t + tw) <- A dY A^T of tile row i of the co planes (Ho, Wo) at dy.
  void (*dy_row)(T* Z, index_t ld, index_t kst, index_t t, const T* dy, const WinogradPlanes& s, index_t i, T* buf);
  // The same three for every tile row of one image at once: columns [t, t + th * tw), tile (i, j)
  // at t + i * tw + j, as the row loops for rows 0 .. th - 1 would leave them.
  void (*input_plane)(T* V, index_t ld, index_t kst, index_t t, const T* x, const WinogradPlanes& s, T* buf);
  void (*output_plane)(T* y, const T* M, index_t ld, index_t kst, index_t t, const WinogradPlanes& s, T* buf);
  void (*dy_plane)(T* Z, index_t ld, index_t kst, index_t t, const T* dy, const WinogradPlanes& s, T* buf);
  // The weight gradient's tile sums: dw[o * ci + i] += sum over t < tiles of Z[o * ld + t] * V[i * ld + t]
  // for o < co, i < ci (one element k of the 16).
  void (*weight_sums)(T* dw, const T* Z, const T* V, index_t ld, index_t co, index_t ci, index_t tiles);
};

extern const WinogradLoops<float> winograd_loops_f32_avx2;
extern const WinogradLoops<double> winograd_loops_f64_avx2;
extern const WinogradLoops<float> winograd_loops_f32_avx512;
extern const WinogradLoops<double> winograd_loops_f64_avx512;

namespace {

template <typename T>
void winograd_input_row(T* V, index_t ld, index_t kst, index_t t, const T* x, const WinogradPlanes& s, index_t i,
                        T* buf) {
  const index_t tw = s.tw, cols = 2 * tw + 2, half = tw + 1;
  T* zero = buf;                  // a zero row, for input rows outside the plane
  T* rows = buf + cols;           // per channel of a block 4 input rows, zero outside [c_lo, c_hi)
  T* eo = rows + kWinogradBlock * 4 * cols;  // per channel: (B^T d) row q's even columns at
                                              // eo + 2q*half, odd at + (2q+1)*half
  const index_t ih0 = 2 * i - s.pt;
  // buffer column c holds input column c - pl
  const index_t c_lo = std::clamp<index_t>(s.pl, 0, cols), c_hi = std::clamp<index_t>(s.pl + s.W, c_lo, cols);
  std::fill(buf, buf + (1 + kWinogradBlock * 4) * cols, T(0));
  for (index_t c0 = 0; c0 < s.ci; c0 += kWinogradBlock) {
    const index_t nb = std::min(kWinogradBlock, s.ci - c0);
    const T* r[kWinogradBlock][4];
    for (index_t b = 0; b < nb; ++b) {
      const T* plane = x + (c0 + b) * s.H * s.W;
      for (int q = 0; q < 4; ++q) {
        const index_t ih = ih0 + q;
        if (ih < 0 || ih >= s.H) {
          r[b][q] = zero;
          continue;
        }
        T* row = rows + (b * 4 + q) * cols;
        const T* src = plane + ih * s.W - s.pl;
#pragma omp simd
        for (index_t k = c_lo; k < c_hi; ++k) row[k] = src[k];
        r[b][q] = row;
      }
    }
    // B^T d on the even and odd columns: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
    for (index_t b = 0; b < nb; ++b) {
      const T *r0 = r[b][0], *r1 = r[b][1], *r2 = r[b][2], *r3 = r[b][3];
      T* e = eo + b * 8 * half;
#pragma omp simd
      for (index_t j = 0; j < half; ++j) {
        const index_t a = 2 * j, o = 2 * j + 1;
        e[j] = r0[a] - r2[a];
        e[half + j] = r0[o] - r2[o];
        e[2 * half + j] = r1[a] + r2[a];
        e[3 * half + j] = r1[o] + r2[o];
        e[4 * half + j] = r2[a] - r1[a];
        e[5 * half + j] = r2[o] - r1[o];
        e[6 * half + j] = r1[a] - r3[a];
        e[7 * half + j] = r1[o] - r3[o];
      }
    }
    // (B^T d) B on each row (u0 u1 u2 u3) = (even j, odd j, even j+1, odd j+1):
    // u0 - u2, u1 + u2, u2 - u1, u1 - u3
    for (index_t b = 0; b < nb; ++b)
      for (int q = 0; q < 4; ++q) {
        const T* ev = eo + (b * 8 + 2 * q) * half;
        const T* od = ev + half;
        T* v = V + 4 * q * kst + (c0 + b) * ld + t;
#pragma omp simd
        for (index_t j = 0; j < tw; ++j) {
          v[j] = ev[j] - ev[j + 1];
          v[kst + j] = od[j] + ev[j + 1];
          v[2 * kst + j] = ev[j + 1] - od[j];
          v[3 * kst + j] = od[j] - od[j + 1];
        }
      }
  }
}

// A^T m A of one tile, element k of m at m[k * kst]: the 2 x 2 outputs (row a, column b) y_ab.
template <typename T>
inline void output_tile(const T* m, index_t kst, T& y00, T& y01, T& y10, T& y11) {
  T a[4], b[4];  // A^T on each row q of m: m_q0 + m_q1 + m_q2 and m_q1 - m_q2 - m_q3
  for (int q = 0; q < 4; ++q) {
    const T m0 = m[4 * q * kst], m1 = m[(4 * q + 1) * kst], m2 = m[(4 * q + 2) * kst], m3 = m[(4 * q + 3) * kst];
    a[q] = m0 + m1 + m2;
    b[q] = m1 - m2 - m3;
  }
  y00 = a[0] + a[1] + a[2];
  y01 = b[0] + b[1] + b[2];
  y10 = a[1] - a[2] - a[3];
  y11 = b[1] - b[2] - b[3];
}

template <typename T>
void winograd_output_row(T* y, const T* M, index_t ld, index_t kst, index_t t, const WinogradPlanes& s, index_t i,
                         T* buf) {
  const index_t tw = s.tw;
  const bool second = 2 * i + 1 < s.Ho, even = s.Wo == 2 * tw;
  for (index_t c = 0; c < s.co; ++c) {
    const T* m = M + c * ld + t;
    T* plane = y + c * s.Ho * s.Wo;
    // straight into the plane when its rows hold whole tiles, else through buf
    T* o0 = even ? plane + 2 * i * s.Wo : buf;
    T* o1 = even && second ? plane + (2 * i + 1) * s.Wo : buf + 2 * tw;
#pragma omp simd
    for (index_t j = 0; j < tw; ++j) {
      output_tile(m + j, kst, o0[2 * j], o0[2 * j + 1], o1[2 * j], o1[2 * j + 1]);
    }
    if (!even) {
      std::copy_n(o0, s.Wo, plane + 2 * i * s.Wo);
      if (second) std::copy_n(o1, s.Wo, plane + (2 * i + 1) * s.Wo);
    }
  }
}

template <typename T>
void winograd_dy_row(T* Z, index_t ld, index_t kst, index_t t, const T* dy, const WinogradPlanes& s, index_t i,
                     T* buf) {
  const index_t tw = s.tw, full = s.Wo / 2;  // tiles with both columns inside
  for (index_t c0 = 0; c0 < s.co; c0 += kWinogradBlock) {
    const index_t nb = std::min(kWinogradBlock, s.co - c0);
    // per channel of the block, rows 2i and 2i+1 of dy: even columns at e, odd at e + tw
    for (index_t b = 0; b < nb; ++b) {
      const T* plane = dy + (c0 + b) * s.Ho * s.Wo;
      for (int q = 0; q < 2; ++q) {
        const index_t oh = 2 * i + q;
        T* e = buf + (2 * b + q) * 2 * tw;
        if (oh >= s.Ho) {
          std::fill(e, e + 2 * tw, T(0));
          continue;
        }
        const T* row = plane + oh * s.Wo;
#pragma omp simd
        for (index_t j = 0; j < full; ++j) {
          e[j] = row[2 * j];
          e[tw + j] = row[2 * j + 1];
        }
        if (full < tw) {  // odd Wo: the last tile's second column is past the edge
          e[full] = row[2 * full];
          e[tw + full] = T(0);
        }
      }
    }
    for (index_t b = 0; b < nb; ++b) {
      const T* e0 = buf + 2 * b * 2 * tw;
      const T* e1 = e0 + 2 * tw;
      T* z = Z + (c0 + b) * ld + t;
#pragma omp simd
      for (index_t j = 0; j < tw; ++j) {
        const T y00 = e0[j], y01 = e0[tw + j], y10 = e1[j], y11 = e1[tw + j];
        // A dY: rows y0, y0 + y1, y0 - y1, -y1; then each row (p, o) -> (p, p + o, p - o, -o)
        const T R[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
        for (int q = 0; q < 4; ++q) {
          z[4 * q * kst + j] = R[q][0];
          z[(4 * q + 1) * kst + j] = R[q][0] + R[q][1];
          z[(4 * q + 2) * kst + j] = R[q][0] - R[q][1];
          z[(4 * q + 3) * kst + j] = -R[q][1];
        }
      }
    }
  }
}

// ---- whole planes: th = ceil(Ho / 2) tile rows of tw tiles, vectorized over t = i * tw + j.
// The input plane, zero-bordered, is held split by row parity p (padded row 2r + p = input row
// 2r + p - pt) and column parity (padded column 2j (+1) = input column 2j (+1) - pl) in runs
// ev[p], od[p] with row pitch tw: padded rows 2i .. 2i + 3 of tile row i are rows i, i + 1 of
// both parities, so every step below reads unit-stride runs over t.  A run with pitch tw holds
// columns 0 .. 2tw - 1 of a row; the last tile also reads columns 2tw, 2tw + 1, kept aside in
// last[p] and patched into the row transform after it.
template <typename T>
void winograd_input_plane(T* V, index_t ld, index_t kst, index_t t, const T* x, const WinogradPlanes& s, T* buf) {
  const index_t th = ceil_div(s.Ho, 2), tw = s.tw, rows = th + 1, run = rows * tw + 1, tiles = th * tw;
  T* ev[2] = {buf, buf + run};
  T* od[2] = {buf + 2 * run, buf + 3 * run};
  T* last[2] = {buf + 4 * run, buf + 4 * run + 2 * rows};  // columns 2tw, 2tw + 1 of each row
  T* R = buf + 4 * run + 4 * rows;  // row transform c of parity p at R + (2c + p) * rows * tw
  // positions outside the plane stay zero: every channel writes the same ones
  std::fill(buf, R, T(0));
  // padded column c holds input column c - pl: the runs' columns [c_lo, c_hi)
  const index_t c_lo = std::clamp<index_t>(s.pl, 0, 2 * tw + 2), c_hi = std::clamp<index_t>(s.pl + s.W, c_lo, 2 * tw + 2);
  const index_t run_hi = std::min(c_hi, 2 * tw);
  const index_t r_lo = std::clamp<index_t>(s.pt, 0, 2 * rows), r_hi = std::clamp<index_t>(s.pt + s.H, r_lo, 2 * rows);
  for (index_t ch = 0; ch < s.ci; ++ch) {
    const T* plane = x + ch * s.H * s.W;
    for (index_t r = r_lo; r < r_hi; ++r) {
      const index_t p = r & 1, base = (r >> 1) * tw;
      const T* src = plane + (r - s.pt) * s.W - s.pl;  // src[c] = padded column c
#pragma omp simd
      for (index_t j = (c_lo + 1) / 2; j < (run_hi + 1) / 2; ++j) ev[p][base + j] = src[2 * j];
#pragma omp simd
      for (index_t j = c_lo / 2; j < run_hi / 2; ++j) od[p][base + j] = src[2 * j + 1];
      for (index_t c = std::max(c_lo, 2 * tw); c < c_hi; ++c) last[p][2 * (r >> 1) + c - 2 * tw] = src[c];
    }
    // d B along each row: (u0 u1 u2 u3) = (ev[j], od[j], ev[j+1], od[j+1]) ->
    // u0 - u2, u1 + u2, u2 - u1, u1 - u3; tile tw - 1's u2, u3 read the next row's first
    // columns, then are patched from last[p]
    for (int p = 0; p < 2; ++p) {
      const T *e = ev[p], *o = od[p];
      T *R0 = R + p * rows * tw, *R1 = R0 + 2 * rows * tw, *R2 = R1 + 2 * rows * tw, *R3 = R2 + 2 * rows * tw;
#pragma omp simd
      for (index_t u = 0; u < rows * tw; ++u) {
        R0[u] = e[u] - e[u + 1];
        R1[u] = o[u] + e[u + 1];
        R2[u] = e[u + 1] - o[u];
        R3[u] = o[u] - o[u + 1];
      }
      for (index_t r = 0; r < rows; ++r) {
        const index_t u = r * tw + tw - 1;
        const T e1 = last[p][2 * r], o1 = last[p][2 * r + 1];
        R0[u] = e[u] - e1;
        R1[u] = o[u] + e1;
        R2[u] = e1 - o[u];
        R3[u] = o[u] - o1;
      }
    }
    // B^T over the tile's rows (w0 w1 w2 w3) = (parity 0 row i, parity 1 row i, parity 0 row
    // i + 1, parity 1 row i + 1): w0 - w2, w1 + w2, w2 - w1, w1 - w3; element 4q + c
    for (int c = 0; c < 4; ++c) {
      const T* r0 = R + 2 * c * rows * tw;
      const T* r1 = r0 + rows * tw;
      T* v = V + c * kst + ch * ld + t;
#pragma omp simd
      for (index_t u = 0; u < tiles; ++u) {
        const T w0 = r0[u], w1 = r1[u], w2 = r0[u + tw], w3 = r1[u + tw];
        v[u] = w0 - w2;
        v[4 * kst + u] = w1 + w2;
        v[8 * kst + u] = w2 - w1;
        v[12 * kst + u] = w1 - w3;
      }
    }
  }
}

// The plane's outputs (A^T m A, as winograd_output_row) into 4 runs y_ab[t] (output row 2i + a,
// column 2j + b), then interleaved into the plane's rows, cut at odd Ho, Wo.
template <typename T>
void winograd_output_plane(T* y, const T* M, index_t ld, index_t kst, index_t t, const WinogradPlanes& s, T* buf) {
  const index_t th = ceil_div(s.Ho, 2), tw = s.tw, tiles = th * tw, full = s.Wo / 2;
  T *y00 = buf, *y01 = buf + tiles, *y10 = buf + 2 * tiles, *y11 = buf + 3 * tiles;
  for (index_t c = 0; c < s.co; ++c) {
    const T* m = M + c * ld + t;
#pragma omp simd
    for (index_t u = 0; u < tiles; ++u) {
      output_tile(m + u, kst, y00[u], y01[u], y10[u], y11[u]);
    }
    T* plane = y + c * s.Ho * s.Wo;
    for (index_t oh = 0; oh < s.Ho; ++oh) {
      const index_t i = oh >> 1;
      const T* e = (oh & 1 ? y10 : y00) + i * tw;
      const T* o = (oh & 1 ? y11 : y01) + i * tw;
      T* row = plane + oh * s.Wo;
#pragma omp simd
      for (index_t j = 0; j < full; ++j) {
        row[2 * j] = e[j];
        row[2 * j + 1] = o[j];
      }
      if (full < tw) row[2 * full] = e[full];  // odd Wo: the last tile's first column only
    }
  }
}

// A dY A^T of every tile (as winograd_dy_row): dy's rows 2i + a split into even and odd columns,
// runs e_a[t], o_a[t] (zero past the plane's edge), then the 16 elements over t.
template <typename T>
void winograd_dy_plane(T* Z, index_t ld, index_t kst, index_t t, const T* dy, const WinogradPlanes& s, T* buf) {
  const index_t th = ceil_div(s.Ho, 2), tw = s.tw, tiles = th * tw, full = s.Wo / 2;
  T *e0 = buf, *o0 = buf + tiles, *e1 = buf + 2 * tiles, *o1 = buf + 3 * tiles;
  for (index_t c = 0; c < s.co; ++c) {
    const T* plane = dy + c * s.Ho * s.Wo;
    for (index_t oh = 0; oh < 2 * th; ++oh) {
      const index_t i = oh >> 1;
      T* e = (oh & 1 ? e1 : e0) + i * tw;
      T* o = (oh & 1 ? o1 : o0) + i * tw;
      if (oh >= s.Ho) {  // odd Ho: the last tile row's second row is past the edge
        std::fill(e, e + tw, T(0));
        std::fill(o, o + tw, T(0));
        continue;
      }
      const T* row = plane + oh * s.Wo;
#pragma omp simd
      for (index_t j = 0; j < full; ++j) {
        e[j] = row[2 * j];
        o[j] = row[2 * j + 1];
      }
      if (full < tw) {  // odd Wo: the last tile's second column is past the edge
        e[full] = row[2 * full];
        o[full] = T(0);
      }
    }
    T* z = Z + c * ld + t;
#pragma omp simd
    for (index_t u = 0; u < tiles; ++u) {
      const T y00 = e0[u], y01 = o0[u], y10 = e1[u], y11 = o1[u];
      // A dY: rows y0, y0 + y1, y0 - y1, -y1; then each row (p, o) -> (p, p + o, p - o, -o)
      const T R[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
      for (int q = 0; q < 4; ++q) {
        z[4 * q * kst + u] = R[q][0];
        z[(4 * q + 1) * kst + u] = R[q][0] + R[q][1];
        z[(4 * q + 2) * kst + u] = R[q][0] - R[q][1];
        z[(4 * q + 3) * kst + u] = -R[q][1];
      }
    }
  }
}

// ---- the weight gradient's tile sums.  Both operands run along the tiles (a dot product per
// (o, i) pair, thousands of terms, with co, ci as few as 16): as a GEMM (co x tiles) @ (tiles x
// ci) each had to be transposed into the packed panels first, and a 16-wide N filled half an
// AVX-512 tile: 28 % of a 16 -> 16 channel conv's forward + backward (conv.cpp picks this
// form up to kWinogradDotPairs pairs, the GEMM above).  Here a block of OB x IB
// pairs keeps its sums in 64-byte lane arrays over t (OB + IB loads for OB * IB multiply-adds),
// summed across the lanes at the end: the same order at every SIMD level.  Blocks of 4 x 4 with
// AVX-512 (32 registers; 100 GFLOP/s on one core), 2 x 4 below (16 registers: 4 x 4 spilled).
template <int OB, int IB, typename T>
inline void weight_sum_block(T* dw, index_t lddw, const T* Z, const T* V, index_t ld, index_t tiles) {
  constexpr int L = 64 / sizeof(T);
  T acc[OB][IB][L] = {};
  index_t t = 0;
  for (; t + L <= tiles; t += L)
    for (int a = 0; a < OB; ++a)
      for (int b = 0; b < IB; ++b) {
#pragma omp simd
        for (int l = 0; l < L; ++l) acc[a][b][l] += Z[a * ld + t + l] * V[b * ld + t + l];
      }
  for (int a = 0; a < OB; ++a)
    for (int b = 0; b < IB; ++b) {
      T sum = 0;
      for (int l = 0; l < L; ++l) sum += acc[a][b][l];
      for (index_t u = t; u < tiles; ++u) sum += Z[a * ld + u] * V[b * ld + u];
      dw[a * lddw + b] += sum;
    }
}

template <typename T>
void winograd_weight_sums(T* dw, const T* Z, const T* V, index_t ld, index_t co, index_t ci, index_t tiles) {
#if defined(__AVX512F__)
  constexpr int OB = 4;
#else
  constexpr int OB = 2;
#endif
  constexpr int IB = 4;
  index_t o = 0;
  for (; o + OB <= co; o += OB) {
    index_t i = 0;
    for (; i + IB <= ci; i += IB) weight_sum_block<OB, IB>(dw + o * ci + i, ci, Z + o * ld, V + i * ld, ld, tiles);
    for (; i < ci; ++i) weight_sum_block<OB, 1>(dw + o * ci + i, ci, Z + o * ld, V + i * ld, ld, tiles);
  }
  for (; o < co; ++o) {
    index_t i = 0;
    for (; i + IB <= ci; i += IB) weight_sum_block<1, IB>(dw + o * ci + i, ci, Z + o * ld, V + i * ld, ld, tiles);
    for (; i < ci; ++i) weight_sum_block<1, 1>(dw + o * ci + i, ci, Z + o * ld, V + i * ld, ld, tiles);
  }
}

template <typename T>
constexpr WinogradLoops<T> winograd_loop_table() {
  return WinogradLoops<T>{&winograd_input_row<T>,   &winograd_output_row<T>,   &winograd_dy_row<T>,
                          &winograd_input_plane<T>, &winograd_output_plane<T>, &winograd_dy_plane<T>,
                          &winograd_weight_sums<T>};
}

}  // namespace
}  // namespace pycnn
