// Bindings of the padding family (see csrc/pad.h).
#include "bind_util.h"
#include "pad.h"

using namespace pycnn;

namespace {

// pad = (left, right, top, bottom) as torch orders it; a is (N, C, H, W) (the input in
// forward, the output gradient in backward, whose spatial sizes include the pads).
Pad2dParams make_params(const py::array& a, const std::vector<index_t>& pad, const std::string& mode,
                        bool backward) {
  check_ndim(a, 4, "pad", backward ? "grad_output" : "input");
  PYCNN_CHECK(pad.size() == 4, "pad: pad must be (left, right, top, bottom), got ", pad.size(), " values");
  Pad2dParams p;
  p.mode = pad_mode_from_string(mode);
  p.left = pad[0], p.right = pad[1], p.top = pad[2], p.bottom = pad[3];
  p.N = a.shape(0), p.C = a.shape(1);
  p.H = backward ? a.shape(2) - p.top - p.bottom : a.shape(2);
  p.W = backward ? a.shape(3) - p.left - p.right : a.shape(3);
  validate(p);
  return p;
}

}  // namespace

void bind_pad(py::module_& m) {
  m.def(
      "pad2d_forward",
      [](const py::array& x, const std::vector<index_t>& pad, const std::string& mode, bool reference) {
        const Pad2dParams p = make_params(x, pad, mode, false);
        return float_dispatch(x, "pad", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.H_out(), p.W_out()}, p,
                              reference ? &pad2d_forward_ref<T> : &pad2d_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("pad"), py::arg("mode"), py::arg("reference") = false,
      "Pads the last two dims of an (N, C, H, W) array; pad = (left, right, top, bottom), "
      "mode 'reflect' | 'replicate' | 'circular'. reference=True runs the plain-loop spec.");
  m.def(
      "pad2d_backward",
      [](const py::array& g, const std::vector<index_t>& pad, const std::string& mode, bool reference) {
        const Pad2dParams p = make_params(g, pad, mode, true);
        return float_dispatch(g, "pad", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.H, p.W}, p,
                              reference ? &pad2d_backward_ref<T> : &pad2d_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("pad"), py::arg("mode"), py::arg("reference") = false,
      "Gradient of pad2d_forward w.r.t. its input: (N, C, H_out, W_out) -> (N, C, H, W).");
}
