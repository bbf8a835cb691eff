// Validation of the pad family (pad.h): every rule once, for every backend.
#include "pad.h"

namespace pycnn {

Pad2dParams make_pad2d_params(const char* op, const std::array<index_t, 4>& x,
                              const std::array<index_t, 4>& padding, PadMode mode) {
  const char* name = pad_mode_name(mode);
  for (index_t s : x)
    PYCNN_CHECK(s >= 0, op, ": input has a negative size (", x[0], ", ", x[1], ", ", x[2], ", ", x[3], ")");
  Pad2dParams p;
  p.N = x[0], p.C = x[1], p.H = x[2], p.W = x[3];
  p.pad_top = padding[0], p.pad_bottom = padding[1], p.pad_left = padding[2], p.pad_right = padding[3];
  p.mode = mode;
  PYCNN_CHECK(p.pad_left >= 0 && p.pad_right >= 0 && p.pad_top >= 0 && p.pad_bottom >= 0, op, ": ", name,
              " padding must be non-negative, got (left, right, top, bottom) = (", p.pad_left, ", ", p.pad_right,
              ", ", p.pad_top, ", ", p.pad_bottom, ")");
  PYCNN_CHECK(p.H >= 1 && p.W >= 1, op, ": ", name, " padding needs non-empty padded dims, got ",
              p.H == 1 && p.pad_top == 0 && p.pad_bottom == 0 ? msg("a length ", p.W) : msg("(H, W) = (", p.H, ", ", p.W, ")"));
  const index_t sizes[2] = {p.H, p.W};
  const index_t lo[2] = {p.pad_top, p.pad_left}, hi[2] = {p.pad_bottom, p.pad_right};
  const char* dim[2] = {"-2 (H)", "-1 (W)"};
  for (int d = 0; d < 2; ++d) {
    if (mode == PadMode::reflect)
      PYCNN_CHECK(lo[d] < sizes[d] && hi[d] < sizes[d], op, ": reflect padding (", lo[d], ", ", hi[d],
                  ") must be smaller than the input size ", sizes[d], " of dim ", dim[d]);
    if (mode == PadMode::circular)
      PYCNN_CHECK(lo[d] <= sizes[d] && hi[d] <= sizes[d], op, ": circular padding (", lo[d], ", ", hi[d],
                  ") must be at most the input size ", sizes[d], " of dim ", dim[d]);
  }
  // replicate has no limit on the pads: the output size is overflow-checked
  const index_t h_out = checked_add(p.H, checked_add(p.pad_top, p.pad_bottom, op, "the padding"), op, "the output size");
  const index_t w_out = checked_add(p.W, checked_add(p.pad_left, p.pad_right, op, "the padding"), op, "the output size");
  checked_numel({p.N, p.C, h_out, w_out}, op, "the output size");
  return p;
}

}  // namespace pycnn
