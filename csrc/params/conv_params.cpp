// Validation and output sizes of the conv family (conv.h): every rule once, for every backend.
#include "conv.h"

namespace pycnn {

namespace {

// The user's view of a (N, C, H, W) input or (C_out, C_in/g, kH, kW) weight.
std::string shp(const OpInfo& op, const std::array<index_t, 4>& s) { return shape4_str(op, s.data()); }
std::string tup(const OpInfo& op, const std::array<index_t, 2>& s) { return pair_str(op, s[0], s[1]); }
// The kernel's size as "kHxkW" (2-D) or "k" (1-D).
// (top, bottom, left, right) as the user's (top, bottom, left, right) or (left, right).
std::string pad_str(const OpInfo& op, const std::array<index_t, 4>& p) {
  return op.spatial == 1 ? shape_str({p[2], p[3]}) : shape_str({p[0], p[1], p[2], p[3]});
}
std::string extent(const OpInfo& op, index_t h, index_t w) {
  return op.spatial == 1 ? msg(w) : msg(h, "x", w);
}

void check_hyper(const OpInfo& op, const std::array<index_t, 2>& stride,
                 const std::array<index_t, 2>& dilation, index_t groups,
                 const std::array<index_t, 4>& x, const std::array<index_t, 4>& w) {
  for (int a = 0; a < 4; ++a) {
    PYCNN_CHECK(x[a] >= 0, op, ": input has a negative size ", shp(op, x));
    PYCNN_CHECK(w[a] >= 0, op, ": weight has a negative size ", shp(op, w));
  }
  PYCNN_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", tup(op, stride),
              " (input ", shp(op, x), ", weight ", shp(op, w), ")");
  PYCNN_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ",
              tup(op, dilation), " (input ", shp(op, x), ", weight ", shp(op, w), ")");
  PYCNN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  PYCNN_CHECK(w[2] > 0 && w[3] > 0, op, ": weight ", shp(op, w), " has an empty kernel");
}

// The im2col matrix, the output and the weight: every buffer a kernel may form, overflow-checked.
void check_buffers(const OpInfo& op, const Conv2dParams& p) {
  checked_numel({p.N, p.C_out, p.H_out, p.W_out}, op.name, "the output size");
  checked_numel({p.N, p.C_in, p.H, p.W}, op.name, "the input size");
  checked_numel({p.cin_g(), p.kH, p.kW, p.H_out, p.W_out}, op.name, "the im2col buffer size");
}

// The optional bias has shape (channels,).
void check_bias(const OpInfo& op, const std::optional<Shape>& bias, index_t channels) {
  PYCNN_CHECK(!bias || (bias->size() == 1 && (*bias)[0] == channels), op, ": bias must have shape (", channels,
              ",), got ", shape_str(*bias));
}

}  // namespace

Conv2dParams make_conv2d_params(const OpInfo& op, const std::array<index_t, 4>& x,
                                const std::array<index_t, 4>& w, const std::optional<Shape>& bias,
                                std::array<index_t, 2> stride,
                                std::array<index_t, 4> padding, std::array<index_t, 2> dilation,
                                index_t groups) {
  check_hyper(op, stride, dilation, groups, x, w);
  PYCNN_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[2] >= 0 && padding[3] >= 0, op,
              ": padding must be non-negative, got ", pad_str(op, padding),
              op.spatial == 1 ? " (left, right)" : " (top, bottom, left, right)");
  PYCNN_CHECK(x[1] % groups == 0 && w[0] % groups == 0, op, ": groups=", groups,
              " must divide both the input channels (input ", shp(op, x),
              ") and the output channels (weight ", shp(op, w), ")");
  PYCNN_CHECK(w[1] * groups == x[1], op, ": weight ", shp(op, w), " expects ", w[1] * groups,
              " input channels (weight.shape[1] * groups=", groups, "), but input ", shp(op, x),
              " has ", x[1]);
  Conv2dParams p;
  p.N = x[0], p.C_in = x[1], p.H = x[2], p.W = x[3];
  p.C_out = w[0], p.kH = w[2], p.kW = w[3];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = padding[0], p.pad_bottom = padding[1], p.pad_left = padding[2], p.pad_right = padding[3];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.groups = groups;
  // The effective kernel d(k-1)+1 and the padded input L + pb + pe, overflow-checked.
  const index_t eff_h = checked_add(checked_mul(p.dilation_h, p.kH - 1, op.name, "the dilated kernel"), 1,
                                    op.name, "the dilated kernel");
  const index_t eff_w = checked_add(checked_mul(p.dilation_w, p.kW - 1, op.name, "the dilated kernel"), 1,
                                    op.name, "the dilated kernel");
  const index_t in_h = checked_add(p.H, checked_add(p.pad_top, p.pad_bottom, op.name, "the padding"),
                                   op.name, "the padded input");
  const index_t in_w = checked_add(p.W, checked_add(p.pad_left, p.pad_right, op.name, "the padding"),
                                   op.name, "the padded input");
  PYCNN_CHECK(eff_h <= in_h && eff_w <= in_w, op, ": the (dilated) kernel ", extent(op, eff_h, eff_w),
              " is larger than the padded input ", extent(op, in_h, in_w), " (input ", shp(op, x),
              ", weight ", shp(op, w), ", padding ", pad_str(op, padding), "): the output size would be <= 0");
  p.H_out = (in_h - eff_h) / p.stride_h + 1;
  p.W_out = (in_w - eff_w) / p.stride_w + 1;
  check_bias(op, bias, p.C_out);
  check_buffers(op, p);
  return p;
}

Conv2dParams make_conv_transpose2d_params(const OpInfo& op, const std::array<index_t, 4>& x,
                                          const std::array<index_t, 4>& w, const std::optional<Shape>& bias,
                                          std::array<index_t, 2> stride,
                                          std::array<index_t, 2> padding,
                                          std::array<index_t, 2> output_padding, index_t groups,
                                          std::array<index_t, 2> dilation) {
  check_hyper(op, stride, dilation, groups, x, w);
  PYCNN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ",
              tup(op, padding));
  for (int i = 0; i < 2; ++i)
    PYCNN_CHECK(output_padding[i] >= 0 &&
                    (output_padding[i] < stride[i] || output_padding[i] < dilation[i]),
                op, ": output_padding ", tup(op, output_padding),
                " must be non-negative and smaller than either the stride ", tup(op, stride),
                " or the dilation ", tup(op, dilation));
  PYCNN_CHECK(x[1] % groups == 0, op, ": groups=", groups, " must divide the input channels (input ",
              shp(op, x), ")");
  PYCNN_CHECK(w[0] == x[1], op, ": weight ", shp(op, w), " must be laid out (C_in, C_out/groups, ",
              op.spatial == 1 ? "k" : "kH, kW", ") with C_in = ", x[1], " as in input ", shp(op, x));
  // PyTorch: an empty spatial dim is allowed only with an empty batch or channel count.
  PYCNN_CHECK((x[2] > 0 && x[3] > 0) || x[0] == 0 || x[1] == 0, op,
              ": only zero batch or zero channel inputs may have an empty spatial dim, got input ",
              shp(op, x));
  Conv2dParams p;
  p.N = x[0], p.C_out = x[1], p.H_out = x[2], p.W_out = x[3];
  p.C_in = checked_mul(w[1], groups, op.name, "the output channels"), p.kH = w[2], p.kW = w[3];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = p.pad_bottom = padding[0], p.pad_left = p.pad_right = padding[1];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.groups = groups;
  // (L-1)s - 2p + d(k-1) + output_padding + 1, overflow-checked
  index_t out[2];
  for (int a = 0; a < 2; ++a) {
    const index_t L = x[2 + a], k = w[2 + a];
    const index_t grow = checked_add(checked_mul(L - 1, stride[a], op.name, "the output size"),
                                     checked_mul(dilation[a], k - 1, op.name, "the output size"), op.name,
                                     "the output size");
    out[a] = checked_add(grow, output_padding[a] + 1, op.name, "the output size") -
             checked_mul(2, padding[a], op.name, "the padding");
  }
  p.H = out[0], p.W = out[1];
  PYCNN_CHECK(p.H > 0 && p.W > 0, op, ": output size <= 0: ", pair_str(op, p.H, p.W), " for input ",
              shp(op, x), ", weight ", shp(op, w), ", stride ", tup(op, stride), ", padding ", tup(op, padding),
              ", output_padding ", tup(op, output_padding), ", dilation ", tup(op, dilation));
  PYCNN_CHECK(p.C_in > 0, op, ": weight ", shp(op, w), " has no output channels");
  check_bias(op, bias, p.C_in);
  check_buffers(op, p);
  return p;
}

}  // namespace pycnn
