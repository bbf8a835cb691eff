// Plain loops: the executable spec of csrc/elementwise.h.
#include "elementwise.h"

namespace pycnn {

template <typename T>
void relu_forward_ref(T* y, const T* x, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] = relu_value(x[i]);
}

template <typename T>
void relu_backward_ref(T* dx, const T* dy, const T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) dx[i] = relu_grad(dy[i], y[i]);
}

#define PYCNN_INSTANTIATE(T)                                        \
  template void relu_forward_ref<T>(T*, const T*, index_t);         \
  template void relu_backward_ref<T>(T*, const T*, const T*, index_t);
PYCNN_INSTANTIATE(float)
PYCNN_INSTANTIATE(double)
#undef PYCNN_INSTANTIATE

}  // namespace pycnn
