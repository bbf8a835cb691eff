// Bindings of the upsample family (see csrc/upsample.h): adapt the arrays, run the kernel on the
// params from upsample_params / bed_of_nails_params.  reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "upsample.h"

using namespace pycnn;

void bind_upsample(py::module_& m) {
  m.def(
      "upsample_forward",
      [](const py::array& x, const UpsampleParams& p, bool reference) {
        check_shape(x, {p.N, p.C, p.d.in, p.h.in, p.w.in}, "interpolate", "input");
        return float_dispatch(x, "interpolate", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.d.out, p.h.out, p.w.out}, p,
                               reference ? &upsample_forward_ref<T> : &upsample_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "Resamples an (N, C, D, H, W) array to (D_out, H_out, W_out) (nearest | nearest-exact | linear | bicubic).");
  m.def(
      "upsample_backward",
      [](const py::array& g, const UpsampleParams& p, bool reference) {
        check_shape(g, {p.N, p.C, p.d.out, p.h.out, p.w.out}, "interpolate", "grad_output");
        return float_dispatch(g, "interpolate", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.d.in, p.h.in, p.w.in}, p,
                               reference ? &upsample_backward_ref<T> : &upsample_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false,
      "Gradient of upsample_forward w.r.t. its input: (N, C, D_out, H_out, W_out) -> (N, C, D, H, W).");
  m.def(
      "bed_of_nails_forward",
      [](const py::array& x, const BedOfNailsParams& p, bool reference) {
        check_shape(x, {p.N, p.C, p.H, p.W}, "upsample_bed_of_nails", "input");
        return float_dispatch(x, "upsample_bed_of_nails", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.H_out(), p.W_out()}, p,
                               reference ? &bed_of_nails_forward_ref<T> : &bed_of_nails_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "(N, C, H, W) -> (N, C, H*sH, W*sW): each value at the top-left of its block, zeros elsewhere.");
  m.def(
      "bed_of_nails_backward",
      [](const py::array& g, const BedOfNailsParams& p, bool reference) {
        check_shape(g, {p.N, p.C, p.H_out(), p.W_out()}, "upsample_bed_of_nails", "grad_output");
        return float_dispatch(g, "upsample_bed_of_nails", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.H, p.W}, p,
                               reference ? &bed_of_nails_backward_ref<T> : &bed_of_nails_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false,
      "Gradient of bed_of_nails_forward: grad_output[:, :, ::sH, ::sW].");
}
