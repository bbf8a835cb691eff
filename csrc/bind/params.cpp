// The params layer as Python sees it: one constructor per op family (csrc/params, where every
// validation rule lives) returning its Params struct, whose shapes tell the caller what to
// allocate.  Compiled into every native module (pycnn._C and the CUDA modules), so each backend's
// Python glue builds params the same way and hands them back to its own kernels.  The classes
// are module-local: each module registers its own copy of the same C++ types.
#include "bind_params.h"

#include "conv.h"
#include "norm.h"
#include "pad.h"
#include "pool.h"
#include "upsample.h"

namespace pycnn {

namespace {

using A2 = std::array<index_t, 2>;
using A4 = std::array<index_t, 4>;

template <size_t K>
std::array<index_t, K> fixed(const Shape& v, const char* op, const char* arg) {
  PYCNN_CHECK(v.size() == K, op, ": ", arg, " must have ", K, " values, got ", shape_str(v));
  std::array<index_t, K> a;
  for (size_t i = 0; i < K; ++i) a[i] = v[i];
  return a;
}

py::tuple tup(std::initializer_list<index_t> v) {
  py::tuple t(v.size());
  size_t i = 0;
  for (index_t x : v) t[i++] = x;
  return t;
}

std::optional<Shape> opt_shape(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  return o.cast<Shape>();
}

}  // namespace

void bind_params(py::module_& m) {
  py::class_<Pool2dParams>(m, "Pool2dParams", py::module_local())
      .def_readonly("N", &Pool2dParams::N).def_readonly("C", &Pool2dParams::C)
      .def_readonly("H", &Pool2dParams::H).def_readonly("W", &Pool2dParams::W)
      .def_readonly("kH", &Pool2dParams::kH).def_readonly("kW", &Pool2dParams::kW)
      .def_readonly("stride_h", &Pool2dParams::stride_h).def_readonly("stride_w", &Pool2dParams::stride_w)
      .def_readonly("pad_top", &Pool2dParams::pad_top).def_readonly("pad_left", &Pool2dParams::pad_left)
      .def_readonly("dilation_h", &Pool2dParams::dilation_h).def_readonly("dilation_w", &Pool2dParams::dilation_w)
      .def_readonly("ceil_mode", &Pool2dParams::ceil_mode)
      .def_readonly("adaptive", &Pool2dParams::adaptive)
      .def_readonly("count_include_pad", &Pool2dParams::count_include_pad)
      .def_readonly("divisor_override", &Pool2dParams::divisor_override)
      .def_readonly("H_out", &Pool2dParams::H_out).def_readonly("W_out", &Pool2dParams::W_out)
      .def_property_readonly("in_shape", [](const Pool2dParams& p) { return tup({p.N, p.C, p.H, p.W}); })
      .def_property_readonly("out_shape", [](const Pool2dParams& p) { return tup({p.N, p.C, p.H_out, p.W_out}); });
  m.def(
      "pool2d_params",
      [](const std::string& op, int spatial, const Shape& x, const Shape& kernel, const Shape& stride,
         const Shape& padding, const Shape& dilation, bool ceil_mode, bool max_pool, bool count_include_pad,
         std::optional<index_t> divisor_override) {
        const char* o = op.c_str();
        return make_pool2d_params(OpInfo(o, spatial), fixed<4>(x, o, "input shape"), fixed<2>(kernel, o, "kernel_size"),
                                  fixed<2>(stride, o, "stride"), fixed<2>(padding, o, "padding"),
                                  fixed<2>(dilation, o, "dilation"), ceil_mode, max_pool, count_include_pad,
                                  divisor_override);
      },
      py::arg("op"), py::arg("spatial"), py::arg("x_shape"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("max_pool"),
      py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
      "Validated max/avg pool params for an (N, C, H, W) input (csrc/pool.h).");
  m.def(
      "adaptive_pool2d_params",
      [](const std::string& op, int spatial, const Shape& x, const Shape& output_size) {
        return make_adaptive_pool2d_params(OpInfo(op.c_str(), spatial), fixed<4>(x, op.c_str(), "input shape"),
                                           fixed<2>(output_size, op.c_str(), "output_size"));
      },
      py::arg("op"), py::arg("spatial"), py::arg("x_shape"), py::arg("output_size"));
  m.def(
      "max_unpool2d_params",
      [](const std::string& op, int spatial, const Shape& x, const Shape& kernel, const Shape& stride,
         const Shape& padding, const std::optional<Shape>& output_size) {
        const char* o = op.c_str();
        std::optional<A2> size;
        if (output_size) size = fixed<2>(*output_size, o, "output_size");
        return make_max_unpool2d_params(OpInfo(o, spatial), fixed<4>(x, o, "input shape"), fixed<2>(kernel, o, "kernel_size"),
                                        fixed<2>(stride, o, "stride"), fixed<2>(padding, o, "padding"), size);
      },
      py::arg("op"), py::arg("spatial"), py::arg("x_shape"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("output_size") = py::none());
  py::class_<Conv2dParams>(m, "Conv2dParams", py::module_local())
      .def_readonly("N", &Conv2dParams::N).def_readonly("C_in", &Conv2dParams::C_in)
      .def_readonly("H", &Conv2dParams::H).def_readonly("W", &Conv2dParams::W)
      .def_readonly("C_out", &Conv2dParams::C_out).def_readonly("kH", &Conv2dParams::kH)
      .def_readonly("kW", &Conv2dParams::kW)
      .def_readonly("stride_h", &Conv2dParams::stride_h).def_readonly("stride_w", &Conv2dParams::stride_w)
      .def_readonly("pad_top", &Conv2dParams::pad_top).def_readonly("pad_bottom", &Conv2dParams::pad_bottom)
      .def_readonly("pad_left", &Conv2dParams::pad_left).def_readonly("pad_right", &Conv2dParams::pad_right)
      .def_readonly("dilation_h", &Conv2dParams::dilation_h).def_readonly("dilation_w", &Conv2dParams::dilation_w)
      .def_readonly("groups", &Conv2dParams::groups)
      .def_readonly("H_out", &Conv2dParams::H_out).def_readonly("W_out", &Conv2dParams::W_out)
      .def_property_readonly("in_shape", [](const Conv2dParams& p) { return tup({p.N, p.C_in, p.H, p.W}); })
      .def_property_readonly("out_shape", [](const Conv2dParams& p) { return tup({p.N, p.C_out, p.H_out, p.W_out}); })
      .def_property_readonly("is_pointwise", &Conv2dParams::is_pointwise)
      .def_property_readonly("is_depthwise", &Conv2dParams::is_depthwise)
      .def_property_readonly("flops", &Conv2dParams::flops);
  m.def(
      "conv2d_params",
      [](const std::string& op, int spatial, const Shape& x, const Shape& w, const py::object& bias,
         const Shape& stride, const Shape& padding, const Shape& dilation, index_t groups) {
        const char* o = op.c_str();
        return make_conv2d_params(OpInfo(o, spatial), fixed<4>(x, o, "input shape"), fixed<4>(w, o, "weight shape"),
                                  opt_shape(bias), fixed<2>(stride, o, "stride"), fixed<4>(padding, o, "padding"),
                                  fixed<2>(dilation, o, "dilation"), groups);
      },
      py::arg("op"), py::arg("spatial"), py::arg("x_shape"), py::arg("w_shape"), py::arg("bias_shape"),
      py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
      "Validated conv2d params; padding is (top, bottom, left, right) (csrc/conv.h).");
  m.def(
      "conv_transpose2d_params",
      [](const std::string& op, int spatial, const Shape& x, const Shape& w, const py::object& bias,
         const Shape& stride, const Shape& padding, const Shape& output_padding, index_t groups,
         const Shape& dilation) {
        const char* o = op.c_str();
        return make_conv_transpose2d_params(OpInfo(o, spatial), fixed<4>(x, o, "input shape"),
                                            fixed<4>(w, o, "weight shape"), opt_shape(bias),
                                            fixed<2>(stride, o, "stride"),
                                            fixed<2>(padding, o, "padding"),
                                            fixed<2>(output_padding, o, "output_padding"), groups,
                                            fixed<2>(dilation, o, "dilation"));
      },
      py::arg("op"), py::arg("spatial"), py::arg("x_shape"), py::arg("w_shape"), py::arg("bias_shape"),
      py::arg("stride"), py::arg("padding"), py::arg("output_padding"), py::arg("groups"), py::arg("dilation"),
      "The params of the forward conv whose input-gradient conv_transpose2d is: in_shape is its output.");
  py::class_<NormParams>(m, "NormParams", py::module_local())
      .def_readonly("N", &NormParams::N).def_readonly("C", &NormParams::C).def_readonly("S", &NormParams::S)
      .def_readonly("G", &NormParams::G).def_readonly("eps", &NormParams::eps)
      .def_property_readonly("view", [](const NormParams& p) { return tup({p.N, p.C, p.S}); });
  const auto shapes = [](const py::object& w, const py::object& b, const py::object& rm, const py::object& rv) {
    return NormTensorShapes{opt_shape(w), opt_shape(b), opt_shape(rm), opt_shape(rv)};
  };
  m.def(
      "batch_norm_params",
      [shapes](const std::string& op, const Shape& x, const py::object& w, const py::object& b, const py::object& rm,
               const py::object& rv, bool training, double eps) {
        return make_batch_norm_params(op.c_str(), x, shapes(w, b, rm, rv), training, eps);
      },
      py::arg("op"), py::arg("x_shape"), py::arg("weight_shape"), py::arg("bias_shape"),
      py::arg("running_mean_shape"), py::arg("running_var_shape"), py::arg("training"), py::arg("eps"),
      "The (N, C, S) view of batch_norm (csrc/norm.h); the *_shape arguments are None for an absent tensor.");
  m.def(
      "instance_norm_params",
      [shapes](const std::string& op, const Shape& x, const py::object& w, const py::object& b, const py::object& rm,
               const py::object& rv, bool use_input_stats, double eps) {
        return make_instance_norm_params(op.c_str(), x, shapes(w, b, rm, rv), use_input_stats, eps);
      },
      py::arg("op"), py::arg("x_shape"), py::arg("weight_shape"), py::arg("bias_shape"),
      py::arg("running_mean_shape"), py::arg("running_var_shape"), py::arg("use_input_stats"), py::arg("eps"),
      "The (1, N*C, S) view instance_norm runs batch_norm's kernels on.");
  m.def(
      "group_norm_params",
      [shapes](const std::string& op, const Shape& x, index_t num_groups, const py::object& w, const py::object& b,
               double eps) {
        return make_group_norm_params(op.c_str(), x, num_groups, shapes(w, b, py::none(), py::none()), eps);
      },
      py::arg("op"), py::arg("x_shape"), py::arg("num_groups"), py::arg("weight_shape"), py::arg("bias_shape"),
      py::arg("eps"));
  m.def(
      "layer_norm_params",
      [shapes](const std::string& op, const Shape& x, const Shape& normalized_shape, const py::object& w,
               const py::object& b, double eps) {
        return make_layer_norm_params(op.c_str(), x, normalized_shape, shapes(w, b, py::none(), py::none()), eps);
      },
      py::arg("op"), py::arg("x_shape"), py::arg("normalized_shape"), py::arg("weight_shape"), py::arg("bias_shape"),
      py::arg("eps"), "The (M, D, 1) view (one group) layer_norm runs group_norm's kernels on.");
  m.def(
      "pixel_norm_params",
      [](const std::string& op, const Shape& x, double eps) { return make_pixel_norm_params(op.c_str(), x, eps); },
      py::arg("op"), py::arg("x_shape"), py::arg("eps"));

  py::class_<PadParams>(m, "PadParams", py::module_local())
      .def_readonly("N", &PadParams::N).def_readonly("C", &PadParams::C)
      .def_property_readonly("padding",  // (front, back, top, bottom, left, right), signed
                             [](const PadParams& p) { return tup({p.d.lo, p.d.hi, p.h.lo, p.h.hi, p.w.lo, p.w.hi}); })
      .def_property_readonly("mode", [](const PadParams& p) { return pad_mode_name(p.mode); })
      .def_property_readonly("in_shape", [](const PadParams& p) { return tup({p.N, p.C, p.d.n, p.h.n, p.w.n}); })
      .def_property_readonly("out_shape",
                             [](const PadParams& p) { return tup({p.N, p.C, p.d.out(), p.h.out(), p.w.out()}); });
  m.def(
      "pad_params",
      [](const std::string& op, const Shape& x, const Shape& padding, const std::string& mode) {
        const char* o = op.c_str();
        return make_pad_params(o, fixed<5>(x, o, "input shape"), fixed<6>(padding, o, "padding"),
                               pad_mode_from_string(mode));
      },
      py::arg("op"), py::arg("x_shape"), py::arg("padding"), py::arg("mode"),
      "Validated reflect/replicate/circular pad params; x_shape is (N, C, D, H, W), padding is (front, back, top, "
      "bottom, left, right), negative to crop (csrc/pad.h).");

  py::class_<UpsampleParams>(m, "UpsampleParams", py::module_local())
      .def_readonly("N", &UpsampleParams::N).def_readonly("C", &UpsampleParams::C)
      .def_property_readonly("D", [](const UpsampleParams& p) { return p.d.in; })
      .def_property_readonly("H", [](const UpsampleParams& p) { return p.h.in; })
      .def_property_readonly("W", [](const UpsampleParams& p) { return p.w.in; })
      .def_property_readonly("D_out", [](const UpsampleParams& p) { return p.d.out; })
      .def_property_readonly("H_out", [](const UpsampleParams& p) { return p.h.out; })
      .def_property_readonly("W_out", [](const UpsampleParams& p) { return p.w.out; })
      .def_property_readonly("scales",  // torch's scale_factor per axis, 0 where none was given
                             [](const UpsampleParams& p) {
                               return py::make_tuple(p.d.scale_factor, p.h.scale_factor, p.w.scale_factor);
                             })
      .def_readonly("align_corners", &UpsampleParams::align_corners)
      .def_property_readonly("mode", [](const UpsampleParams& p) { return upsample_mode_name(p.mode); })
      .def_property_readonly("in_shape", [](const UpsampleParams& p) { return tup({p.N, p.C, p.d.in, p.h.in, p.w.in}); })
      .def_property_readonly("out_shape",
                             [](const UpsampleParams& p) { return tup({p.N, p.C, p.d.out, p.h.out, p.w.out}); });
  m.def(
      "upsample_params",
      [](const std::string& op, const Shape& x, const Shape& output_size, const std::string& mode, bool align_corners,
         const std::vector<std::optional<double>>& scales) {
        const char* o = op.c_str();
        PYCNN_CHECK(scales.size() == 3, o, ": scales must be (scale_d, scale_h, scale_w), got ", scales.size(),
                    " values");
        return make_upsample_params(o, fixed<5>(x, o, "input shape"), fixed<3>(output_size, o, "output size"),
                                    upsample_mode_from_string(mode), align_corners, {scales[0], scales[1], scales[2]});
      },
      py::arg("op"), py::arg("x_shape"), py::arg("output_size"), py::arg("mode"), py::arg("align_corners"),
      py::arg("scales"),
      "Validated interpolate params (csrc/upsample.h); x_shape (N, C, D, H, W), output_size (D_out, H_out, W_out), "
      "scales: torch's scale_factor or None per axis.");

  py::class_<BedOfNailsParams>(m, "BedOfNailsParams", py::module_local())
      .def_readonly("N", &BedOfNailsParams::N).def_readonly("C", &BedOfNailsParams::C)
      .def_readonly("H", &BedOfNailsParams::H).def_readonly("W", &BedOfNailsParams::W)
      .def_readonly("scale_h", &BedOfNailsParams::scale_h).def_readonly("scale_w", &BedOfNailsParams::scale_w)
      .def_property_readonly("in_shape", [](const BedOfNailsParams& p) { return tup({p.N, p.C, p.H, p.W}); })
      .def_property_readonly("out_shape",
                             [](const BedOfNailsParams& p) { return tup({p.N, p.C, p.H_out(), p.W_out()}); });
  m.def(
      "bed_of_nails_params",
      [](const std::string& op, const Shape& x, const Shape& scale) {
        const char* o = op.c_str();
        return make_bed_of_nails_params(o, fixed<4>(x, o, "input shape"), fixed<2>(scale, o, "scale_factor"));
      },
      py::arg("op"), py::arg("x_shape"), py::arg("scale"));
}

}  // namespace pycnn
