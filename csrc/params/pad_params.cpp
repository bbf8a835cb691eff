// Validation of the pad family (pad.h): every rule once, for every backend.
#include "pad.h"

namespace pycnn {

PadParams make_pad_params(const char* op, const std::array<index_t, 5>& x, const std::array<index_t, 6>& padding,
                          PadMode mode) {
  const char* name = pad_mode_name(mode);
  for (index_t s : x)
    PYCNN_CHECK(s >= 0, op, ": input has a negative size (", x[0], ", ", x[1], ", ", x[2], ", ", x[3], ", ", x[4],
                ")");
  PadParams p;
  p.N = x[0], p.C = x[1], p.mode = mode;
  PadAxis* axes[3] = {&p.d, &p.h, &p.w};
  const char* dim[3] = {"-3 (D)", "-2 (H)", "-1 (W)"};
  for (int a = 0; a < 3; ++a) *axes[a] = PadAxis{x[2 + a], padding[2 * a], padding[2 * a + 1]};
  // (the dims a 1-D / 2-D pad leaves alone are size-1 stand-ins with no pad: they pass every rule)
  for (int a = 0; a < 3; ++a) {
    const PadAxis& ax = *axes[a];
    PYCNN_CHECK(ax.n >= 1, op, ": ", name, " padding needs non-empty padded dims, got size ", ax.n, " in dim ",
                dim[a]);
    if (mode == PadMode::reflect)
      PYCNN_CHECK(ax.lo < ax.n && ax.hi < ax.n, op, ": reflect padding (", ax.lo, ", ", ax.hi,
                  ") must be smaller than the input size ", ax.n, " of dim ", dim[a]);
    if (mode == PadMode::circular) {
      PYCNN_CHECK(ax.period() >= 1, op, ": circular padding (", ax.lo, ", ", ax.hi, ") crops all of the input size ",
                  ax.n, " of dim ", dim[a]);
      PYCNN_CHECK(ax.pad_lo() <= ax.period() && ax.pad_hi() <= ax.period(), op, ": circular padding (", ax.lo, ", ",
                  ax.hi, ") must be at most the input size ", ax.period(),
                  ax.crop_lo() || ax.crop_hi() ? " left by its crop" : "", " of dim ", dim[a]);
    }
    // replicate has no limit on the pads; a crop may not empty the dim (torch: "input is too small")
    const index_t out = checked_add(ax.n, checked_add(ax.lo, ax.hi, op, "the padding"), op, "the output size");
    PYCNN_CHECK(out >= 1, op, ": ", name, " padding (", ax.lo, ", ", ax.hi, ") leaves no output of the input size ",
                ax.n, " of dim ", dim[a], " (the padded size is ", out, ")");
  }
  checked_numel({p.N, p.C, p.d.out(), p.h.out(), p.w.out()}, op, "the output size");
  return p;
}

}  // namespace pycnn
