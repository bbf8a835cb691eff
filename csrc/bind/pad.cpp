// Bindings of the padding family (see csrc/pad.h): adapt the arrays, run the kernel on the params
// from pad2d_params.  reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "pad.h"

using namespace pycnn;

void bind_pad(py::module_& m) {
  m.def(
      "pad2d_forward",
      [](const py::array& x, const Pad2dParams& p, bool reference) {
        check_shape(x, {p.N, p.C, p.H, p.W}, "pad", "input");
        return float_dispatch(x, "pad", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.H_out(), p.W_out()}, p,
                               reference ? &pad2d_forward_ref<T> : &pad2d_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "Pads the last two dims of an (N, C, H, W) array (reflect | replicate | circular).");
  m.def(
      "pad2d_backward",
      [](const py::array& g, const Pad2dParams& p, bool reference) {
        check_shape(g, {p.N, p.C, p.H_out(), p.W_out()}, "pad", "grad_output");
        return float_dispatch(g, "pad", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.H, p.W}, p, reference ? &pad2d_backward_ref<T> : &pad2d_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false,
      "Gradient of pad2d_forward w.r.t. its input: (N, C, H_out, W_out) -> (N, C, H, W).");
}
