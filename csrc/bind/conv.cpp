// Bindings of the conv family (see csrc/conv.h): adapt the arrays, run the kernel on the params
// from conv2d_params / conv_transpose2d_params (which also checked the bias' shape).  4-D arrays
// only: 1-D convs are lifted to H = 1 in Python.  reference=True runs the plain-loop spec.
#include <optional>

#include "bind_util.h"
#include "conv.h"

using namespace pycnn;

namespace {

void check_same_dtype(const py::array& ref, const py::array& a, const char* op, const char* arg) {
  if (!same_dtype(a, ref))
    throw py::type_error(msg(op, ": ", arg, " dtype ", std::string(py::str(a.dtype())), " differs from the input's ",
                             std::string(py::str(ref.dtype())), " (", arg, " shape ", shape_str(shape_of(a)), ")"));
}

// Which of the pair: conv2d (x is p's input, y its output) or conv_transpose2d (the reverse:
// x is p's output, y p's input).  The weight is (C_out, C_in/g, kH, kW) for both, in p's names.
struct Kernels {
  const char* op;
  bool transposed;
  Shape x_shape(const Conv2dParams& p) const {
    return transposed ? Shape{p.N, p.C_out, p.H_out, p.W_out} : Shape{p.N, p.C_in, p.H, p.W};
  }
  Shape y_shape(const Conv2dParams& p) const {
    return transposed ? Shape{p.N, p.C_in, p.H, p.W} : Shape{p.N, p.C_out, p.H_out, p.W_out};
  }
  Shape w_shape(const Conv2dParams& p) const {
    return transposed ? Shape{p.C_out, p.C_in / p.groups, p.kH, p.kW} : Shape{p.C_out, p.cin_g(), p.kH, p.kW};
  }
};
const Kernels kConv{"conv2d", false};
const Kernels kTranspose{"conv_transpose2d", true};

void check_arrays(const Kernels& k, const Conv2dParams& p, const py::array& x, const py::array& w) {
  check_same_dtype(x, w, k.op, "weight");
  check_shape(x, k.x_shape(p), k.op, "input");
  check_shape(w, k.w_shape(p), k.op, "weight");
}

template <typename T>
py::array forward(const Kernels& k, const Conv2dParams& p, const py::array& x_in, const py::array& w_in,
                  const py::object& b_in, bool relu, bool reference) {
  check_arrays(k, p, x_in, w_in);
  PYCNN_CHECK(!relu || !k.transposed, k.op, ": relu=True is only fused into conv2d's forward");
  carray<T> x(x_in), w(w_in);
  std::optional<carray<T>> b;
  if (!b_in.is_none()) {
    py::array arr = py::array::ensure(b_in);
    PYCNN_CHECK(arr, k.op, ": bias must be an array or None");
    check_same_dtype(x_in, arr, k.op, "bias");
    check_shape(arr, {k.y_shape(p)[1]}, k.op, "bias");
    b = carray<T>(arr);
  }
  auto y = new_array<T>(k.y_shape(p));
  const T* X = x.data();
  const T* Wt = w.data();
  const T* B = b ? b->data() : nullptr;
  T* Y = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    if (k.transposed)
      (reference ? conv_transpose2d_forward_ref<T> : conv_transpose2d_forward_cpu<T>)(Y, X, Wt, B, p);
    else
      (reference ? conv2d_forward_ref<T> : conv2d_forward_cpu<T>)(Y, X, Wt, B, p, relu);
  }
  return y;
}

template <typename T>
py::tuple backward(const Kernels& k, const Conv2dParams& p, const py::array& dy_in, const py::array& x_in,
                   const py::array& w_in, bool need_x, bool need_w, bool need_b, bool reference) {
  check_arrays(k, p, x_in, w_in);
  check_same_dtype(x_in, dy_in, k.op, "grad_output");
  PYCNN_CHECK(shape_of(dy_in) == k.y_shape(p), k.op, ": grad_output ", shape_str(shape_of(dy_in)),
              " does not match the output shape ", shape_str(k.y_shape(p)));
  carray<T> dy(dy_in), x(x_in), w(w_in);
  py::object dx = py::none(), dw = py::none(), db = py::none();
  T *DX = nullptr, *DW = nullptr, *DB = nullptr;
  if (need_x) {
    auto a = new_array<T>(shape_of(x_in));
    DX = a.mutable_data();
    dx = a;
  }
  if (need_w) {
    auto a = new_array<T>(shape_of(w_in));
    DW = a.mutable_data();
    dw = a;
  }
  if (need_b) {
    auto a = new_array<T>({k.y_shape(p)[1]});
    DB = a.mutable_data();
    db = a;
  }
  const T* DY = dy.data();
  const T* X = x.data();
  const T* Wt = w.data();
  {
    py::gil_scoped_release nogil;
    if (k.transposed)
      (reference ? conv_transpose2d_backward_ref<T> : conv_transpose2d_backward_cpu<T>)(DX, DW, DB, DY, X, Wt, p);
    else
      (reference ? conv2d_backward_ref<T> : conv2d_backward_cpu<T>)(DX, DW, DB, DY, X, Wt, p);
  }
  return py::make_tuple(dx, dw, db);
}

void bind_pair(py::module_& m, const Kernels& k) {
  m.def(
      (std::string(k.op) + "_forward").c_str(),
      [&k](const py::array& x, const py::array& w, const py::object& bias, const Conv2dParams& p, bool relu,
           bool reference) {
        return float_dispatch(x, k.op, "input",
                              [&](auto t) { return forward<decltype(t)>(k, p, x, w, bias, relu, reference); });
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("params"), py::arg("relu") = false,
      py::arg("reference") = false,
      k.transposed ? "Transposed conv2d (the input-gradient of conv2d) for w (C_in, C_out/groups, kH, kW)."
                   : "y = conv2d(x, w) + b for x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW); relu: "
                     "relu(y) in the bias pass (inference-time fusion with a following ReLU).");
  m.def(
      (std::string(k.op) + "_backward").c_str(),
      [&k](const py::array& dy, const py::array& x, const py::array& w, const Conv2dParams& p, bool input_grad,
           bool weight_grad, bool bias_grad, bool reference) {
        return float_dispatch(x, k.op, "input", [&](auto t) {
          return backward<decltype(t)>(k, p, dy, x, w, input_grad, weight_grad, bias_grad, reference);
        });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("params"), py::arg("input_grad") = true,
      py::arg("weight_grad") = true, py::arg("bias_grad") = true, py::arg("reference") = false,
      "(grad_input, grad_weight, grad_bias); a grad not asked for is None.");
}

}  // namespace

void bind_conv(py::module_& m) {
  bind_pair(m, kConv);
  bind_pair(m, kTranspose);
  m.def("set_conv_winograd", &pycnn::set_conv_winograd, py::arg("enabled"),
        "Allow (True, the default) or forbid the CPU conv's Winograd F(2x2, 3x3) path, process-wide.");
  m.def("conv_winograd", &pycnn::conv_winograd, "Whether the CPU conv may take the Winograd path.");
}
