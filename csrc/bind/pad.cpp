// Bindings of the padding family (see csrc/pad.h): adapt the arrays, run the kernel on the params
// from pad_params.  reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "pad.h"

using namespace pycnn;

void bind_pad(py::module_& m) {
  m.def(
      "pad_forward",
      [](const py::array& x, const PadParams& p, bool reference) {
        check_shape(x, {p.N, p.C, p.d.n, p.h.n, p.w.n}, "pad", "input");
        return float_dispatch(x, "pad", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.d.out(), p.h.out(), p.w.out()}, p,
                               reference ? &pad_forward_ref<T> : &pad_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "Pads the last three dims of an (N, C, D, H, W) array (reflect | replicate | circular).");
  m.def(
      "pad_backward",
      [](const py::array& g, const PadParams& p, bool reference) {
        check_shape(g, {p.N, p.C, p.d.out(), p.h.out(), p.w.out()}, "pad", "grad_output");
        return float_dispatch(g, "pad", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.d.n, p.h.n, p.w.n}, p,
                               reference ? &pad_backward_ref<T> : &pad_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false,
      "Gradient of pad_forward w.r.t. its input: (N, C, D_out, H_out, W_out) -> (N, C, D, H, W).");
}
