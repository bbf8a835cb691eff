// OpenMP upsampling (see upsample.h), one task per (plane, row); the taps of every output row
// and column are computed once.  Forward: nearest gathers the first output row that reads an
// input row and copies it to the other rows reading it; linear blends its two source rows, then
// resamples the blend along W.  Backward gathers instead of scattering: the task of input row ih
// sums the output rows that read it, then each of its columns sums the output columns that read
// it (CSR inverse maps of the taps), so no two threads write the same element whatever N*C is,
// and the result does not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "omp_guard.h"
#include "upsample.h"

namespace pycnn {

namespace {

std::vector<UpsampleTap> axis_taps(index_t in, index_t out, const Upsample2dParams& p, double scale_factor) {
  std::vector<UpsampleTap> taps(out);
  for (index_t d = 0; d < out; ++d) taps[d] = upsample_tap(d, in, out, p.mode, p.align_corners, scale_factor);
  return taps;
}

// Column taps as flat arrays (weights in T, as torch's opmath for float/double).
template <typename T>
struct ColumnTaps {
  std::vector<index_t> i0, i1;
  std::vector<T> w0, w1;
  explicit ColumnTaps(const std::vector<UpsampleTap>& taps) {
    for (const UpsampleTap& t : taps) {
      i0.push_back(t.i0), i1.push_back(t.i1);
      w0.push_back(static_cast<T>(t.w0)), w1.push_back(static_cast<T>(t.w1));
    }
  }
};

// For every input coordinate i along an axis, the (output coordinate, weight) pairs that read it,
// as CSR: list[start[i]:start[i+1]] and weights[...], output coordinates increasing.
struct Readers {
  std::vector<index_t> start, list;
  std::vector<double> weights;
  Readers(const std::vector<UpsampleTap>& taps, index_t in, bool one_tap) : start(in + 1, 0) {
    const index_t out = static_cast<index_t>(taps.size());
    for (const UpsampleTap& t : taps) {
      ++start[t.i0 + 1];
      if (!one_tap) ++start[t.i1 + 1];
    }
    for (index_t i = 0; i < in; ++i) start[i + 1] += start[i];
    list.resize(start[in]), weights.resize(start[in]);
    std::vector<index_t> fill(start.begin(), start.end() - 1);
    for (index_t d = 0; d < out; ++d) {
      const UpsampleTap& t = taps[d];
      list[fill[t.i0]] = d;
      weights[fill[t.i0]++] = t.w0;
      if (one_tap) continue;
      list[fill[t.i1]] = d;
      weights[fill[t.i1]++] = t.w1;
    }
  }
};

template <typename T>
void nearest_forward(T* out, const T* inp, const Upsample2dParams& p) {
  const index_t planes = p.N * p.C;
  const std::vector<UpsampleTap> rtaps = axis_taps(p.H, p.H_out, p, p.scale_h);
  const Readers readers(rtaps, p.H, true);
  const ColumnTaps<T> c(axis_taps(p.W, p.W_out, p, p.scale_w));
  const index_t *iw = c.i0.data(), *rstart = readers.start.data(), *rrows = readers.list.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t ih = 0; ih < p.H; ++ih) {
      if (rstart[ih] == rstart[ih + 1]) continue;  // no output row reads it (downsampling)
      const T* in_row = inp + (nc * p.H + ih) * p.W;
      T* first = out + (nc * p.H_out + rrows[rstart[ih]]) * p.W_out;
      for (index_t ow = 0; ow < p.W_out; ++ow) first[ow] = in_row[iw[ow]];
      for (index_t k = rstart[ih] + 1; k < rstart[ih + 1]; ++k)
        std::memcpy(out + (nc * p.H_out + rrows[k]) * p.W_out, first, sizeof(T) * p.W_out);
    }
}

// Separable: blend the two source rows into one W row (contiguous, vectorizable), then
// resample that row along W (two gathers per output instead of four).
template <typename T>
void linear_forward(T* out, const T* inp, const Upsample2dParams& p) {
  const index_t planes = p.N * p.C;
  const std::vector<UpsampleTap> rtaps = axis_taps(p.H, p.H_out, p, p.scale_h);
  const ColumnTaps<T> c(axis_taps(p.W, p.W_out, p, p.scale_w));
  const index_t *i0 = c.i0.data(), *i1 = c.i1.data();
  const T *w0 = c.w0.data(), *w1 = c.w1.data();
  const UpsampleTap* rt = rtaps.data();
  PerThread<T> blend_buf(p.W);  // scratch before the region: see omp_guard.h
#pragma omp parallel
  {
    T* blend = blend_buf.get();
#pragma omp for collapse(2) schedule(static)
    for (index_t nc = 0; nc < planes; ++nc)
      for (index_t oh = 0; oh < p.H_out; ++oh) {
        const T* r0 = inp + (nc * p.H + rt[oh].i0) * p.W;
        const T* r1 = inp + (nc * p.H + rt[oh].i1) * p.W;
        const T h0 = static_cast<T>(rt[oh].w0), h1 = static_cast<T>(rt[oh].w1);
        for (index_t iw = 0; iw < p.W; ++iw) blend[iw] = h0 * r0[iw] + h1 * r1[iw];
        T* out_row = out + (nc * p.H_out + oh) * p.W_out;
        for (index_t ow = 0; ow < p.W_out; ++ow) out_row[ow] = w0[ow] * blend[i0[ow]] + w1[ow] * blend[i1[ow]];
      }
  }
}

}  // namespace

template <typename T>
void upsample2d_forward_cpu(T* out, const T* inp, const Upsample2dParams& p) {
  if (p.mode == UpsampleMode::linear)
    linear_forward(out, inp, p);
  else
    nearest_forward(out, inp, p);
}

// Separable gather: the task of input row ih first sums its reader rows, acc = sum_k wh_k dout[row_k]
// (contiguous axpys), then each input column gathers its reader columns, dinp[iw] = sum_j ww_j acc[col_j].
template <typename T>
void upsample2d_backward_cpu(T* dinp, const T* dout, const Upsample2dParams& p) {
  const index_t planes = p.N * p.C;
  const bool one_tap = p.mode != UpsampleMode::linear;
  const Readers rows(axis_taps(p.H, p.H_out, p, p.scale_h), p.H, one_tap);
  const Readers cols(axis_taps(p.W, p.W_out, p, p.scale_w), p.W, one_tap);
  const std::vector<T> col_weights(cols.weights.begin(), cols.weights.end());
  const index_t *rstart = rows.start.data(), *rlist = rows.list.data();
  const index_t *cstart = cols.start.data(), *clist = cols.list.data();
  const double* rweights = rows.weights.data();
  const T* cweights = col_weights.data();
  PerThread<T> acc_buf(p.W_out);  // scratch before the region: see omp_guard.h
#pragma omp parallel
  {
    T* acc = acc_buf.get();
#pragma omp for collapse(2) schedule(static)
    for (index_t nc = 0; nc < planes; ++nc)
      for (index_t ih = 0; ih < p.H; ++ih) {
        T* d_row = dinp + (nc * p.H + ih) * p.W;
        if (rstart[ih] == rstart[ih + 1]) {  // no output row reads it (downsampling)
          std::fill(d_row, d_row + p.W, T(0));
          continue;
        }
        for (index_t k = rstart[ih]; k < rstart[ih + 1]; ++k) {
          const T* g_row = dout + (nc * p.H_out + rlist[k]) * p.W_out;
          const T wh = static_cast<T>(rweights[k]);
          if (k == rstart[ih])
            for (index_t ow = 0; ow < p.W_out; ++ow) acc[ow] = wh * g_row[ow];
          else
            for (index_t ow = 0; ow < p.W_out; ++ow) acc[ow] += wh * g_row[ow];
        }
        for (index_t iw = 0; iw < p.W; ++iw) {
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

template void upsample2d_forward_cpu<float>(float*, const float*, const Upsample2dParams&);
template void upsample2d_forward_cpu<double>(double*, const double*, const Upsample2dParams&);
template void upsample2d_backward_cpu<float>(float*, const float*, const Upsample2dParams&);
template void upsample2d_backward_cpu<double>(double*, const double*, const Upsample2dParams&);
template void bed_of_nails_forward_cpu<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_forward_cpu<double>(double*, const double*, const BedOfNailsParams&);
template void bed_of_nails_backward_cpu<float>(float*, const float*, const BedOfNailsParams&);
template void bed_of_nails_backward_cpu<double>(double*, const double*, const BedOfNailsParams&);

}  // namespace pycnn
