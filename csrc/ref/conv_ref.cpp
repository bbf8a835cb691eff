// Plain-loop conv2d / conv_transpose2d: the executable spec of csrc/conv.h (no pragmas).
#include "conv.h"
#include "elementwise.h"

namespace pycnn {

namespace {

// Visits every (n, co, oh, ow, ci, kh, kw) term of the forward sum whose input tap lies
// inside the image, with the flat offsets of y, x and w.
template <typename F>
void for_each_tap(const Conv2dParams& p, F&& f) {
  const index_t cig = p.cin_g(), cog = p.cout_g();
  for (index_t n = 0; n < p.N; ++n)
    for (index_t co = 0; co < p.C_out; ++co) {
      const index_t g = co / cog;
      for (index_t oh = 0; oh < p.H_out; ++oh)
        for (index_t ow = 0; ow < p.W_out; ++ow) {
          const index_t yi = ((n * p.C_out + co) * p.H_out + oh) * p.W_out + ow;
          for (index_t c = 0; c < cig; ++c) {
            const index_t ci = g * cig + c;
            for (index_t kh = 0; kh < p.kH; ++kh) {
              const index_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              if (ih < 0 || ih >= p.H) continue;
              for (index_t kw = 0; kw < p.kW; ++kw) {
                const index_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (iw < 0 || iw >= p.W) continue;
                const index_t xi = ((n * p.C_in + ci) * p.H + ih) * p.W + iw;
                const index_t wi = ((co * cig + c) * p.kH + kh) * p.kW + kw;
                f(yi, xi, wi);
              }
            }
          }
        }
    }
}

template <typename T>
void fill(T* a, index_t n, T v) {
  for (index_t i = 0; i < n; ++i) a[i] = v;
}

// s[c] = sum over n and the plane of a (N, C, HW).
template <typename T>
void channel_sums(T* s, const T* a, index_t N, index_t C, index_t HW) {
  for (index_t c = 0; c < C; ++c) {
    T acc = 0;
    for (index_t n = 0; n < N; ++n)
      for (index_t i = 0; i < HW; ++i) acc += a[(n * C + c) * HW + i];
    s[c] = acc;
  }
}

}  // namespace

template <typename T>
void conv2d_forward_ref(T* y, const T* x, const T* w, const T* b, const Conv2dParams& p, bool relu) {
  const index_t hw = p.out_hw();
  for (index_t n = 0; n < p.N; ++n)
    for (index_t co = 0; co < p.C_out; ++co)
      fill(y + (n * p.C_out + co) * hw, hw, b ? b[co] : T(0));
  for_each_tap(p, [&](index_t yi, index_t xi, index_t wi) { y[yi] += w[wi] * x[xi]; });
  if (relu)
    for (index_t i = 0; i < p.N * p.C_out * hw; ++i) y[i] = activation_value<Activation::relu>(y[i], T(0));
}

template <typename T>
void conv2d_backward_ref(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                         const Conv2dParams& p) {
  if (dx) fill(dx, p.N * p.C_in * p.H * p.W, T(0));
  if (dw) fill(dw, p.C_out * p.col_rows(), T(0));
  if (dx || dw)
    for_each_tap(p, [&](index_t yi, index_t xi, index_t wi) {
      if (dx) dx[xi] += w[wi] * dy[yi];
      if (dw) dw[wi] += x[xi] * dy[yi];
    });
  if (db) channel_sums(db, dy, p.N, p.C_out, p.out_hw());
}

template <typename T>
void conv_transpose2d_forward_ref(T* y, const T* x, const T* w, const T* b,
                                  const Conv2dParams& p) {
  const index_t hw = p.H * p.W;
  for (index_t n = 0; n < p.N; ++n)
    for (index_t c = 0; c < p.C_in; ++c) fill(y + (n * p.C_in + c) * hw, hw, b ? b[c] : T(0));
  // Every input element x_t[yi] scatters x_t * w into the output taps it would have read.
  for_each_tap(p, [&](index_t yi, index_t xi, index_t wi) { y[xi] += w[wi] * x[yi]; });
}

template <typename T>
void conv_transpose2d_backward_ref(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w,
                                   const Conv2dParams& p) {
  if (dx) fill(dx, p.N * p.C_out * p.out_hw(), T(0));
  if (dw) fill(dw, p.C_out * p.col_rows(), T(0));
  if (dx || dw)
    for_each_tap(p, [&](index_t yi, index_t xi, index_t wi) {
      if (dx) dx[yi] += w[wi] * dy[xi];
      if (dw) dw[wi] += x[yi] * dy[xi];
    });
  if (db) channel_sums(db, dy, p.N, p.C_in, p.H * p.W);
}

#define PYCNN_INSTANTIATE(T)                                                                    \
  template void conv2d_forward_ref<T>(T*, const T*, const T*, const T*, const Conv2dParams&,    \
                                      bool);                                                    \
  template void conv2d_backward_ref<T>(T*, T*, T*, const T*, const T*, const T*,                \
                                       const Conv2dParams&);                                    \
  template void conv_transpose2d_forward_ref<T>(T*, const T*, const T*, const T*,               \
                                                const Conv2dParams&);                           \
  template void conv_transpose2d_backward_ref<T>(T*, T*, T*, const T*, const T*, const T*,      \
                                                 const Conv2dParams&);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
