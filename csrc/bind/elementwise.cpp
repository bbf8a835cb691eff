// Bindings of the elementwise family (see csrc/elementwise.h): any shape, float32/float64, the
// GIL released around the kernel.  reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "elementwise.h"

using namespace pycnn;

void bind_elementwise(py::module_& m) {
  m.def(
      "relu_forward",
      [](const py::array& x, bool reference) {
        return float_dispatch(x, "relu", "input", [&](auto t) -> py::array {
          using T = decltype(t);
          carray<T> in(x);
          auto out = new_array<T>(shape_of(in));
          const T* src = in.data();
          T* dst = out.mutable_data();
          const index_t n = in.size();
          py::gil_scoped_release nogil;
          (reference ? &relu_forward_ref<T> : &relu_forward_cpu<T>)(dst, src, n);
          return out;
        });
      },
      py::arg("input"), py::arg("reference") = false, "y = relu(x) (x <= 0 ? 0 : x).");
  m.def(
      "relu_backward",
      [](const py::array& dy, const py::array& y, bool reference) {
        PYCNN_CHECK(shape_of(dy) == shape_of(y), "relu: grad_output ", shape_str(shape_of(dy)),
                    " does not match the output ", shape_str(shape_of(y)));
        return float_dispatch(y, "relu", "output", [&](auto t) -> py::array {
          using T = decltype(t);
          if (!py::isinstance<py::array_t<T>>(dy))
            throw py::type_error(msg("relu: grad_output dtype ", std::string(py::str(dy.dtype())),
                                     " differs from the output's ", std::string(py::str(y.dtype()))));
          carray<T> g(dy), out_y(y);
          auto dx = new_array<T>(shape_of(g));
          const T* gp = g.data();
          const T* yp = out_y.data();
          T* dp = dx.mutable_data();
          const index_t n = g.size();
          py::gil_scoped_release nogil;
          (reference ? &relu_backward_ref<T> : &relu_backward_cpu<T>)(dp, gp, yp, n);
          return dx;
        });
      },
      py::arg("grad_output"), py::arg("output"), py::arg("reference") = false,
      "dx = output <= 0 ? 0 : grad_output (the gradient of relu from its saved output).");
}
