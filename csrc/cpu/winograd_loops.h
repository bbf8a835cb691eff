// The tile transforms of the Winograd F(2x2, 3x3) conv (conv.cpp has the math and the driver),
// one source for every ISA: conv.cpp (baseline), conv_winograd_avx2.cpp and
// conv_winograd_avx512.cpp each include this header and build a WinogradLoops<T> table from
// the templates below (anonymous namespace: each file its own copy, with its own flags);
// conv.cpp picks one by active_simd_level() (the ISA mechanism: simd.h).
//
// Each function transforms one tile row (row i of tiles of a plane: output rows 2i, 2i+1)
// of every channel, vectorized over the row's tw tiles.  The transformed tiles live in
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

template <typename T>
struct WinogradLoops {
  // V (16, ci, ld) columns [t, t + tw) <- B^T d B of tile row i of the ci planes at x.
  void (*input_row)(T* V, index_t ld, index_t kst, index_t t, const T* x, const WinogradPlanes& s, index_t i, T* buf);
  // Tile row i of the co planes at y <- A^T m A of M (16, co, ld) columns [t, t + tw).
  void (*output_row)(T* y, const T* M, index_t ld, index_t kst, index_t t, const WinogradPlanes& s, index_t i, T* buf);
  // Z (16, co, ld) columns [t, t + tw) <- A dY A^T of tile row i of the co planes (Ho, Wo) at dy.
  void (*dy_row)(T* Z, index_t ld, index_t kst, index_t t, const T* dy, const WinogradPlanes& s, index_t i, T* buf);
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
      T a[4], b[4];  // A^T on each row q of m: m_q0 + m_q1 + m_q2 and m_q1 - m_q2 - m_q3
      for (int q = 0; q < 4; ++q) {
        const T m0 = m[4 * q * kst + j], m1 = m[(4 * q + 1) * kst + j];
        const T m2 = m[(4 * q + 2) * kst + j], m3 = m[(4 * q + 3) * kst + j];
        a[q] = m0 + m1 + m2;
        b[q] = m1 - m2 - m3;
      }
      o0[2 * j] = a[0] + a[1] + a[2];
      o0[2 * j + 1] = b[0] + b[1] + b[2];
      o1[2 * j] = a[1] - a[2] - a[3];
      o1[2 * j + 1] = b[1] - b[2] - b[3];
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

template <typename T>
constexpr WinogradLoops<T> winograd_loop_table() {
  return WinogradLoops<T>{&winograd_input_row<T>, &winograd_output_row<T>, &winograd_dy_row<T>};
}

}  // namespace
}  // namespace pycnn
