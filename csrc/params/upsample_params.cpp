// Validation of the upsample family (upsample.h): every rule once, for every backend.
#include <cmath>

#include "upsample.h"

namespace pycnn {

UpsampleParams make_upsample_params(const char* op, const std::array<index_t, 5>& x,
                                    std::array<index_t, 3> output_size, UpsampleMode mode, bool align_corners,
                                    std::array<std::optional<double>, 3> scales) {
  PYCNN_CHECK(x[0] >= 0 && x[1] >= 0, op, ": batch/channel sizes must be >= 0, got N=", x[0], " C=", x[1]);
  PYCNN_CHECK(!align_corners || mode == UpsampleMode::linear || mode == UpsampleMode::cubic, op,
              ": align_corners can only be set with the linear and cubic modes, got mode '", upsample_mode_name(mode),
              "'");
  UpsampleParams p;
  p.mode = mode;
  p.align_corners = align_corners;
  p.N = x[0], p.C = x[1];
  UpsampleAxis* axes[3] = {&p.d, &p.h, &p.w};
  for (int a = 0; a < 3; ++a) {
    PYCNN_CHECK(!scales[a] || (*scales[a] > 0 && std::isfinite(*scales[a])), op,
                ": scale factors must be positive and finite, got ", *scales[a]);
    *axes[a] = UpsampleAxis{x[2 + a], output_size[a], scales[a].value_or(0.0)};
  }
  PYCNN_CHECK(p.d.in > 0 && p.h.in > 0 && p.w.in > 0 && p.d.out > 0 && p.h.out > 0 && p.w.out > 0, op,
              ": input and output sizes should be greater than 0, got input (D: ", p.d.in, ", H: ", p.h.in, ", W: ",
              p.w.in, ") output (D: ", p.d.out, ", H: ", p.h.out, ", W: ", p.w.out, ")");
  checked_numel({p.N, p.C, p.d.out, p.h.out, p.w.out}, op, "the output size");
  return p;
}

BedOfNailsParams make_bed_of_nails_params(const char* op, const std::array<index_t, 4>& x,
                                          std::array<index_t, 2> scale) {
  PYCNN_CHECK(x[0] >= 0 && x[1] >= 0 && x[2] >= 0 && x[3] >= 0, op, ": sizes must be >= 0, got (", x[0], ", ",
              x[1], ", ", x[2], ", ", x[3], ")");
  PYCNN_CHECK(scale[0] >= 1 && scale[1] >= 1, op, ": scale_factor must be positive integers, got (", scale[0],
              ", ", scale[1], ")");
  BedOfNailsParams p;
  p.N = x[0], p.C = x[1], p.H = x[2], p.W = x[3];
  p.scale_h = scale[0], p.scale_w = scale[1];
  checked_numel({p.N, p.C, checked_mul(p.H, p.scale_h, op, "the output size"),
                 checked_mul(p.W, p.scale_w, op, "the output size")},
                op, "the output size");
  return p;
}

}  // namespace pycnn
