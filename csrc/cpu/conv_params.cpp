// Shape validation and output sizes shared by every conv implementation (csrc/conv.h).
#include <vector>

#include "conv.h"

namespace pycnn {

namespace {

std::string shp(const std::array<index_t, 4>& s) {
  return shape_str(std::vector<index_t>(s.begin(), s.end()));
}

template <size_t K>
std::string tup(const std::array<index_t, K>& s) {
  return shape_str(std::vector<index_t>(s.begin(), s.end()));
}

void check_hyper(const char* op, const std::array<index_t, 2>& stride,
                 const std::array<index_t, 2>& dilation, index_t groups,
                 const std::array<index_t, 4>& x, const std::array<index_t, 4>& w) {
  PYCNN_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", tup(stride),
              " (input ", shp(x), ", weight ", shp(w), ")");
  PYCNN_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ",
              tup(dilation), " (input ", shp(x), ", weight ", shp(w), ")");
  PYCNN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  PYCNN_CHECK(w[2] > 0 && w[3] > 0, op, ": weight ", shp(w), " has an empty kernel");
}

}  // namespace

Conv2dParams make_conv2d_params(const char* op, const std::array<index_t, 4>& x,
                                const std::array<index_t, 4>& w, std::array<index_t, 2> stride,
                                std::array<index_t, 4> padding, std::array<index_t, 2> dilation,
                                index_t groups) {
  check_hyper(op, stride, dilation, groups, x, w);
  PYCNN_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[2] >= 0 && padding[3] >= 0, op,
              ": padding must be non-negative, got ", tup(padding), " (top, bottom, left, right)");
  PYCNN_CHECK(x[1] % groups == 0 && w[0] % groups == 0, op, ": groups=", groups,
              " must divide both the input channels (input ", shp(x),
              ") and the output channels (weight ", shp(w), ")");
  PYCNN_CHECK(w[1] * groups == x[1], op, ": weight ", shp(w), " expects ", w[1] * groups,
              " input channels (weight.shape[1] * groups=", groups, "), but input ", shp(x),
              " has ", x[1]);
  Conv2dParams p;
  p.N = x[0], p.C_in = x[1], p.H = x[2], p.W = x[3];
  p.C_out = w[0], p.kH = w[2], p.kW = w[3];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = padding[0], p.pad_bottom = padding[1], p.pad_left = padding[2],
  p.pad_right = padding[3];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.groups = groups;
  p.H_out = conv_out_size(p.H, p.kH, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
  p.W_out = conv_out_size(p.W, p.kW, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
  PYCNN_CHECK(p.H_out > 0 && p.W_out > 0, op, ": the (dilated) kernel ",
              (w[2] - 1) * dilation[0] + 1, "x", (w[3] - 1) * dilation[1] + 1,
              " is larger than the padded input ", p.H + p.pad_top + p.pad_bottom, "x",
              p.W + p.pad_left + p.pad_right, " (input ", shp(x), ", weight ", shp(w),
              ", padding ", tup(padding), "): the output size would be ", p.H_out, "x", p.W_out);
  return p;
}

Conv2dParams make_conv_transpose2d_params(const char* op, const std::array<index_t, 4>& x,
                                          const std::array<index_t, 4>& w,
                                          std::array<index_t, 2> stride,
                                          std::array<index_t, 2> padding,
                                          std::array<index_t, 2> output_padding, index_t groups,
                                          std::array<index_t, 2> dilation) {
  check_hyper(op, stride, dilation, groups, x, w);
  PYCNN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ",
              tup(padding));
  for (int i = 0; i < 2; ++i)
    PYCNN_CHECK(output_padding[i] >= 0 &&
                    (output_padding[i] < stride[i] || output_padding[i] < dilation[i]),
                op, ": output_padding ", tup(output_padding),
                " must be non-negative and smaller than either the stride ", tup(stride),
                " or the dilation ", tup(dilation));
  PYCNN_CHECK(x[1] % groups == 0, op, ": groups=", groups, " must divide the input channels (input ",
              shp(x), ")");
  PYCNN_CHECK(w[0] == x[1], op, ": weight ", shp(w),
              " must be laid out (in_channels, out_channels/groups, kH, kW) with in_channels = ",
              x[1], " as in input ", shp(x));
  Conv2dParams p;
  p.N = x[0], p.C_out = x[1], p.H_out = x[2], p.W_out = x[3];
  p.C_in = w[1] * groups, p.kH = w[2], p.kW = w[3];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = p.pad_bottom = padding[0], p.pad_left = p.pad_right = padding[1];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.groups = groups;
  p.H = conv_transpose_out_size(p.H_out, p.kH, p.stride_h, padding[0], output_padding[0],
                                p.dilation_h);
  p.W = conv_transpose_out_size(p.W_out, p.kW, p.stride_w, padding[1], output_padding[1],
                                p.dilation_w);
  PYCNN_CHECK(p.H > 0 && p.W > 0, op, ": the output size would be ", p.H, "x", p.W,
              " (input ", shp(x), ", weight ", shp(w), ", stride ", tup(stride), ", padding ",
              tup(padding), ", output_padding ", tup(output_padding), ", dilation ",
              tup(dilation), ")");
  PYCNN_CHECK(p.C_in > 0, op, ": weight ", shp(w), " has no output channels");
  return p;
}

}  // namespace pycnn
