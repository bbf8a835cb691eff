// Reference pooling kernels: plain loops over every output and every tap, written straight
// from the window definitions in pool.h (the executable spec; no pragmas, no fast paths).
#include <cmath>
#include <limits>

#include "pool.h"

namespace pycnn {

template <typename T>
void max_pool2d_forward_ref(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p) {
  for (index_t pl = 0; pl < p.planes(); ++pl) {
    const T* xp = x + pl * p.in_plane();
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        index_t best_at = -1;
        for (index_t i = 0; i < p.kH; ++i)
          for (index_t j = 0; j < p.kW; ++j) {
            const index_t h = oh * p.stride_h - p.pad_top + i * p.dilation_h, w = ow * p.stride_w - p.pad_left + j * p.dilation_w;
            if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
            const T v = xp[h * p.W + w];
            if (best_at < 0 || v > best || std::isnan(v)) {
              best = v;
              best_at = h * p.W + w;
            }
          }
        const index_t o = pl * p.out_plane() + oh * p.W_out + ow;
        y[o] = best;
        idx[o] = best_at;
      }
  }
}

template <typename T>
index_t max_pool2d_backward_ref(T* dx, const T* dy, const std::int64_t* idx,
                                const Pool2dParams& p) {
  for (index_t k = 0; k < p.planes() * p.in_plane(); ++k) dx[k] = T(0);
  for (index_t k = 0; k < p.planes() * p.out_plane(); ++k) {
    if (idx[k] < 0 || idx[k] >= p.in_plane()) return k;
    dx[(k / p.out_plane()) * p.in_plane() + idx[k]] += dy[k];
  }
  return -1;
}

// The divisor of avg-pool output (oh, ow) and its clipped window [h0, h1) x [w0, w1).
inline double avg_window(const Pool2dParams& p, index_t oh, index_t ow, bool count_include_pad,
                         index_t divisor_override, index_t& h0, index_t& h1, index_t& w0,
                         index_t& w1) {
  h0 = oh * p.stride_h - p.pad_top;
  w0 = ow * p.stride_w - p.pad_left;
  h1 = std::min(h0 + p.kH, p.H + p.pad_top);
  w1 = std::min(w0 + p.kW, p.W + p.pad_left);
  const index_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<index_t>(h0, 0);
  w0 = std::max<index_t>(w0, 0);
  h1 = std::min(h1, p.H);
  w1 = std::min(w1, p.W);
  if (divisor_override != 0) return double(divisor_override);
  return double(count_include_pad ? padded_size : (h1 - h0) * (w1 - w0));
}

// Calls f(plane, output offset, h0, h1, w0, w1, divisor) for every avg-pool output, in order.
template <typename F>
void for_each_avg_window(const Pool2dParams& p, F&& f) {
  for (index_t pl = 0; pl < p.planes(); ++pl)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        index_t h0, h1, w0, w1;
        const double div =
            avg_window(p, oh, ow, p.count_include_pad, p.divisor_override, h0, h1, w0, w1);
        f(pl, pl * p.out_plane() + oh * p.W_out + ow, h0, h1, w0, w1, div);
      }
}

template <typename T>
void avg_pool2d_forward_ref(T* y, const T* x, const Pool2dParams& p) {
  for_each_avg_window(p, [&](index_t pl, index_t o, index_t h0, index_t h1, index_t w0,
                             index_t w1, double div) {
    double sum = 0;
    for (index_t h = h0; h < h1; ++h)
      for (index_t w = w0; w < w1; ++w) sum += double(x[pl * p.in_plane() + h * p.W + w]);
    y[o] = (h0 < h1 && w0 < w1) ? T(sum / div) : T(0);
  });
}

template <typename T>
void avg_pool2d_backward_ref(T* dx, const T* dy, const Pool2dParams& p) {
  for (index_t k = 0; k < p.planes() * p.in_plane(); ++k) dx[k] = T(0);
  for_each_avg_window(p, [&](index_t pl, index_t o, index_t h0, index_t h1, index_t w0,
                             index_t w1, double div) {
    const double g = double(dy[o]) / div;
    for (index_t h = h0; h < h1; ++h)
      for (index_t w = w0; w < w1; ++w) dx[pl * p.in_plane() + h * p.W + w] += T(g);
  });
}

template <typename T>
void adaptive_avg_pool2d_forward_ref(T* y, const T* x, const Pool2dParams& p) {
  for (index_t pl = 0; pl < p.planes(); ++pl)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const index_t h0 = adaptive_start(oh, p.H, p.H_out), h1 = adaptive_end(oh, p.H, p.H_out);
        const index_t w0 = adaptive_start(ow, p.W, p.W_out), w1 = adaptive_end(ow, p.W, p.W_out);
        double sum = 0;
        for (index_t h = h0; h < h1; ++h)
          for (index_t w = w0; w < w1; ++w) sum += double(x[pl * p.in_plane() + h * p.W + w]);
        y[pl * p.out_plane() + oh * p.W_out + ow] = T(sum / double((h1 - h0) * (w1 - w0)));
      }
}

template <typename T>
void adaptive_avg_pool2d_backward_ref(T* dx, const T* dy, const Pool2dParams& p) {
  for (index_t k = 0; k < p.planes() * p.in_plane(); ++k) dx[k] = T(0);
  for (index_t pl = 0; pl < p.planes(); ++pl)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const index_t h0 = adaptive_start(oh, p.H, p.H_out), h1 = adaptive_end(oh, p.H, p.H_out);
        const index_t w0 = adaptive_start(ow, p.W, p.W_out), w1 = adaptive_end(ow, p.W, p.W_out);
        const double g = double(dy[pl * p.out_plane() + oh * p.W_out + ow]) /
                         double((h1 - h0) * (w1 - w0));
        for (index_t h = h0; h < h1; ++h)
          for (index_t w = w0; w < w1; ++w) dx[pl * p.in_plane() + h * p.W + w] += T(g);
      }
}

template <typename T>
void adaptive_max_pool2d_forward_ref(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p) {
  for (index_t pl = 0; pl < p.planes(); ++pl)
    for (index_t oh = 0; oh < p.H_out; ++oh)
      for (index_t ow = 0; ow < p.W_out; ++ow) {
        const index_t h0 = adaptive_start(oh, p.H, p.H_out), h1 = adaptive_end(oh, p.H, p.H_out);
        const index_t w0 = adaptive_start(ow, p.W, p.W_out), w1 = adaptive_end(ow, p.W, p.W_out);
        T best = -std::numeric_limits<T>::infinity();
        index_t best_at = h0 * p.W + w0;
        for (index_t h = h0; h < h1; ++h)
          for (index_t w = w0; w < w1; ++w) {
            const T v = x[pl * p.in_plane() + h * p.W + w];
            if (v > best || std::isnan(v)) {
              best = v;
              best_at = h * p.W + w;
            }
          }
        y[pl * p.out_plane() + oh * p.W_out + ow] = best;
        idx[pl * p.out_plane() + oh * p.W_out + ow] = best_at;
      }
}

template <typename T>
index_t max_unpool2d_forward_ref(T* y, const T* x, const std::int64_t* idx, const Pool2dParams& p) {
  for (index_t k = 0; k < p.planes() * p.out_plane(); ++k) y[k] = T(0);
  for (index_t k = 0; k < p.planes() * p.in_plane(); ++k) {
    if (idx[k] < 0 || idx[k] >= p.out_plane()) return k;
    y[(k / p.in_plane()) * p.out_plane() + idx[k]] = x[k];
  }
  return -1;
}

template <typename T>
index_t max_unpool2d_backward_ref(T* dx, const T* dy, const std::int64_t* idx,
                                  const Pool2dParams& p) {
  for (index_t k = 0; k < p.planes() * p.in_plane(); ++k) {
    if (idx[k] < 0 || idx[k] >= p.out_plane()) return k;
    dx[k] = dy[(k / p.in_plane()) * p.out_plane() + idx[k]];
  }
  return -1;
}

#define PYCNN_INSTANTIATE(T)                                                                      \
  template void max_pool2d_forward_ref<T>(T*, std::int64_t*, const T*, const Pool2dParams&);      \
  template index_t max_pool2d_backward_ref<T>(T*, const T*, const std::int64_t*,                  \
                                              const Pool2dParams&);                               \
  template void avg_pool2d_forward_ref<T>(T*, const T*, const Pool2dParams&);               \
  template void avg_pool2d_backward_ref<T>(T*, const T*, const Pool2dParams&);             \
  template void adaptive_avg_pool2d_forward_ref<T>(T*, const T*, const Pool2dParams&);            \
  template void adaptive_avg_pool2d_backward_ref<T>(T*, const T*, const Pool2dParams&);           \
  template void adaptive_max_pool2d_forward_ref<T>(T*, std::int64_t*, const T*,                   \
                                                   const Pool2dParams&);                          \
  template index_t max_unpool2d_forward_ref<T>(T*, const T*, const std::int64_t*,                 \
                                               const Pool2dParams&);                              \
  template index_t max_unpool2d_backward_ref<T>(T*, const T*, const std::int64_t*,                \
                                                const Pool2dParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
