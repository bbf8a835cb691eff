// Bindings of the pool family (see csrc/pool.h): adapt the arrays, run the kernel on the params
// from pool2d_params / adaptive_pool2d_params / max_unpool2d_params (the backward kernels take
// the forward's params).
// Indices are int64; the kernels check them as they go and report the first bad one, raised here
// as a ValueError.  reference=True runs the plain-loop spec (csrc/ref) instead.
#include "bind_util.h"
#include "pool.h"

using namespace pycnn;

namespace {

using Idx = std::int64_t;

Shape out_shape(const Pool2dParams& p) { return {p.N, p.C, p.H_out, p.W_out}; }
Shape in_shape(const Pool2dParams& p) { return {p.N, p.C, p.H, p.W}; }

// An int64 C-contiguous view of indices of exactly `shape`; TypeError/ValueError otherwise.
carray<Idx> indices_array(const py::array& a, const Shape& shape, const char* op) {
  if (!py::isinstance<py::array_t<Idx>>(a))
    throw py::type_error(msg(op, ": indices must be int64, got dtype ", std::string(py::str(a.dtype())),
                             " with shape ", shape_str(shape_of(a))));
  PYCNN_CHECK(shape_of(a) == shape, op, ": indices ", shape_str(shape_of(a)), " must have the shape ",
              shape_str(shape), " of the pooled values");
  return carray<Idx>(a);
}

// A kernel's report of the first index outside its plane (flat position, or -1) as a ValueError.
void check_indices(index_t bad, const Idx* idx, index_t plane, const Shape& plane_shape, const char* op) {
  PYCNN_CHECK(bad < 0, op, ": found an invalid max index ", (bad < 0 ? 0 : idx[bad]), " at flat position ", bad,
              " (each (n, c) plane has ", plane, " elements, shape ", shape_str(plane_shape), ")");
}

// out (a new float array of `shape`) = kernel(out, in), run with the GIL released; `in` must
// have `in_shape`.
template <typename T, typename K>
py::array run(const py::array& in_arr, const Shape& in_shape_, const Shape& shape, const char* op,
              const char* arg, K&& kernel) {
  check_shape(in_arr, in_shape_, op, arg);
  carray<T> in(in_arr);
  auto out = new_array<T>(shape);
  const T* I = in.data();
  T* O = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    kernel(O, I);
  }
  return out;
}

// The same for a kernel that reads indices: it returns the first bad one's position, raised
// here (plane / plane_shape: the plane the indices address).
template <typename T, typename K>
py::array run_indexed(const py::array& in_arr, const Shape& in_shape_, const carray<Idx>& idx, const Shape& shape,
                      index_t plane, const Shape& plane_shape, const char* op, const char* arg, K&& kernel) {
  index_t bad = -1;
  const Idx* X = idx.data();
  py::array out = run<T>(in_arr, in_shape_, shape, op, arg, [&](T* O, const T* I) { bad = kernel(O, I, X); });
  check_indices(bad, X, plane, plane_shape, op);
  return out;
}

// (y, indices) of max_pool2d or adaptive_max_pool2d.
template <typename T>
py::tuple max_forward(const py::array& x, const Pool2dParams& p, bool adaptive, bool reference, const char* op) {
  auto idx = new_array<Idx>(out_shape(p));
  Idx* I = idx.mutable_data();
  py::array y = run<T>(x, in_shape(p), out_shape(p), op, "input", [&](T* Y, const T* X) {
    if (adaptive)
      (reference ? adaptive_max_pool2d_forward_ref<T> : adaptive_max_pool2d_forward_cpu<T>)(Y, I, X, p);
    else
      (reference ? max_pool2d_forward_ref<T> : max_pool2d_forward_cpu<T>)(Y, I, X, p);
  });
  return py::make_tuple(y, idx);
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](const py::array& x, const Pool2dParams& p, bool reference) {
        return float_dispatch(x, "max_pool2d", "input",
                              [&](auto t) { return max_forward<decltype(t)>(x, p, false, reference, "max_pool2d"); });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "(y, indices) of max pooling x (N, C, H, W); indices are int64 h*W + w within each plane.");
  m.def(
      "adaptive_max_pool2d_forward",
      [](const py::array& x, const Pool2dParams& p, bool reference) {
        return float_dispatch(x, "adaptive_max_pool2d", "input", [&](auto t) {
          return max_forward<decltype(t)>(x, p, true, reference, "adaptive_max_pool2d");
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "(y, indices) of adaptive max pooling; its backward is max_pool2d_backward.");
  m.def(
      "max_pool2d_backward",
      [](const py::array& dy, const py::array& indices, const Pool2dParams& p, bool reference) {
        const char* op = "max_pool2d_backward";
        return float_dispatch(dy, op, "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_indexed<T>(dy, out_shape(p), indices_array(indices, out_shape(p), op), in_shape(p),
                                p.in_plane(), {p.H, p.W}, op, "grad_output",
                                [&](T* DX, const T* DY, const Idx* I) {
                                  return (reference ? max_pool2d_backward_ref<T> : max_pool2d_backward_cpu<T>)(
                                      DX, DY, I, p);
                                });
        });
      },
      py::arg("grad_output"), py::arg("indices"), py::arg("params"), py::arg("reference") = false,
      "grad_input (params.in_shape) = 0 plus grad_output scattered (added) at the indices; also the "
      "backward of adaptive_max_pool2d.");
  m.def(
      "avg_pool2d_forward",
      [](const py::array& x, const Pool2dParams& p, bool reference) {
        return float_dispatch(x, "avg_pool2d", "input", [&](auto t) {
          using T = decltype(t);
          return run<T>(x, in_shape(p), out_shape(p), "avg_pool2d", "input", [&](T* Y, const T* X) {
            (reference ? avg_pool2d_forward_ref<T> : avg_pool2d_forward_cpu<T>)(Y, X, p);
          });
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "Average pooling of x (N, C, H, W) (divisor rule in csrc/pool.h).");
  m.def(
      "avg_pool2d_backward",
      [](const py::array& dy, const Pool2dParams& p, bool reference) {
        return float_dispatch(dy, "avg_pool2d_backward", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run<T>(dy, out_shape(p), in_shape(p), "avg_pool2d_backward", "grad_output",
                        [&](T* DX, const T* DY) {
                          (reference ? avg_pool2d_backward_ref<T> : avg_pool2d_backward_cpu<T>)(DX, DY, p);
                        });
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false, "grad_input of avg_pool2d.");
  m.def(
      "adaptive_avg_pool2d_forward",
      [](const py::array& x, const Pool2dParams& p, bool reference) {
        return float_dispatch(x, "adaptive_avg_pool2d", "input", [&](auto t) {
          using T = decltype(t);
          return run<T>(x, in_shape(p), out_shape(p), "adaptive_avg_pool2d", "input", [&](T* Y, const T* X) {
            (reference ? adaptive_avg_pool2d_forward_ref<T> : adaptive_avg_pool2d_forward_cpu<T>)(Y, X, p);
          });
        });
      },
      py::arg("input"), py::arg("params"), py::arg("reference") = false,
      "Adaptive average pooling of x (N, C, H, W) to (H_out, W_out).");
  m.def(
      "adaptive_avg_pool2d_backward",
      [](const py::array& dy, const Pool2dParams& p, bool reference) {
        return float_dispatch(dy, "adaptive_avg_pool2d_backward", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run<T>(dy, out_shape(p), in_shape(p), "adaptive_avg_pool2d_backward", "grad_output",
                        [&](T* DX, const T* DY) {
                          (reference ? adaptive_avg_pool2d_backward_ref<T> : adaptive_avg_pool2d_backward_cpu<T>)(
                              DX, DY, p);
                        });
        });
      },
      py::arg("grad_output"), py::arg("params"), py::arg("reference") = false, "grad_input of adaptive_avg_pool2d.");
  m.def(
      "max_unpool2d_forward",
      [](const py::array& x, const py::array& indices, const Pool2dParams& p, const std::string& op_name,
         bool reference) {
        const char* op = op_name.c_str();
        carray<Idx> idx = indices_array(indices, in_shape(p), op);
        return float_dispatch(x, op, "input", [&](auto t) {
          using T = decltype(t);
          return run_indexed<T>(x, in_shape(p), idx, out_shape(p), p.out_plane(), {p.H_out, p.W_out}, op, "input",
                                [&](T* Y, const T* X, const Idx* I) {
                                  return (reference ? max_unpool2d_forward_ref<T> : max_unpool2d_forward_cpu<T>)(
                                      Y, X, I, p);
                                });
        });
      },
      py::arg("input"), py::arg("indices"), py::arg("params"), py::arg("op") = "max_unpool2d",
      py::arg("reference") = false,
      "y (N, C, H_out, W_out) = 0 except y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j].");
  m.def(
      "max_unpool2d_backward",
      [](const py::array& dy, const py::array& indices, const Pool2dParams& p, const std::string& op_name,
         bool reference) {
        const char* op = op_name.c_str();
        carray<Idx> idx = indices_array(indices, in_shape(p), op);
        return float_dispatch(dy, op, "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_indexed<T>(dy, out_shape(p), idx, in_shape(p), p.out_plane(), {p.H_out, p.W_out}, op,
                                "grad_output", [&](T* DX, const T* DY, const Idx* I) {
                                  return (reference ? max_unpool2d_backward_ref<T> : max_unpool2d_backward_cpu<T>)(
                                      DX, DY, I, p);
                                });
        });
      },
      py::arg("grad_output"), py::arg("indices"), py::arg("params"), py::arg("op") = "max_unpool2d_backward",
      py::arg("reference") = false, "grad_input of max_unpool2d: grad_output gathered at the indices.");
}
