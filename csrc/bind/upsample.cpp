// Bindings of the upsample family (see csrc/upsample.h).
#include <optional>

#include "bind_util.h"
#include "upsample.h"

using namespace pycnn;

namespace {

// a is (N, C, H, W): the input in forward (sizes = the output's (H, W)), the output gradient in
// backward (sizes = the input's (H, W)).  scales: torch's scale_factor per axis, or None.
Upsample2dParams make_params(const py::array& a, const std::vector<index_t>& sizes, const std::string& mode,
                             bool align_corners, const std::vector<std::optional<double>>& scales,
                             bool backward) {
  check_ndim(a, 4, "interpolate", backward ? "grad_output" : "input");
  PYCNN_CHECK(sizes.size() == 2, "interpolate: ", backward ? "input_size" : "output_size",
              " must be (H, W), got ", sizes.size(), " values");
  PYCNN_CHECK(scales.size() == 2, "interpolate: scales must be (scale_h, scale_w), got ", scales.size(),
              " values");
  Upsample2dParams p;
  p.mode = upsample_mode_from_string(mode);
  PYCNN_CHECK(!align_corners || p.mode == UpsampleMode::linear,
              "interpolate: align_corners can only be set with the linear modes, got mode '", mode, "'");
  p.align_corners = align_corners;
  p.N = a.shape(0), p.C = a.shape(1);
  (backward ? p.H_out : p.H_in) = a.shape(2), (backward ? p.W_out : p.W_in) = a.shape(3);
  (backward ? p.H_in : p.H_out) = sizes[0], (backward ? p.W_in : p.W_out) = sizes[1];
  for (int i = 0; i < 2; ++i)
    PYCNN_CHECK(!scales[i] || *scales[i] > 0, "interpolate: scale factors must be positive, got ", *scales[i]);
  p.scale_h = scales[0].value_or(0.0), p.scale_w = scales[1].value_or(0.0);
  validate(p);
  return p;
}

BedOfNailsParams make_bed_params(const py::array& a, index_t sH, index_t sW, bool backward) {
  check_ndim(a, 4, "upsample_bed_of_nails", backward ? "grad_output" : "input");
  BedOfNailsParams p;
  p.sH = sH, p.sW = sW;
  p.N = a.shape(0), p.C = a.shape(1);
  validate(p);
  if (backward) {
    PYCNN_CHECK(a.shape(2) % sH == 0 && a.shape(3) % sW == 0, "upsample_bed_of_nails: grad_output shape ",
                shape_str(shape_of(a)), " is not a multiple of the scale (", sH, ", ", sW, ")");
    p.H = a.shape(2) / sH, p.W = a.shape(3) / sW;
  } else {
    p.H = a.shape(2), p.W = a.shape(3);
  }
  return p;
}

}  // namespace

void bind_upsample(py::module_& m) {
  m.def(
      "upsample2d_forward",
      [](const py::array& x, const std::vector<index_t>& output_size, const std::string& mode, bool align_corners,
         const std::vector<std::optional<double>>& scales, bool reference) {
        const Upsample2dParams p = make_params(x, output_size, mode, align_corners, scales, false);
        return float_dispatch(x, "interpolate", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.H_out, p.W_out}, p,
                        reference ? &upsample2d_forward_ref<T> : &upsample2d_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("output_size"), py::arg("mode"), py::arg("align_corners") = false,
      py::arg("scales") = std::vector<std::optional<double>>{std::nullopt, std::nullopt},
      py::arg("reference") = false,
      "Resamples an (N, C, H, W) array to output_size = (H_out, W_out); mode 'nearest' | 'nearest-exact' | "
      "'linear' | 'bilinear'; scales = torch's (scale_h, scale_w) or None each (then in/out is used). "
      "reference=True runs the plain-loop spec.");
  m.def(
      "upsample2d_backward",
      [](const py::array& g, const std::vector<index_t>& input_size, const std::string& mode, bool align_corners,
         const std::vector<std::optional<double>>& scales, bool reference) {
        const Upsample2dParams p = make_params(g, input_size, mode, align_corners, scales, true);
        return float_dispatch(g, "interpolate", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.H_in, p.W_in}, p,
                        reference ? &upsample2d_backward_ref<T> : &upsample2d_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("input_size"), py::arg("mode"), py::arg("align_corners") = false,
      py::arg("scales") = std::vector<std::optional<double>>{std::nullopt, std::nullopt},
      py::arg("reference") = false,
      "Gradient of upsample2d_forward w.r.t. its input: (N, C, H_out, W_out) -> (N, C, *input_size).");
  m.def(
      "bed_of_nails_forward",
      [](const py::array& x, index_t sH, index_t sW, bool reference) {
        const BedOfNailsParams p = make_bed_params(x, sH, sW, false);
        return float_dispatch(x, "upsample_bed_of_nails", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, {p.N, p.C, p.H_out(), p.W_out()}, p,
                        reference ? &bed_of_nails_forward_ref<T> : &bed_of_nails_forward_cpu<T>);
        });
      },
      py::arg("input"), py::arg("sH"), py::arg("sW"), py::arg("reference") = false,
      "(N, C, H, W) -> (N, C, H*sH, W*sW): each value at the top-left of its block, zeros elsewhere.");
  m.def(
      "bed_of_nails_backward",
      [](const py::array& g, index_t sH, index_t sW, bool reference) {
        const BedOfNailsParams p = make_bed_params(g, sH, sW, true);
        return float_dispatch(g, "upsample_bed_of_nails", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(g, {p.N, p.C, p.H, p.W}, p,
                        reference ? &bed_of_nails_backward_ref<T> : &bed_of_nails_backward_cpu<T>);
        });
      },
      py::arg("grad_output"), py::arg("sH"), py::arg("sW"), py::arg("reference") = false,
      "Gradient of bed_of_nails_forward: grad_output[:, :, ::sH, ::sW].");
}
