// Bindings of the norm family (see csrc/norm.h).  x is (N, C, *) and is viewed as (N, C, S);
// saved statistics come back as float64 arrays; reference=True runs the plain-loop spec.
#include "bind_util.h"
#include "norm.h"

using namespace pycnn;

namespace {

NormParams ncs_view(const py::array& x, const char* op) {
  PYCNN_CHECK(x.ndim() >= 2, op, ": input must be (N, C, *) with at least 2 dims, got shape ",
              shape_str(shape_of(x)));
  NormParams p;
  p.N = x.shape(0);
  p.C = x.shape(1);
  p.S = 1;
  for (py::ssize_t d = 2; d < x.ndim(); ++d) p.S *= x.shape(d);
  return p;
}

// An optional per-channel (C,) parameter: null when None.
template <typename T>
struct OptParam {
  carray<T> arr;
  const T* ptr = nullptr;
  OptParam(const py::object& o, index_t C, const char* op, const char* name) {
    if (o.is_none()) return;
    arr = carray<T>(o);
    PYCNN_CHECK(arr.ndim() == 1 && arr.shape(0) == C, op, ": ", name, " must have shape (", C,
                ",), one value per channel, got ", shape_str(shape_of(arr)));
    ptr = arr.data();
  }
};

// A running statistic updated in place: it must already be a C-contiguous writeable (C,)
// array of x's dtype (a converted copy would silently drop the update).
template <typename T>
T* running_stat(const py::object& o, index_t C, const char* op, const char* name) {
  if (o.is_none()) return nullptr;
  PYCNN_CHECK(py::isinstance<py::array>(o), op, ": ", name, " must be a numpy array or None");
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::isinstance<py::array_t<T>>(a))
    throw py::type_error(msg(op, ": ", name, " dtype ", std::string(py::str(a.dtype())),
                             " differs from the input's"));
  PYCNN_CHECK(a.ndim() == 1 && a.shape(0) == C, op, ": ", name, " must have shape (", C,
              ",), one value per channel, got ", shape_str(shape_of(a)));
  PYCNN_CHECK((a.flags() & py::array::c_style) && a.writeable(), op, ": ", name,
              " must be contiguous and writeable (it is updated in place)");
  return static_cast<T*>(a.mutable_data());
}

template <typename T>
void check_same_shape(const carray<T>& a, const carray<T>& b, const char* op, const char* an,
                      const char* bn) {
  PYCNN_CHECK(shape_of(a) == shape_of(b), op, ": ", an, " shape ", shape_str(shape_of(a)),
              " differs from ", bn, " shape ", shape_str(shape_of(b)));
}

inline void check_stats(const py::array& a, const std::vector<index_t>& shape, const char* op,
                        const char* name) {
  PYCNN_CHECK(shape_of(a) == shape, op, ": ", name, " must have shape ", shape_str(shape),
              ", got ", shape_str(shape_of(a)));
}

// ------------------------------------------------------------------ batch norm
template <typename T>
py::tuple batch_norm_forward_py(const py::array& x_in, const py::object& weight,
                                const py::object& bias, const py::object& running_mean,
                                const py::object& running_var, bool training, double momentum,
                                double eps, bool reference) {
  const char* op = "batch_norm";
  carray<T> x(x_in);
  NormParams p = ncs_view(x, op);
  p.eps = eps;
  check_norm_params(p, op);
  OptParam<T> g(weight, p.C, op, "weight"), b(bias, p.C, op, "bias");
  T* rm = running_stat<T>(running_mean, p.C, op, "running_mean");
  T* rv = running_stat<T>(running_var, p.C, op, "running_var");
  PYCNN_CHECK(training || (rm && rv), op, ": running_mean and running_var must be given in eval ",
              "mode (training=False)");
  PYCNN_CHECK(!training || p.N * p.S > 1, op,
              ": expected more than 1 value per channel when training, got input shape ",
              shape_str(shape_of(x)));
  auto y = new_array<T>(shape_of(x));
  auto mean = new_array<double>({p.C}), rstd = new_array<double>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &batch_norm_forward_ref<T> : &batch_norm_forward_cpu<T>;
    f(y.mutable_data(), mean.mutable_data(), rstd.mutable_data(), rm, rv, x.data(), g.ptr, b.ptr,
      p, training, momentum);
  }
  return py::make_tuple(y, mean, rstd);
}

template <typename T>
py::tuple batch_norm_backward_py(const py::array& dy_in, const py::array& x_in,
                                 const py::array& mean_in, const py::array& rstd_in,
                                 const py::object& weight, bool training, bool reference) {
  const char* op = "batch_norm_backward";
  carray<T> dy(dy_in), x(x_in);
  carray<double> mean(mean_in), rstd(rstd_in);
  const NormParams p = ncs_view(x, op);
  check_same_shape(dy, x, op, "grad_output", "input");
  check_stats(mean, {p.C}, op, "save_mean");
  check_stats(rstd, {p.C}, op, "save_rstd");
  OptParam<T> g(weight, p.C, op, "weight");
  auto dx = new_array<T>(shape_of(x));
  auto dgamma = new_array<T>({p.C}), dbeta = new_array<T>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &batch_norm_backward_ref<T> : &batch_norm_backward_cpu<T>;
    f(dx.mutable_data(), dgamma.mutable_data(), dbeta.mutable_data(), dy.data(), x.data(),
      mean.data(), rstd.data(), g.ptr, p, training);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// ------------------------------------------------------------------ group norm
template <typename T>
py::tuple group_norm_forward_py(const py::array& x_in, index_t num_groups, const py::object& weight,
                                const py::object& bias, double eps, bool reference) {
  const char* op = "group_norm";
  carray<T> x(x_in);
  NormParams p = ncs_view(x, op);
  p.G = num_groups;
  p.eps = eps;
  check_norm_params(p, op);
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
py::tuple group_norm_backward_py(const py::array& dy_in, const py::array& x_in,
                                 const py::array& mean_in, const py::array& rstd_in,
                                 const py::object& weight, index_t num_groups, bool reference) {
  const char* op = "group_norm_backward";
  carray<T> dy(dy_in), x(x_in);
  carray<double> mean(mean_in), rstd(rstd_in);
  NormParams p = ncs_view(x, op);
  p.G = num_groups;
  check_norm_params(p, op);
  check_same_shape(dy, x, op, "grad_output", "input");
  check_stats(mean, {p.N, p.G}, op, "save_mean");
  check_stats(rstd, {p.N, p.G}, op, "save_rstd");
  OptParam<T> g(weight, p.C, op, "weight");
  auto dx = new_array<T>(shape_of(x));
  auto dgamma = new_array<T>({p.C}), dbeta = new_array<T>({p.C});
  {
    py::gil_scoped_release nogil;
    auto f = reference ? &group_norm_backward_ref<T> : &group_norm_backward_cpu<T>;
    f(dx.mutable_data(), dgamma.mutable_data(), dbeta.mutable_data(), dy.data(), x.data(),
      mean.data(), rstd.data(), g.ptr, p);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// ------------------------------------------------------------------ pixel norm
template <typename T>
py::tuple pixel_norm_forward_py(const py::array& x_in, double eps, bool reference) {
  const char* op = "pixel_norm";
  carray<T> x(x_in);
  NormParams p = ncs_view(x, op);
  p.eps = eps;
  check_norm_params(p, op);
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
py::array pixel_norm_backward_py(const py::array& dy_in, const py::array& x_in,
                                 const py::array& rstd_in, bool reference) {
  const char* op = "pixel_norm_backward";
  carray<T> dy(dy_in), x(x_in);
  carray<double> rstd(rstd_in);
  const NormParams p = ncs_view(x, op);
  check_same_shape(dy, x, op, "grad_output", "input");
  check_stats(rstd, {p.N, p.S}, op, "save_rstd");
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
      [](const py::array& x, const py::object& weight, const py::object& bias,
         const py::object& running_mean, const py::object& running_var, bool training,
         double momentum, double eps, bool reference) {
        return float_dispatch(x, "batch_norm", "input", [&](auto t) {
          return batch_norm_forward_py<decltype(t)>(x, weight, bias, running_mean, running_var,
                                                    training, momentum, eps, reference);
        });
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"),
      py::arg("running_var"), py::arg("training"), py::arg("momentum"), py::arg("eps"),
      py::arg("reference") = false,
      "(y, save_mean, save_rstd): statistics per channel of x (N, C, *); updates running_* in "
      "place when training; eval mode normalizes with running_*.");
  m.def(
      "batch_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& mean, const py::array& rstd,
         const py::object& weight, bool training, bool reference) {
        return float_dispatch(x, "batch_norm_backward", "input", [&](auto t) {
          return batch_norm_backward_py<decltype(t)>(dy, x, mean, rstd, weight, training,
                                                     reference);
        });
      },
      py::arg("grad_output"), py::arg("x"), py::arg("save_mean"), py::arg("save_rstd"),
      py::arg("weight"), py::arg("training"), py::arg("reference") = false,
      "(dx, dweight, dbias) of batch_norm_forward.");
  m.def(
      "group_norm_forward",
      [](const py::array& x, index_t num_groups, const py::object& weight, const py::object& bias,
         double eps, bool reference) {
        return float_dispatch(x, "group_norm", "input", [&](auto t) {
          return group_norm_forward_py<decltype(t)>(x, num_groups, weight, bias, eps, reference);
        });
      },
      py::arg("x"), py::arg("num_groups"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
      py::arg("reference") = false,
      "(y, save_mean, save_rstd): statistics per (sample, group) of x (N, C, *), affine per "
      "channel; LayerNorm passes x as (M, D) with num_groups=1.");
  m.def(
      "group_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& mean, const py::array& rstd,
         const py::object& weight, index_t num_groups, bool reference) {
        return float_dispatch(x, "group_norm_backward", "input", [&](auto t) {
          return group_norm_backward_py<decltype(t)>(dy, x, mean, rstd, weight, num_groups,
                                                     reference);
        });
      },
      py::arg("grad_output"), py::arg("x"), py::arg("save_mean"), py::arg("save_rstd"),
      py::arg("weight"), py::arg("num_groups"), py::arg("reference") = false,
      "(dx, dweight, dbias) of group_norm_forward.");
  m.def(
      "pixel_norm_forward",
      [](const py::array& x, double eps, bool reference) {
        return float_dispatch(x, "pixel_norm", "input", [&](auto t) {
          return pixel_norm_forward_py<decltype(t)>(x, eps, reference);
        });
      },
      py::arg("x"), py::arg("eps"), py::arg("reference") = false,
      "(y, save_rstd): y = x / sqrt(mean over dim 1 of x^2 + eps).");
  m.def(
      "pixel_norm_backward",
      [](const py::array& dy, const py::array& x, const py::array& rstd, bool reference) {
        return float_dispatch(x, "pixel_norm_backward", "input", [&](auto t) {
          return pixel_norm_backward_py<decltype(t)>(dy, x, rstd, reference);
        });
      },
      py::arg("grad_output"), py::arg("x"), py::arg("save_rstd"), py::arg("reference") = false,
      "dx of pixel_norm_forward.");
}
