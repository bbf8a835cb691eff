// OpenMP upsampling (see upsample.h), one task per (plane, depth, row); the taps of every output
// depth, row and column are computed once.  Forward: nearest gathers the first output row that
// reads an input row and copies it to the other rows reading it; linear and cubic blend the source
// rows of an output row (2 x 2 or 4 taps, the depth taps times the row taps), then resample the
// blend along W.  Backward gathers instead of scattering: the task of input row (id, ih) sums the
// output rows that read it, then each of its columns sums the output columns that read it (CSR
// inverse maps of the taps), so no two threads write the same element whatever N*C is, and the
// result does not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "omp_guard.h"
#include "upsample.h"

namespace pycnn {

namespace {

std::vector<UpsampleTap> axis_taps(const UpsampleParams& p, const UpsampleAxis& a) {
  std::vector<UpsampleTap> taps(a.out);
  for (index_t o = 0; o < a.out; ++o) taps[o] = p.tap(a, o);
  return taps;
}

// Column taps as flat arrays, n per column (weights in T, as torch's opmath for float/double).
template <typename T>
struct ColumnTaps {
  int n = 1;
  std::vector<index_t> index;
  std::vector<T> weight;
  explicit ColumnTaps(const std::vector<UpsampleTap>& taps) : n(taps.empty() ? 1 : taps[0].n) {
    for (const UpsampleTap& t : taps)
      for (int k = 0; k < n; ++k) index.push_back(t.i[k]), weight.push_back(static_cast<T>(t.w[k]));
  }
};

// For every input coordinate i along an axis, the (output coordinate, weight) pairs that read it,
// as CSR: list[start[i]:start[i+1]] and weights[...], output coordinates non-decreasing (a clamped
// cubic tap can read one input twice: two entries).
struct Readers {
  std::vector<index_t> start, list;
  std::vector<double> weights;
  Readers(const std::vector<UpsampleTap>& taps, index_t in) : start(in + 1, 0) {
    const index_t out = static_cast<index_t>(taps.size());
    for (const UpsampleTap& t : taps)
      for (int k = 0; k < t.n; ++k) ++start[t.i[k] + 1];
    for (index_t i = 0; i < in; ++i) start[i + 1] += start[i];
    list.resize(start[in]), weights.resize(start[in]);
    std::vector<index_t> fill(start.begin(), start.end() - 1);
    for (index_t o = 0; o < out; ++o)
      for (int k = 0; k < taps[o].n; ++k) {
        list[fill[taps[o].i[k]]] = o;
        weights[fill[taps[o].i[k]]++] = taps[o].w[k];
      }
  }
};

template <typename T>
void nearest_forward(T* out, const T* inp, const UpsampleParams& p) {
  const index_t planes = p.planes(), D = p.d.in, H = p.h.in, W = p.w.in;
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out;
  const Readers depths(axis_taps(p, p.d), D), rows(axis_taps(p, p.h), H);
  const ColumnTaps<T> c(axis_taps(p, p.w));
  const index_t* iw = c.index.data();
#pragma omp parallel for collapse(3) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t id = 0; id < D; ++id)
      for (index_t ih = 0; ih < H; ++ih) {
        const index_t d0 = depths.start[id], d1 = depths.start[id + 1];
        const index_t r0 = rows.start[ih], r1 = rows.start[ih + 1];
        if (d0 == d1 || r0 == r1) continue;  // no output row reads it (downsampling)
        const T* in_row = inp + ((nc * D + id) * H + ih) * W;
        T* first = out + ((nc * Do + depths.list[d0]) * Ho + rows.list[r0]) * Wo;
        for (index_t ow = 0; ow < Wo; ++ow) first[ow] = in_row[iw[ow]];
        for (index_t kd = d0; kd < d1; ++kd)
          for (index_t kh = r0; kh < r1; ++kh)
            if (kd != d0 || kh != r0)
              std::memcpy(out + ((nc * Do + depths.list[kd]) * Ho + rows.list[kh]) * Wo, first, sizeof(T) * Wo);
      }
}

// One output row from its blended W row: out[ow] = sum_k w[ow, k] * blend[i[ow, k]], with the tap
// count NW a compile-time constant (1, 2 or 4) so the loop over the taps unrolls.
template <int NW, typename T>
void resample_row(T* out_row, const T* blend, const index_t* ci, const T* cw, index_t Wo) {
  for (index_t ow = 0; ow < Wo; ++ow) {
    T v = cw[ow * NW] * blend[ci[ow * NW]];
    for (int k = 1; k < NW; ++k) v += cw[ow * NW + k] * blend[ci[ow * NW + k]];
    out_row[ow] = v;
  }
}

// Separable: blend the source rows of an output row into one W row (contiguous, vectorizable),
// then resample that row along W (n gathers per output instead of n^2 or n^3).
template <typename T>
void interp_forward(T* out, const T* inp, const UpsampleParams& p) {
  const index_t planes = p.planes(), D = p.d.in, H = p.h.in, W = p.w.in;
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out;
  const std::vector<UpsampleTap> dtaps = axis_taps(p, p.d), rtaps = axis_taps(p, p.h);
  const ColumnTaps<T> c(axis_taps(p, p.w));
  const int nw = c.n;
  const index_t* ci = c.index.data();
  const T* cw = c.weight.data();
  const UpsampleTap *dt = dtaps.data(), *rt = rtaps.data();
  PerThread<T> blend_buf(W);  // scratch before the region: see omp_guard.h
#pragma omp parallel
  {
    T* blend = blend_buf.get();
#pragma omp for collapse(3) schedule(static)
    for (index_t nc = 0; nc < planes; ++nc)
      for (index_t od = 0; od < Do; ++od)
        for (index_t oh = 0; oh < Ho; ++oh) {
          // the source rows and their weights (at most 2 x 2 for trilinear, 4 for bicubic)
          const T* rows[kMaxUpsampleTaps * kMaxUpsampleTaps];
          T wr[kMaxUpsampleTaps * kMaxUpsampleTaps];
          int nr = 0;
          for (int a = 0; a < dt[od].n; ++a)
            for (int b = 0; b < rt[oh].n; ++b, ++nr) {
              rows[nr] = inp + ((nc * D + dt[od].i[a]) * H + rt[oh].i[b]) * W;
              wr[nr] = static_cast<T>(dt[od].w[a] * rt[oh].w[b]);
            }
          const T* src = rows[0];  // one source row with weight 1 (a copied axis): no blend
          if (nr == 2) {  // (bi)linear: one pass
            const T *r0 = rows[0], *r1 = rows[1];
            for (index_t iw = 0; iw < W; ++iw) blend[iw] = wr[0] * r0[iw] + wr[1] * r1[iw];
            src = blend;
          } else if (nr > 1 || wr[0] != T(1)) {
            for (index_t iw = 0; iw < W; ++iw) blend[iw] = wr[0] * rows[0][iw];
            for (int k = 1; k < nr; ++k)
              for (index_t iw = 0; iw < W; ++iw) blend[iw] += wr[k] * rows[k][iw];
            src = blend;
          }
          T* out_row = out + ((nc * Do + od) * Ho + oh) * Wo;
          if (nw == 1)
            resample_row<1>(out_row, src, ci, cw, Wo);
          else if (nw == 2)
            resample_row<2>(out_row, src, ci, cw, Wo);
          else
            resample_row<4>(out_row, src, ci, cw, Wo);
        }
  }
}

}  // namespace

template <typename T>
void upsample_forward_cpu(T* out, const T* inp, const UpsampleParams& p) {
  if (p.mode == UpsampleMode::nearest || p.mode == UpsampleMode::nearest_exact)
    nearest_forward(out, inp, p);
  else
    interp_forward(out, inp, p);
}

// Separable gather: the task of input row (id, ih) first sums its reader rows,
// acc = sum_k wd_k wh_k dout[row_k] (contiguous axpys), then each input column gathers its reader
// columns, dinp[iw] = sum_j ww_j acc[col_j].
template <typename T>
void upsample_backward_cpu(T* dinp, const T* dout, const UpsampleParams& p) {
  const index_t planes = p.planes(), D = p.d.in, H = p.h.in, W = p.w.in;
  const index_t Do = p.d.out, Ho = p.h.out, Wo = p.w.out;
  const Readers depths(axis_taps(p, p.d), D), rows(axis_taps(p, p.h), H), cols(axis_taps(p, p.w), W);
  const std::vector<T> col_weights(cols.weights.begin(), cols.weights.end());
  const index_t *cstart = cols.start.data(), *clist = cols.list.data();
  const T* cweights = col_weights.data();
  PerThread<T> acc_buf(Wo);  // scratch before the region: see omp_guard.h
#pragma omp parallel
  {
    T* acc = acc_buf.get();
#pragma omp for collapse(3) schedule(static)
    for (index_t nc = 0; nc < planes; ++nc)
      for (index_t id = 0; id < D; ++id)
        for (index_t ih = 0; ih < H; ++ih) {
          T* d_row = dinp + ((nc * D + id) * H + ih) * W;
          bool first = true;
          for (index_t kd = depths.start[id]; kd < depths.start[id + 1]; ++kd)
            for (index_t kh = rows.start[ih]; kh < rows.start[ih + 1]; ++kh) {
              const T* g_row = dout + ((nc * Do + depths.list[kd]) * Ho + rows.list[kh]) * Wo;
              const T wr = static_cast<T>(depths.weights[kd] * rows.weights[kh]);
              if (first)
                for (index_t ow = 0; ow < Wo; ++ow) acc[ow] = wr * g_row[ow];
              else
                for (index_t ow = 0; ow < Wo; ++ow) acc[ow] += wr * g_row[ow];
              first = false;
            }
          if (first) {  // no output row reads it (downsampling)
            std::fill(d_row, d_row + W, T(0));
            continue;
          }
          for (index_t iw = 0; iw < W; ++iw) {
            T sum = 0;
            for (index_t j = cstart[iw]; j < cstart[iw + 1]; ++j) sum += cweights[j] * acc[clist[j]];
            d_row[iw] = sum;
          }
        }
  }
}

// One task per input row: its scale_h output rows are the nail row then scale_h - 1 zero rows.
template <typename T>
void bed_of_nails_forward_cpu(T* out, const T* inp, const BedOfNailsParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out(), planes = p.N * p.C;
#pragma omp parallel for collapse(2) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t h = 0; h < p.H; ++h) {
      const T* in_row = inp + (nc * p.H + h) * p.W;
      T* block = out + (nc * Ho + h * p.scale_h) * Wo;
      std::fill(block, block + p.scale_h * Wo, T(0));
      for (index_t w = 0; w < p.W; ++w) block[w * p.scale_w] = in_row[w];
    }
}

template <typename T>
void bed_of_nails_backward_cpu(T* dinp, const T* dout, const BedOfNailsParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out(), planes = p.N * p.C;
#pragma omp parallel for collapse(2) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t h = 0; h < p.H; ++h) {
      const T* g_row = dout + (nc * Ho + h * p.scale_h) * Wo;
      T* d_row = dinp + (nc * p.H + h) * p.W;
      for (index_t w = 0; w < p.W; ++w) d_row[w] = g_row[w * p.scale_w];
    }
}

template void upsample_forward_cpu<float>(float*, const float*, const UpsampleParams&);
template void upsample_forward_cpu<double>(double*, const double*, const UpsampleParams&);
template void upsample_backward_cpu<float>(float*, const float*, const UpsampleParams&);
template void upsample_backward_cpu<double>(double*, const double*, const UpsampleParams&);
template void bed_of_nails_forward_cpu<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_forward_cpu<double>(double*, const double*, const BedOfNailsParams&);
template void bed_of_nails_backward_cpu<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_backward_cpu<double>(double*, const double*, const BedOfNailsParams&);

}  // namespace pycnn
