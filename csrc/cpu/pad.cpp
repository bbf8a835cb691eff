// OpenMP padding (see pad.h).  Forward: one task per output row, the interior
// copied as a contiguous run, the borders through a precomputed column map.
// Backward gathers instead of scattering: one task per input row sums the output
// rows that read it (at most 3 for reflect and circular, any number for replicate's
// edge rows), so no two threads write
// the same element.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "pad.h"

namespace pycnn {

namespace {

// Source column of every output column (only the border entries are used).
std::vector<index_t> column_map(const Pad2dParams& p) {
  std::vector<index_t> src(p.W_out());
  for (index_t ow = 0; ow < p.W_out(); ++ow) src[ow] = pad_source_index(ow - p.pad_left, p.W, p.mode);
  return src;
}

// rows_of[ih] = output rows oh with src(oh - top) == ih, as CSR (start, list).
void row_inverse(const Pad2dParams& p, std::vector<index_t>& start, std::vector<index_t>& list) {
  const index_t Ho = p.H_out();
  start.assign(p.H + 1, 0);
  for (index_t oh = 0; oh < Ho; ++oh) ++start[pad_source_index(oh - p.pad_top, p.H, p.mode) + 1];
  for (index_t i = 0; i < p.H; ++i) start[i + 1] += start[i];
  list.resize(Ho);
  std::vector<index_t> fill(start.begin(), start.end() - 1);
  for (index_t oh = 0; oh < Ho; ++oh) list[fill[pad_source_index(oh - p.pad_top, p.H, p.mode)]++] = oh;
}

}  // namespace

template <typename T>
void pad2d_forward_cpu(T* out, const T* inp, const Pad2dParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out(), planes = p.N * p.C;
  const std::vector<index_t> src = column_map(p);
  const index_t* srcw = src.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t oh = 0; oh < Ho; ++oh) {
      const T* in_row = inp + (nc * p.H + pad_source_index(oh - p.pad_top, p.H, p.mode)) * p.W;
      T* out_row = out + (nc * Ho + oh) * Wo;
      for (index_t ow = 0; ow < p.pad_left; ++ow) out_row[ow] = in_row[srcw[ow]];
      std::copy(in_row, in_row + p.W, out_row + p.pad_left);
      for (index_t ow = p.pad_left + p.W; ow < Wo; ++ow) out_row[ow] = in_row[srcw[ow]];
    }
}

template <typename T>
void pad2d_backward_cpu(T* dinp, const T* dout, const Pad2dParams& p) {
  const index_t Ho = p.H_out(), Wo = p.W_out(), planes = p.N * p.C;
  const std::vector<index_t> src = column_map(p);
  std::vector<index_t> start, list;
  row_inverse(p, start, list);
  const index_t *srcw = src.data(), *rstart = start.data(), *rlist = list.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t ih = 0; ih < p.H; ++ih) {
      T* d_row = dinp + (nc * p.H + ih) * p.W;
      std::fill(d_row, d_row + p.W, T(0));
      for (index_t k = rstart[ih]; k < rstart[ih + 1]; ++k) {
        const T* g_row = dout + (nc * Ho + rlist[k]) * Wo;
        for (index_t iw = 0; iw < p.W; ++iw) d_row[iw] += g_row[p.pad_left + iw];
        for (index_t ow = 0; ow < p.pad_left; ++ow) d_row[srcw[ow]] += g_row[ow];
        for (index_t ow = p.pad_left + p.W; ow < Wo; ++ow) d_row[srcw[ow]] += g_row[ow];
      }
    }
}

template void pad2d_forward_cpu<float>(float*, const float*, const Pad2dParams&);
template void pad2d_forward_cpu<double>(double*, const double*, const Pad2dParams&);
template void pad2d_backward_cpu<float>(float*, const float*, const Pad2dParams&);
template void pad2d_backward_cpu<double>(double*, const double*, const Pad2dParams&);

}  // namespace pycnn
