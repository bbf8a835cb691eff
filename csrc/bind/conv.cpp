// Bindings of the conv family (see csrc/conv.h).  4-D arrays only: 1-D convs are reshaped
// to H = 1 in Python.  reference=True runs the plain-loop spec (csrc/ref) instead.
#include <optional>

#include "bind_util.h"
#include "conv.h"

using namespace pycnn;

namespace {

using Vec = std::vector<index_t>;

std::array<index_t, 2> pair(const Vec& v, const char* op, const char* arg) {
  PYCNN_CHECK(v.size() == 2, op, ": ", arg, " must have 2 values, got ", shape_str(v));
  return {v[0], v[1]};
}

// (ph, pw) -> symmetric; (top, bottom, left, right) as is.
std::array<index_t, 4> padding4(const Vec& v, const char* op) {
  PYCNN_CHECK(v.size() == 2 || v.size() == 4, op,
              ": padding must have 2 values or 4 (top, bottom, left, right), got ", shape_str(v));
  if (v.size() == 2) return {v[0], v[0], v[1], v[1]};
  return {v[0], v[1], v[2], v[3]};
}

std::array<index_t, 4> shape4(const py::array& a, const char* op, const char* arg) {
  check_ndim(a, 4, op, arg);
  return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
}

void check_same_dtype(const py::array& ref, const py::array& a, const char* op, const char* arg) {
  if (!a.dtype().is(ref.dtype()))
    throw py::type_error(msg(op, ": ", arg, " dtype ", std::string(py::str(a.dtype())),
                             " differs from the input's ", std::string(py::str(ref.dtype())),
                             " (", arg, " shape ", shape_str(shape_of(a)), ")"));
}

// The optional bias as a C-contiguous array of `channels` entries, or none.
template <typename T>
std::optional<carray<T>> bias_array(const py::object& b, const py::array& x, index_t channels,
                                    const char* op) {
  if (b.is_none()) return std::nullopt;
  py::array arr = py::array::ensure(b);
  PYCNN_CHECK(arr, op, ": bias must be an array or None");
  check_same_dtype(x, arr, op, "bias");
  PYCNN_CHECK(arr.ndim() == 1 && arr.shape(0) == channels, op, ": bias must have shape (",
              channels, ",), got ", shape_str(shape_of(arr)));
  return carray<T>(arr);
}

struct Kernels {
  const char* op;
  bool transposed;
};

// Forward of conv2d or conv_transpose2d given its params (p describes the forward conv).
template <typename T>
py::array forward_py(const Kernels& k, const Conv2dParams& p, const py::array& x_in,
                     const py::array& w_in, const py::object& b_in, bool reference) {
  carray<T> x(x_in), w(w_in);
  const index_t out_c = k.transposed ? p.C_in : p.C_out;
  auto b = bias_array<T>(b_in, x_in, out_c, k.op);
  auto y = k.transposed ? new_array<T>({p.N, p.C_in, p.H, p.W})
                        : new_array<T>({p.N, p.C_out, p.H_out, p.W_out});
  const T* X = x.data();
  const T* Wt = w.data();
  const T* B = b ? b->data() : nullptr;
  T* Y = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    if (k.transposed)
      (reference ? conv_transpose2d_forward_ref<T> : conv_transpose2d_forward_cpu<T>)(Y, X, Wt, B, p);
    else
      (reference ? conv2d_forward_ref<T> : conv2d_forward_cpu<T>)(Y, X, Wt, B, p);
  }
  return y;
}

template <typename T>
py::tuple backward_py(const Kernels& k, const Conv2dParams& p, const py::array& dy_in,
                      const py::array& x_in, const py::array& w_in, bool need_x, bool need_w,
                      bool need_b, bool reference) {
  check_same_dtype(x_in, dy_in, k.op, "grad_output");
  const Vec y_shape = k.transposed ? Vec{p.N, p.C_in, p.H, p.W} : Vec{p.N, p.C_out, p.H_out, p.W_out};
  PYCNN_CHECK(shape_of(dy_in) == y_shape, k.op, ": grad_output ", shape_str(shape_of(dy_in)),
              " does not match the output shape ", shape_str(y_shape));
  carray<T> dy(dy_in), x(x_in), w(w_in);
  const index_t out_c = k.transposed ? p.C_in : p.C_out;
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
    auto a = new_array<T>({out_c});
    DB = a.mutable_data();
    db = a;
  }
  const T* DY = dy.data();
  const T* X = x.data();
  const T* Wt = w.data();
  {
    py::gil_scoped_release nogil;
    if (k.transposed)
      (reference ? conv_transpose2d_backward_ref<T> : conv_transpose2d_backward_cpu<T>)(
          DX, DW, DB, DY, X, Wt, p);
    else
      (reference ? conv2d_backward_ref<T> : conv2d_backward_cpu<T>)(DX, DW, DB, DY, X, Wt, p);
  }
  return py::make_tuple(dx, dw, db);
}

Conv2dParams conv_params(const py::array& x, const py::array& w, const Vec& stride,
                         const Vec& padding, const Vec& dilation, index_t groups) {
  const char* op = "conv2d";
  check_same_dtype(x, w, op, "weight");
  return make_conv2d_params(op, shape4(x, op, "input"), shape4(w, op, "weight"),
                            pair(stride, op, "stride"), padding4(padding, op),
                            pair(dilation, op, "dilation"), groups);
}

Conv2dParams transpose_params(const py::array& x, const py::array& w, const Vec& stride,
                              const Vec& padding, const Vec& output_padding, index_t groups,
                              const Vec& dilation) {
  const char* op = "conv_transpose2d";
  check_same_dtype(x, w, op, "weight");
  return make_conv_transpose2d_params(
      op, shape4(x, op, "input"), shape4(w, op, "weight"), pair(stride, op, "stride"),
      pair(padding, op, "padding"), pair(output_padding, op, "output_padding"), groups,
      pair(dilation, op, "dilation"));
}

const Kernels kConv{"conv2d", false};
const Kernels kTranspose{"conv_transpose2d", true};

}  // namespace

void bind_conv(py::module_& m) {
  m.def(
      "conv2d_forward",
      [](const py::array& x, const py::array& w, const py::object& bias, const Vec& stride,
         const Vec& padding, const Vec& dilation, index_t groups, bool reference) {
        const Conv2dParams p = conv_params(x, w, stride, padding, dilation, groups);
        return float_dispatch(x, "conv2d", "input", [&](auto t) {
          return forward_py<decltype(t)>(kConv, p, x, w, bias, reference);
        });
      },
      py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = Vec{1, 1}, py::arg("padding") = Vec{0, 0},
      py::arg("dilation") = Vec{1, 1}, py::arg("groups") = 1, py::arg("reference") = false,
      "y = conv2d(x, w) + b for x (N, C_in, H, W), w (C_out, C_in/groups, kH, kW); padding is "
      "(ph, pw) or (top, bottom, left, right).");
  m.def(
      "conv2d_backward",
      [](const py::array& grad_output, const py::array& x, const py::array& w, const Vec& stride,
         const Vec& padding, const Vec& dilation, index_t groups, bool input_grad,
         bool weight_grad, bool bias_grad, bool reference) {
        const Conv2dParams p = conv_params(x, w, stride, padding, dilation, groups);
        return float_dispatch(x, "conv2d", "input", [&](auto t) {
          return backward_py<decltype(t)>(kConv, p, grad_output, x, w, input_grad, weight_grad,
                                          bias_grad, reference);
        });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("stride") = Vec{1, 1},
      py::arg("padding") = Vec{0, 0}, py::arg("dilation") = Vec{1, 1}, py::arg("groups") = 1,
      py::arg("input_grad") = true, py::arg("weight_grad") = true, py::arg("bias_grad") = true,
      py::arg("reference") = false,
      "(grad_input, grad_weight, grad_bias) of conv2d; a grad not asked for is None.");
  m.def(
      "conv_transpose2d_forward",
      [](const py::array& x, const py::array& w, const py::object& bias, const Vec& stride,
         const Vec& padding, const Vec& output_padding, index_t groups, const Vec& dilation,
         bool reference) {
        const Conv2dParams p = transpose_params(x, w, stride, padding, output_padding, groups, dilation);
        return float_dispatch(x, "conv_transpose2d", "input", [&](auto t) {
          return forward_py<decltype(t)>(kTranspose, p, x, w, bias, reference);
        });
      },
      py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
      py::arg("stride") = Vec{1, 1}, py::arg("padding") = Vec{0, 0},
      py::arg("output_padding") = Vec{0, 0}, py::arg("groups") = 1,
      py::arg("dilation") = Vec{1, 1}, py::arg("reference") = false,
      "Transposed conv2d (the input-gradient of conv2d) for w (C_in, C_out/groups, kH, kW).");
  m.def(
      "conv_transpose2d_backward",
      [](const py::array& grad_output, const py::array& x, const py::array& w, const Vec& stride,
         const Vec& padding, const Vec& output_padding, index_t groups, const Vec& dilation,
         bool input_grad, bool weight_grad, bool bias_grad, bool reference) {
        const Conv2dParams p = transpose_params(x, w, stride, padding, output_padding, groups, dilation);
        return float_dispatch(x, "conv_transpose2d", "input", [&](auto t) {
          return backward_py<decltype(t)>(kTranspose, p, grad_output, x, w, input_grad,
                                          weight_grad, bias_grad, reference);
        });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("stride") = Vec{1, 1},
      py::arg("padding") = Vec{0, 0}, py::arg("output_padding") = Vec{0, 0},
      py::arg("groups") = 1, py::arg("dilation") = Vec{1, 1}, py::arg("input_grad") = true,
      py::arg("weight_grad") = true, py::arg("bias_grad") = true, py::arg("reference") = false,
      "(grad_input, grad_weight, grad_bias) of conv_transpose2d; a grad not asked for is None.");
}
