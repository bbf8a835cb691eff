// Validation and output sizes of the pool family (pool.h): every rule once, for every backend.
#include "pool.h"

namespace pycnn {

namespace {

void check_input(const OpInfo& op, const std::array<index_t, 4>& x, bool need_plane) {
  for (index_t s : x)
    PYCNN_CHECK(s >= 0, op, ": input has a negative size ", shape4_str(op, x.data()));
  PYCNN_CHECK(!need_plane || (x[2] > 0 && x[3] > 0), op, ": input ", shape4_str(op, x.data()),
              op.spatial == 1 ? " has an empty length" : " has an empty plane");
}

// PyTorch's pooling_output_shape in overflow-checked arithmetic (may be <= 0: callers check).
index_t pool_out_size(const OpInfo& op, index_t L, index_t k, index_t s, index_t p, index_t d,
                      bool ceil_mode) {
  const index_t span = checked_mul(d, k - 1, op.name, "the dilated kernel size");
  index_t num = checked_add(L, checked_mul(2, p, op.name, "the padding"), op.name, "the padded input size");
  num = num - span - 1 + (ceil_mode ? s - 1 : 0);
  index_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (out - 1) * s >= L + p) --out;
  return out;
}

// Whether the window of output o has a tap inside [0, L) (with dilation it may not).
bool window_has_tap(index_t o, index_t L, index_t k, index_t s, index_t p, index_t d) {
  return max_pool_taps(o, L, k, s, p, d).n > 0;
}

}  // namespace

Pool2dParams make_pool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                std::array<index_t, 2> kernel, std::array<index_t, 2> stride,
                                std::array<index_t, 2> padding, std::array<index_t, 2> dilation,
                                bool ceil_mode, bool max_pool, bool count_include_pad,
                                std::optional<index_t> divisor_override) {
  check_input(op, x_shape, true);
  const auto xs = shape4_str(op, x_shape.data());
  const auto pr = [&](const std::array<index_t, 2>& a) { return pair_str(op, a[0], a[1]); };
  for (int a = 0; a < 2; ++a) {
    PYCNN_CHECK(kernel[a] > 0, op, ": kernel_size must be positive, got ", pr(kernel), " for input ", xs);
    PYCNN_CHECK(stride[a] > 0, op, ": stride must be positive, got ", pr(stride), " for input ", xs);
    PYCNN_CHECK(dilation[a] > 0, op, ": dilation must be positive, got ", pr(dilation), " for input ", xs);
    PYCNN_CHECK(padding[a] >= 0 && padding[a] <= kernel[a] / 2, op,
                ": padding must be non-negative and at most half the kernel size, got padding ",
                pr(padding), " for kernel_size ", pr(kernel));
  }
  Pool2dParams p;
  p.N = x_shape[0], p.C = x_shape[1], p.H = x_shape[2], p.W = x_shape[3];
  p.kH = kernel[0], p.kW = kernel[1], p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = padding[0], p.pad_left = padding[1];
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  PYCNN_CHECK(!divisor_override || *divisor_override != 0, op, ": divisor_override must be non-zero (input ", xs, ")");
  p.divisor_override = divisor_override.value_or(0);
  p.H_out = pool_out_size(op, p.H, p.kH, p.stride_h, p.pad_top, p.dilation_h, ceil_mode);
  p.W_out = pool_out_size(op, p.W, p.kW, p.stride_w, p.pad_left, p.dilation_w, ceil_mode);
  // (a negative size is printed as 0: the raw value can be a huge negative from extreme arguments)
  PYCNN_CHECK(p.H_out >= 1 && p.W_out >= 1, op, ": output size ",
              pair_str(op, std::max<index_t>(p.H_out, 0), std::max<index_t>(p.W_out, 0)),
              " is too small: kernel_size ", pr(kernel), " with dilation ", pr(dilation),
              " is larger than the padded input ", xs, " (padding ", pr(padding), ")");
  checked_numel({p.N, p.C, p.H_out, p.W_out}, op.name, "the output size");
  if (max_pool) {
    for (index_t o = 0; o < p.H_out; ++o)
      PYCNN_CHECK(window_has_tap(o, p.H, p.kH, p.stride_h, p.pad_top, p.dilation_h), op,
                  ": the window of output row ", o, " lies entirely in the padding (input ", xs,
                  ", kernel_size ", pr(kernel), ", dilation ", pr(dilation), ", padding ", pr(padding), ")");
    for (index_t o = 0; o < p.W_out; ++o)
      PYCNN_CHECK(window_has_tap(o, p.W, p.kW, p.stride_w, p.pad_left, p.dilation_w), op,
                  ": the window of output ", op.spatial == 1 ? "position " : "column ", o,
                  " lies entirely in the padding (input ", xs, ", kernel_size ", pr(kernel),
                  ", dilation ", pr(dilation), ", padding ", pr(padding), ")");
  }
  return p;
}

Pool2dParams make_adaptive_pool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                         std::array<index_t, 2> output_size) {
  check_input(op, x_shape, true);
  PYCNN_CHECK(output_size[0] >= 0 && output_size[1] >= 0, op, ": output_size must be non-negative, got ",
              pair_str(op, output_size[0], output_size[1]), " for input ", shape4_str(op, x_shape.data()));
  Pool2dParams p;
  p.N = x_shape[0], p.C = x_shape[1], p.H = x_shape[2], p.W = x_shape[3];
  p.H_out = output_size[0], p.W_out = output_size[1];
  p.adaptive = true;
  checked_numel({p.N, p.C, p.H_out, p.W_out}, op.name, "the output size");
  return p;
}

Pool2dParams make_max_unpool2d_params(const OpInfo& op, const std::array<index_t, 4>& x_shape,
                                      std::array<index_t, 2> kernel, std::array<index_t, 2> stride,
                                      std::array<index_t, 2> padding,
                                      std::optional<std::array<index_t, 2>> output_size) {
  check_input(op, x_shape, false);
  const auto xs = shape4_str(op, x_shape.data());
  const auto pr = [&](const std::array<index_t, 2>& a) { return pair_str(op, a[0], a[1]); };
  for (int a = 0; a < 2; ++a) {
    PYCNN_CHECK(kernel[a] > 0, op, ": kernel_size must be positive, got ", pr(kernel), " (input ", xs, ")");
    PYCNN_CHECK(stride[a] > 0, op, ": stride must be positive, got ", pr(stride), " (input ", xs, ")");
    PYCNN_CHECK(padding[a] >= 0, op, ": padding must be non-negative, got ", pr(padding), " (input ", xs, ")");
  }
  // (L-1)s - 2p + k, overflow-checked
  std::array<index_t, 2> dflt;
  for (int a = 0; a < 2; ++a) {
    const index_t span = checked_mul(x_shape[2 + a] - 1, stride[a], op.name, "the output size");
    dflt[a] = checked_add(span, kernel[a] - checked_mul(2, padding[a], op.name, "the padding"), op.name,
                          "the output size");
  }
  std::array<index_t, 2> size = dflt;
  if (output_size) {
    size = *output_size;
    for (int a = (op.spatial == 1 ? 1 : 0); a < 2; ++a)
      PYCNN_CHECK(dflt[a] - stride[a] < size[a] && size[a] < dflt[a] + stride[a], op,
                  ": invalid output_size ", pr(size), " (dim ", op.spatial == 1 ? 0 : a,
                  " must be between ", dflt[a] - stride[a], " and ", dflt[a] + stride[a],
                  ", exclusive, for input ", xs, ", kernel_size ", pr(kernel), ", stride ",
                  pr(stride), ", padding ", pr(padding), ")");
  }
  PYCNN_CHECK(size[0] >= 1 && size[1] >= 1, op, ": output size ", pr(size), " must be positive (input ",
              xs, ", kernel_size ", pr(kernel), ", stride ", pr(stride), ", padding ", pr(padding), ")");
  Pool2dParams p;
  p.N = x_shape[0], p.C = x_shape[1], p.H = x_shape[2], p.W = x_shape[3];
  p.kH = kernel[0], p.kW = kernel[1], p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_top = padding[0], p.pad_left = padding[1];
  p.H_out = size[0], p.W_out = size[1];
  checked_numel({p.N, p.C, p.H_out, p.W_out}, op.name, "the output size");
  return p;
}

}  // namespace pycnn
