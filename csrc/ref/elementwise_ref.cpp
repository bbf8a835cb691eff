// Plain loops: the executable spec of csrc/elementwise.h.
#include "elementwise.h"

namespace pycnn {

template <typename T>
void activation_forward_ref(Activation act, T* y, const T* x, index_t n, T alpha) {
  with_activation(act, [&](auto a) {
    for (index_t i = 0; i < n; ++i) y[i] = activation_value<decltype(a)::value>(x[i], alpha);
  });
}

template <typename T>
void activation_backward_ref(Activation act, T* dx, const T* dy, const T* saved, index_t n, T alpha) {
  with_activation(act, [&](auto a) {
    for (index_t i = 0; i < n; ++i) dx[i] = activation_grad<decltype(a)::value>(dy[i], saved[i], alpha);
  });
}

template <typename T>
void binary_ref(BinaryOp op, T* out, const T* a, const T* b, index_t n) {
  with_binary(op, [&](auto o) {
    for (index_t i = 0; i < n; ++i) out[i] = binary_value<decltype(o)::value>(a[i], b[i]);
  });
}

template <typename T>
void binary_broadcast_ref(BinaryOp op, T* out, const T* big, const T* small, BroadcastShape b, bool small_first) {
  with_binary(op, [&](auto o) {
    constexpr BinaryOp B = decltype(o)::value;
    for (index_t n = 0; n < b.outer; ++n)
      for (index_t c = 0; c < b.C; ++c)
        for (index_t i = 0; i < b.inner; ++i) {
          const index_t at = (n * b.C + c) * b.inner + i;
          out[at] = small_first ? binary_value<B>(small[c], big[at]) : binary_value<B>(big[at], small[c]);
        }
  });
}

template <typename T>
void broadcast_sum_ref(T* s, const T* g, const T* other, BroadcastShape b) {
  for (index_t c = 0; c < b.C; ++c) {
    T acc = 0;
    for (index_t n = 0; n < b.outer; ++n)
      for (index_t i = 0; i < b.inner; ++i) {
        const index_t at = (n * b.C + c) * b.inner + i;
        acc += other ? g[at] * other[at] : g[at];
      }
    s[c] = acc;
  }
}

#define PYCNN_INSTANTIATE(T)                                                                   \
  template void activation_forward_ref<T>(Activation, T*, const T*, index_t, T);               \
  template void activation_backward_ref<T>(Activation, T*, const T*, const T*, index_t, T);    \
  template void binary_ref<T>(BinaryOp, T*, const T*, const T*, index_t);                      \
  template void binary_broadcast_ref<T>(BinaryOp, T*, const T*, const T*, BroadcastShape, bool); \
  template void broadcast_sum_ref<T>(T*, const T*, const T*, BroadcastShape);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
