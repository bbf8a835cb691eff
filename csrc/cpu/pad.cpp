// OpenMP padding (see pad.h).  Forward: one task per output row (plane, depth, row), reading the
// input row its depth and row map it to, the interior copied as one contiguous run, the borders
// through a precomputed column map.  Backward gathers instead of scattering: one task per input
// row sums the output rows that read it (through the inverse maps of the depth and row axes: at
// most 3 x 3 for reflect and circular, any number for replicate's edges), so no two threads write
// the same element.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "pad.h"

namespace pycnn {

namespace {

// Source of every output coordinate along an axis.
std::vector<index_t> source_map(const PadAxis& a, PadMode mode) {
  std::vector<index_t> src(a.out());
  for (index_t o = 0; o < a.out(); ++o) src[o] = a.source(o, mode);
  return src;
}

// The outputs that read each input coordinate along an axis, as CSR: readers of i are
// list[start[i] .. start[i + 1]).
struct Inverse {
  std::vector<index_t> start, list;
  Inverse(const PadAxis& a, PadMode mode) : start(a.n + 1, 0), list(a.out()) {
    const std::vector<index_t> src = source_map(a, mode);
    for (index_t o = 0; o < a.out(); ++o) ++start[src[o] + 1];
    for (index_t i = 0; i < a.n; ++i) start[i + 1] += start[i];
    std::vector<index_t> fill(start.begin(), start.end() - 1);
    for (index_t o = 0; o < a.out(); ++o) list[fill[src[o]]++] = o;
  }
};

}  // namespace

template <typename T>
void pad_forward_cpu(T* out, const T* inp, const PadParams& p) {
  const index_t Do = p.d.out(), Ho = p.h.out(), Wo = p.w.out(), planes = p.planes();
  const std::vector<index_t> src = source_map(p.w, p.mode);
  const index_t* srcw = src.data();
  index_t begin, end, src_begin;  // the contiguous interior of each row
  p.w.interior(p.mode, begin, end, src_begin);
#pragma omp parallel for collapse(3) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t od = 0; od < Do; ++od)
      for (index_t oh = 0; oh < Ho; ++oh) {
        const index_t id = p.d.source(od, p.mode), ih = p.h.source(oh, p.mode);
        const T* in_row = inp + ((nc * p.d.n + id) * p.h.n + ih) * p.w.n;
        T* out_row = out + ((nc * Do + od) * Ho + oh) * Wo;
        for (index_t ow = 0; ow < begin; ++ow) out_row[ow] = in_row[srcw[ow]];
        std::copy(in_row + src_begin, in_row + src_begin + (end - begin), out_row + begin);
        for (index_t ow = end; ow < Wo; ++ow) out_row[ow] = in_row[srcw[ow]];
      }
}

template <typename T>
void pad_backward_cpu(T* dinp, const T* dout, const PadParams& p) {
  const index_t Do = p.d.out(), Ho = p.h.out(), Wo = p.w.out(), planes = p.planes();
  const index_t D = p.d.n, H = p.h.n, W = p.w.n;
  const std::vector<index_t> src = source_map(p.w, p.mode);
  const Inverse depths(p.d, p.mode), rows(p.h, p.mode);
  const index_t* srcw = src.data();
  index_t begin, end, src_begin;
  p.w.interior(p.mode, begin, end, src_begin);
#pragma omp parallel for collapse(3) schedule(static)
  for (index_t nc = 0; nc < planes; ++nc)
    for (index_t id = 0; id < D; ++id)
      for (index_t ih = 0; ih < H; ++ih) {
        T* d_row = dinp + ((nc * D + id) * H + ih) * W;
        std::fill(d_row, d_row + W, T(0));
        for (index_t kd = depths.start[id]; kd < depths.start[id + 1]; ++kd)
          for (index_t kh = rows.start[ih]; kh < rows.start[ih + 1]; ++kh) {
            const T* g_row = dout + ((nc * Do + depths.list[kd]) * Ho + rows.list[kh]) * Wo;
            for (index_t k = 0; k < end - begin; ++k) d_row[src_begin + k] += g_row[begin + k];
            for (index_t ow = 0; ow < begin; ++ow) d_row[srcw[ow]] += g_row[ow];
            for (index_t ow = end; ow < Wo; ++ow) d_row[srcw[ow]] += g_row[ow];
          }
      }
}

template void pad_forward_cpu<float>(float*, const float*, const PadParams&);
template void pad_forward_cpu<double>(double*, const double*, const PadParams&);
template void pad_backward_cpu<float>(float*, const float*, const PadParams&);
template void pad_backward_cpu<double>(double*, const double*, const PadParams&);

}  // namespace pycnn
