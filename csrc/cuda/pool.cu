// CUDA pooling kernels (pool.h): one thread per output element for the forwards, one per input
// element for the backwards, which gather over the outputs whose windows cover it (no atomics, so
// the results are deterministic); every window and index map is pool.h's PYCNN_HD helpers.
// max_unpool2d scatters (each input to its index) after a zero fill; a repeated index is written
// by several threads (the same value when the indices come from max_pool2d with overlapping
// windows; otherwise which write wins is unspecified, as in PyTorch's CUDA kernel).  Indices given
// to max_unpool2d are checked in the kernels: the smallest bad flat position is kept with
// atomicMin in a device word that the caller reads.
#include "cuda/cuda_compat.h"
#include "pool.h"

namespace pycnn {

namespace {

// ------------------------------------------------------------------ kernels
template <typename T>
__global__ void max_pool2d_forward_kernel(T* y, std::int64_t* idx, const T* x, Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % p.W_out, oh = (o / p.W_out) % p.H_out, plane = o / p.out_plane();
    const T* xp = x + plane * p.in_plane();
    PoolTaps rt, ct;
    if (p.adaptive) {
      const PoolSpan rs = adaptive_span(oh, p.H, p.H_out), cs = adaptive_span(ow, p.W, p.W_out);
      rt = {rs.begin, rs.count}, ct = {cs.begin, cs.count};
    } else {
      rt = max_pool_taps(oh, p.H, p.kH, p.stride_h, p.pad_top, p.dilation_h);
      ct = max_pool_taps(ow, p.W, p.kW, p.stride_w, p.pad_left, p.dilation_w);
    }
    const index_t dh = p.adaptive ? 1 : p.dilation_h, dw = p.adaptive ? 1 : p.dilation_w;
    T best = cuda::neg_infinity<T>();
    index_t best_at = rt.first * p.W + ct.first;
    for (index_t i = 0; i < rt.n; ++i)
      for (index_t j = 0; j < ct.n; ++j) {
        const index_t at = (rt.first + i * dh) * p.W + ct.first + j * dw;
        const T v = xp[at];
        if (v > best || cuda::is_nan(v)) {  // ties: the first; NaN: the last NaN seen
          best = v;
          best_at = at;
        }
      }
    y[o] = best;
    idx[o] = best_at;
  }
}

// The output positions along one dimension whose window can hold input coordinate h: for a
// regular window the taps i with (h + p - i*d) a multiple of s, for an adaptive one a range.
template <typename F>
PYCNN_HD void for_each_max_window(index_t h, index_t L, index_t L_out, index_t k, index_t s, index_t p, index_t d,
                                  bool adaptive, F f) {
  if (adaptive) {
    const PoolRange r = adaptive_outputs_of(h, L, L_out);
    for (index_t o = r.first; o <= r.last; ++o) f(o);
    return;
  }
  for (index_t i = k - 1; i >= 0; --i) {  // increasing o
    const index_t t = h + p - i * d;
    if (t >= 0 && t % s == 0 && t / s < L_out) f(t / s);
  }
}

// dx[h, w] = the sum of dy over the outputs whose index is h*W + w (candidates: the windows that
// contain it; the adaptive windows when p.adaptive).
template <typename T>
__global__ void max_pool2d_backward_kernel(T* dx, const T* dy, const std::int64_t* idx, Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const index_t w = i % p.W, h = (i / p.W) % p.H, plane = i / p.in_plane();
    const index_t pos = h * p.W + w, base = plane * p.out_plane();
    T sum = T(0);
    for_each_max_window(h, p.H, p.H_out, p.kH, p.stride_h, p.pad_top, p.dilation_h, p.adaptive, [&](index_t oh) {
      for_each_max_window(w, p.W, p.W_out, p.kW, p.stride_w, p.pad_left, p.dilation_w, p.adaptive, [&](index_t ow) {
        const index_t o = base + oh * p.W_out + ow;
        if (idx[o] == pos) sum += dy[o];
      });
    });
    dx[i] = sum;
  }
}

template <typename T>
PYCNN_HD T avg_divisor(const Pool2dParams& p, const PoolSpan& rs, const PoolSpan& cs) {
  return T(p.divisor_override != 0 ? p.divisor_override : rs.count * cs.count);
}

template <typename T>
__global__ void avg_pool2d_forward_kernel(T* y, const T* x, Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(o, n) {
    const index_t ow = o % p.W_out, oh = (o / p.W_out) % p.H_out, plane = o / p.out_plane();
    const PoolSpan rs = p.adaptive ? adaptive_span(oh, p.H, p.H_out)
                                   : avg_pool_span(oh, p.H, p.kH, p.stride_h, p.pad_top, p.count_include_pad);
    const PoolSpan cs = p.adaptive ? adaptive_span(ow, p.W, p.W_out)
                                   : avg_pool_span(ow, p.W, p.kW, p.stride_w, p.pad_left, p.count_include_pad);
    const T* xp = x + plane * p.in_plane();
    T sum = T(0);
    for (index_t h = rs.begin; h < rs.end; ++h)
      for (index_t w = cs.begin; w < cs.end; ++w) sum += xp[h * p.W + w];
    y[o] = rs.begin < rs.end && cs.begin < cs.end ? sum / avg_divisor<T>(p, rs, cs) : T(0);
  }
}

// dx[h, w] = sum over the windows that contain (h, w) of dy / divisor.
template <typename T>
__global__ void avg_pool2d_backward_kernel(T* dx, const T* dy, Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const index_t w = i % p.W, h = (i / p.W) % p.H, plane = i / p.in_plane();
    const PoolRange rr = p.adaptive ? adaptive_outputs_of(h, p.H, p.H_out)
                                    : avg_pool_outputs_of(h, p.H_out, p.kH, p.stride_h, p.pad_top);
    const PoolRange cr = p.adaptive ? adaptive_outputs_of(w, p.W, p.W_out)
                                    : avg_pool_outputs_of(w, p.W_out, p.kW, p.stride_w, p.pad_left);
    const T* g = dy + plane * p.out_plane();
    T sum = T(0);
    for (index_t oh = rr.first; oh <= rr.last; ++oh) {
      const PoolSpan rs = p.adaptive ? adaptive_span(oh, p.H, p.H_out)
                                     : avg_pool_span(oh, p.H, p.kH, p.stride_h, p.pad_top, p.count_include_pad);
      if (h < rs.begin || h >= rs.end) continue;  // the window's clip to the padded extent
      for (index_t ow = cr.first; ow <= cr.last; ++ow) {
        const PoolSpan cs = p.adaptive ? adaptive_span(ow, p.W, p.W_out)
                                       : avg_pool_span(ow, p.W, p.kW, p.stride_w, p.pad_left, p.count_include_pad);
        if (w < cs.begin || w >= cs.end) continue;
        sum += g[oh * p.W_out + ow] / avg_divisor<T>(p, rs, cs);
      }
    }
    dx[i] = sum;
  }
}

template <typename T>
__global__ void fill_kernel(T* y, T value, index_t n) {
  PYCNN_GRID_STRIDE(i, n) { y[i] = value; }
}

// y[plane][idx[i]] = x[i] for each input i; a bad index is skipped and its flat position kept.
template <typename T>
__global__ void max_unpool2d_forward_kernel(T* y, unsigned long long* first_bad, const T* x, const std::int64_t* idx,
                                            Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const std::int64_t k = idx[i];
    if (k < 0 || k >= p.out_plane()) {
      atomicMin(first_bad, static_cast<unsigned long long>(i));
      continue;
    }
    y[(i / p.in_plane()) * p.out_plane() + k] = x[i];
  }
}

// dx[i] = dy[plane][idx[i]].
template <typename T>
__global__ void max_unpool2d_backward_kernel(T* dx, unsigned long long* first_bad, const T* dy, const std::int64_t* idx,
                                             Pool2dParams p, index_t n) {
  PYCNN_GRID_STRIDE(i, n) {
    const std::int64_t k = idx[i];
    const bool ok = k >= 0 && k < p.out_plane();
    if (!ok) atomicMin(first_bad, static_cast<unsigned long long>(i));
    dx[i] = ok ? dy[(i / p.in_plane()) * p.out_plane() + k] : T(0);
  }
}

}  // namespace

// ------------------------------------------------------------------ launchers
template <typename T>
void max_pool2d_forward_cuda(T* y, std::int64_t* idx, const T* x, const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("max_pool2d_forward_kernel", &max_pool2d_forward_kernel<T>, p.out_numel(), stream, y, idx,
                           x, p, p.out_numel());
}

template <typename T>
void max_pool2d_backward_cuda(T* dx, const T* dy, const std::int64_t* idx, const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("max_pool2d_backward_kernel", &max_pool2d_backward_kernel<T>, p.in_numel(), stream, dx, dy,
                           idx, p, p.in_numel());
}

template <typename T>
void avg_pool2d_forward_cuda(T* y, const T* x, const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("avg_pool2d_forward_kernel", &avg_pool2d_forward_kernel<T>, p.out_numel(), stream, y, x, p,
                           p.out_numel());
}

template <typename T>
void avg_pool2d_backward_cuda(T* dx, const T* dy, const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("avg_pool2d_backward_kernel", &avg_pool2d_backward_kernel<T>, p.in_numel(), stream, dx, dy,
                           p, p.in_numel());
}

template <typename T>
void max_unpool2d_forward_cuda(T* y, unsigned long long* first_bad, const T* x, const std::int64_t* idx,
                               const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("fill_kernel", &fill_kernel<T>, p.out_numel(), stream, y, T(0), p.out_numel());
  cuda::launch_elementwise("max_unpool2d_forward_kernel", &max_unpool2d_forward_kernel<T>, p.in_numel(), stream, y,
                           first_bad, x, idx, p, p.in_numel());
}

template <typename T>
void max_unpool2d_backward_cuda(T* dx, unsigned long long* first_bad, const T* dy, const std::int64_t* idx,
                                const Pool2dParams& p, void* stream) {
  cuda::launch_elementwise("max_unpool2d_backward_kernel", &max_unpool2d_backward_kernel<T>, p.in_numel(), stream, dx,
                           first_bad, dy, idx, p, p.in_numel());
}

#define PYCNN_INSTANTIATE(T)                                                                                  \
  template void max_pool2d_forward_cuda<T>(T*, std::int64_t*, const T*, const Pool2dParams&, void*);          \
  template void max_pool2d_backward_cuda<T>(T*, const T*, const std::int64_t*, const Pool2dParams&, void*);   \
  template void avg_pool2d_forward_cuda<T>(T*, const T*, const Pool2dParams&, void*);                         \
  template void avg_pool2d_backward_cuda<T>(T*, const T*, const Pool2dParams&, void*);                        \
  template void max_unpool2d_forward_cuda<T>(T*, unsigned long long*, const T*, const std::int64_t*,          \
                                             const Pool2dParams&, void*);                                     \
  template void max_unpool2d_backward_cuda<T>(T*, unsigned long long*, const T*, const std::int64_t*,         \
                                              const Pool2dParams&, void*);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)

}  // namespace pycnn
