// Bindings of the norm family (see csrc/norm.h): adapt the arrays, run the kernels on the (N, C, S)
// view from batch_norm_params / instance_norm_params / group_norm_params / layer_norm_params /
// pixel_norm_params.  The optional tensors come in torch's order (running_mean, running_var,
// weight, bias); their shapes were checked by the params.  Saved statistics are float64 arrays.
// reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "norm.h"

using namespace pycnn;

namespace {

// An optional input of `n` values of x's dtype, or null (TypeError for another dtype: forcecast
// would convert silently).
template <typename T>
struct OptParam {
  carray<T> arr;
  const T* ptr = nullptr;
  OptParam(const py::object& o, index_t n, const char* op, const char* name) {
    if (o.is_none()) return;
    py::array a = py::array::ensure(o);
    PYCNN_CHECK(a, op, ": ", name, " must be an array or None");
    if (!py::isinstance<py::array_t<T>>(a))
      throw py::type_error(msg(op, ": ", name, " dtype ", std::string(py::str(a.dtype())), " differs from the input's"));
    PYCNN_CHECK(a.size() == n, op, ": ", name, " has ", a.size(), " values, its params need ", n);
    arr = carray<T>(a);
    ptr = arr.data();
  }
};

// A running statistic updated in place: a C-contiguous writeable array of `n` values of x's
// dtype (a converted copy would silently drop the update).
template <typename T>
T* running_stat(const py::object& o, index_t n, const char* op, const char* name) {
  if (o.is_none()) return nullptr;
  PYCNN_CHECK(py::isinstance<py::array>(o), op, ": ", name, " must be a numpy array or None");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::isinstance<py::array_t<T>>(a))
    throw py::type_error(msg(op, ": ", name, " dtype ", std::string(py::str(a.dtype())), " differs from the input's"));
  PYCNN_CHECK(a.size() == n, op, ": ", name, " has ", a.size(), " values, its params need ", n);
  PYCNN_CHECK((a.flags() & py::array::c_style) && a.writeable(), op, ": ", name,
              " must be contiguous and writeable (it is updated in place)");
  return static_cast<T*>(a.mutable_data());
}

// x (or dy) holds the params' N*C*S values.
void check_view(const py::array& a, const NormParams& p, const char* op, const char* name) {
  PYCNN_CHECK(a.size() == p.numel(), op, ": ", name, " ", shape_str(shape_of(a)), " has ", a.size(),
              " values, its params' (N, C, S) view (", p.N, ", ", p.C, ", ", p.S, ") needs ", p.numel());
}

// grad_output has input's shape and dtype (forcecast would convert another dtype silently).
void check_same(const py::array& a, const py::array& b, const char* op, const char* an, const char* bn) {
  PYCNN_CHECK(shape_of(a) == shape_of(b), op, ": ", an, " shape ", shape_str(shape_of(a)), " differs from ", bn,
              " shape ", shape_str(shape_of(b)));
  if (!same_dtype(a, b))
    throw py::type_error(msg(op, ": ", an, " dtype ", std::string(py::str(a.dtype())), " differs from ", bn,
                             " dtype ", std::string(py::str(b.dtype())), " (shape ", shape_str(shape_of(a)), ")"));
}

template <typename T>
py::tuple batch_norm_forward(const py::array& x_in, const py::object& running_mean, const py::object& running_var,
                             const py::object& weight, const py::object& bias, const NormParams& p, bool training,
                             double momentum, bool relu, bool reference) {
  const char* op = "batch_norm";
  check_view(x_in, p, op, "input");
  carray<T> x(x_in);
  OptParam<T> g(weight, p.C, op, "weight"), b(bias, p.C, op, "bias");
  T* rm = running_stat<T>(running_mean, p.C, op, "running_mean");
  T* rv = running_stat<T>(running_var, p.C, op, "running_var");
  PYCNN_CHECK(training || (rm && rv), op, ": running_mean and running_var must be given in eval mode");
  auto y = new_array<T>(shape_of(x));
  auto mean = new_array<double>({p.C}), rstd = new_array<double>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &batch_norm_forward_ref<T> : &batch_norm_forward_cpu<T>;
    f(y.mutable_data(), mean.mutable_data(), rstd.mutable_data(), rm, rv, x.data(), g.ptr, b.ptr, p, training,
      momentum, relu);
  }
  return py::make_tuple(y, mean, rstd);
}

template <typename T>
py::tuple batch_norm_backward(const py::array& dy_in, const py::array& x_in, const py::array& mean_in,
                              const py::array& rstd_in, const py::object& weight, const NormParams& p, bool training,
                              const py::object& relu_output, bool reference) {
  const char* op = "batch_norm_backward";
  check_view(x_in, p, op, "input");
  check_same(dy_in, x_in, op, "grad_output", "input");
  carray<T> dy(dy_in), x(x_in), relu_out;
  if (!relu_output.is_none()) {
    PYCNN_CHECK(py::isinstance<py::array>(relu_output), op, ": relu_output must be an array or None");
    check_same(py::reinterpret_borrow<py::array>(relu_output), x_in, op, "relu_output", "input");
    relu_out = carray<T>(relu_output);
  }
  carray<double> mean(mean_in), rstd(rstd_in);
  PYCNN_CHECK(mean.size() == p.C && rstd.size() == p.C, op, ": save_mean / save_rstd must have ", p.C, " values");
  OptParam<T> g(weight, p.C, op, "weight");
  auto dx = new_array<T>(shape_of(x));
  auto dgamma = new_array<T>({p.C}), dbeta = new_array<T>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &batch_norm_backward_ref<T> : &batch_norm_backward_cpu<T>;
    f(dx.mutable_data(), dgamma.mutable_data(), dbeta.mutable_data(), dy.data(), x.data(), mean.data(), rstd.data(),
      g.ptr, p, training, relu_output.is_none() ? nullptr : relu_out.data());
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// group_norm's kernels (LayerNorm: the (M, D, 1) view with one group; the affine has C = D values).
template <typename T>
py::tuple group_norm_forward(const py::array& x_in, const py::object& weight, const py::object& bias,
                             const NormParams& p, bool reference) {
  const char* op = "group_norm";
  check_view(x_in, p, op, "input");
  carray<T> x(x_in);
  OptParam<T> g(weight, p.C, op, "weight"), b(bias, p.C, op, "bias");
  auto y = new_array<T>(shape_of(x));
  auto mean = new_array<double>({p.N, p.G}), rstd = new_array<double>({p.N, p.G});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &group_norm_forward_ref<T> : &group_norm_forward_cpu<T>;
    f(y.mutable_data(), mean.mutable_data(), rstd.mutable_data(), x.data(), g.ptr, b.ptr, p);
  }
  return py::make_tuple(y, mean, rstd);
}

template <typename T>
py::tuple group_norm_backward(const py::array& dy_in, const py::array& x_in, const py::array& mean_in,
                              const py::array& rstd_in, const py::object& weight, const NormParams& p,
                              bool reference) {
  const char* op = "group_norm_backward";
  check_view(x_in, p, op, "input");
  check_same(dy_in, x_in, op, "grad_output", "input");
  carray<T> dy(dy_in), x(x_in);
  carray<double> mean(mean_in), rstd(rstd_in);
  PYCNN_CHECK(mean.size() == p.N * p.G && rstd.size() == p.N * p.G, op, ": save_mean / save_rstd must have ",
              p.N * p.G, " values");
  OptParam<T> g(weight, p.C, op, "weight");
  auto dx = new_array<T>(shape_of(x));
  auto dgamma = new_array<T>({p.C}), dbeta = new_array<T>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &group_norm_backward_ref<T> : &group_norm_backward_cpu<T>;
    f(dx.mutable_data(), dgamma.mutable_data(), dbeta.mutable_data(), dy.data(), x.data(), mean.data(), rstd.data(),
      g.ptr, p);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

template <typename T>
py::tuple pixel_norm_forward(const py::array& x_in, const NormParams& p, bool reference) {
  const char* op = "pixel_norm";
  check_view(x_in, p, op, "input");
  carray<T> x(x_in);
  auto y = new_array<T>(shape_of(x));
  auto rstd = new_array<double>({p.N, p.S});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &pixel_norm_forward_ref<T> : &pixel_norm_forward_cpu<T>;
    f(y.mutable_data(), rstd.mutable_data(), x.data(), p);
  }
  return py::make_tuple(y, rstd);
}

template <typename T>
py::array pixel_norm_backward(const py::array& dy_in, const py::array& x_in, const py::array& rstd_in,
                              const NormParams& p, bool reference) {
  const char* op = "pixel_norm_backward";
  check_view(x_in, p, op, "input");
  check_same(dy_in, x_in, op, "grad_output", "input");
  carray<T> dy(dy_in), x(x_in);
  carray<double> rstd(rstd_in);
  PYCNN_CHECK(rstd.size() == p.N * p.S, op, ": save_rstd must have ", p.N * p.S, " values");
  auto dx = new_array<T>(shape_of(x));
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &pixel_norm_backward_ref<T> : &pixel_norm_backward_cpu<T>;
    f(dx.mutable_data(), dy.data(), x.data(), rstd.data(), p);
  }
  return dx;
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_forward",
      [](const py::array& x, const py::object& running_mean, const py::object& running_var, const py::object& weight,
         const py::object& bias, const NormParams& p, bool training, double momentum, bool relu, bool reference) {
        return float_dispatch(x, "batch_norm", "input", [&](auto t) {
          return batch_norm_forward<decltype(t)>(x, running_mean, running_var, weight, bias, p, training, momentum,
                                                 relu, reference);
        });
      },
      py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight"), py::arg("bias"),
      py::arg("params"), py::arg("training"), py::arg("momentum"), py::arg("relu") = false,
      py::arg("reference") = false,
      "(y, save_mean, save_rstd): statistics per channel of the (N, C, S) view; updates running_* in place when "
      "training; eval mode normalizes with running_*.  InstanceNorm runs it on its (1, N*C, S) view.  relu: "
      "y = relu(batch_norm(x)) in the same sweep (BatchNorm fused with a following ReLU).");
  m.def(
      "batch_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& mean, const py::array& rstd,
         const py::object& weight, const NormParams& p, bool training, const py::object& relu_output,
         bool reference) {
        return float_dispatch(x, "batch_norm_backward", "input", [&](auto t) {
          return batch_norm_backward<decltype(t)>(dy, x, mean, rstd, weight, p, training, relu_output, reference);
        });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("save_mean"), py::arg("save_rstd"), py::arg("weight"),
      py::arg("params"), py::arg("training"), py::arg("relu_output") = py::none(), py::arg("reference") = false,
      "(dx, dweight, dbias) of batch_norm_forward; relu_output: the fused forward's y (relu=True), whose "
      "ReLU select is applied to grad_output first.");
  m.def(
      "group_norm_forward",
      [](const py::array& x, const py::object& weight, const py::object& bias, const NormParams& p, bool reference) {
        return float_dispatch(x, "group_norm", "input",
                              [&](auto t) { return group_norm_forward<decltype(t)>(x, weight, bias, p, reference); });
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("params"), py::arg("reference") = false,
      "(y, save_mean, save_rstd): statistics per (sample, group) of the (N, C, S) view, affine per channel; "
      "LayerNorm runs it on its (M, D, 1) view with one group.");
  m.def(
      "group_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& mean, const py::array& rstd,
         const py::object& weight, const NormParams& p, bool reference) {
        return float_dispatch(x, "group_norm_backward", "input", [&](auto t) {
          return group_norm_backward<decltype(t)>(dy, x, mean, rstd, weight, p, reference);
        });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("save_mean"), py::arg("save_rstd"), py::arg("weight"),
      py::arg("params"), py::arg("reference") = false, "(dx, dweight, dbias) of group_norm_forward.");
  m.def(
      "pixel_norm_forward",
      [](const py::array& x, const NormParams& p, bool reference) {
        return float_dispatch(x, "pixel_norm", "input",
                              [&](auto t) { return pixel_norm_forward<decltype(t)>(x, p, reference); });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "(y, save_rstd): y = x / sqrt(mean over dim 1 of x^2 + eps).");
  m.def(
      "pixel_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& rstd, const NormParams& p, bool reference) {
        return float_dispatch(x, "pixel_norm_backward", "input",
                              [&](auto t) { return pixel_norm_backward<decltype(t)>(dy, x, rstd, p, reference); });
      },
      py::arg("grad_output"), py::arg("input"), py::arg("save_rstd"), py::arg("params"), py::arg("reference") = false,
      "dx of pixel_norm_forward.");
}
