// Bindings of the pool family (see csrc/pool.h).  4-D arrays only: 1-D pools and unbatched
// inputs are reshaped in Python.  Backward kernels take the input's 4-D shape, not the input
// (they need only its size).  Indices are int64; the kernels check them as they go and report
// the first bad one, raised here as a ValueError.
// reference=True runs the plain-loop spec (csrc/ref) instead.
#include <optional>

#include "bind_util.h"
#include "pool.h"

using namespace pycnn;

namespace {

using Vec = std::vector<index_t>;
using Idx = std::int64_t;

std::array<index_t, 2> pair(const Vec& v, const char* op, const char* arg) {
  PYCNN_CHECK(v.size() == 2, op, ": ", arg, " must have 2 values, got ", shape_str(v));
  return {v[0], v[1]};
}

std::array<index_t, 4> shape4(const py::array& a, const char* op, const char* arg) {
  check_ndim(a, 4, op, arg);
  return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
}

std::array<index_t, 4> size4(const Vec& v, const char* op) {
  PYCNN_CHECK(v.size() == 4, op, ": input_size must be (N, C, H, W), got ", shape_str(v));
  for (index_t s : v)
    PYCNN_CHECK(s >= 0, op, ": input_size ", shape_str(v), " has a negative size");
  return {v[0], v[1], v[2], v[3]};
}

// An int64 C-contiguous view of indices of exactly `shape`; TypeError/ValueError otherwise.
carray<Idx> indices_array(const py::array& a, const Vec& shape, const char* op) {
  if (!py::isinstance<py::array_t<Idx>>(a))
    throw py::type_error(msg(op, ": indices must be int64, got dtype ",
                             std::string(py::str(a.dtype())), " with shape ",
                             shape_str(shape_of(a))));
  PYCNN_CHECK(shape_of(a) == shape, op, ": indices ", shape_str(shape_of(a)),
              " must have the shape ", shape_str(shape), " of the pooled values");
  return carray<Idx>(a);
}

// A kernel's report of the first index outside its plane (flat position, or -1) as a ValueError.
void check_indices(index_t bad, const Idx* idx, index_t plane, const Vec& plane_shape,
                   const char* op) {
  PYCNN_CHECK(bad < 0, op, ": found an invalid max index ", (bad < 0 ? 0 : idx[bad]),
              " at flat position ", bad, " (each (n, c) plane has ", plane, " elements, shape ",
              shape_str(plane_shape), ")");
}

void check_grad_shape(const py::array& g, const Vec& shape, const char* op) {
  PYCNN_CHECK(shape_of(g) == shape, op, ": grad_output ", shape_str(shape_of(g)),
              " does not match the output shape ", shape_str(shape));
}

Vec out_shape(const Pool2dParams& p) { return {p.N, p.C, p.H_out, p.W_out}; }
Vec in_shape(const Pool2dParams& p) { return {p.N, p.C, p.H, p.W}; }

// out (a new float array of `shape`) = kernel(out, in), run with the GIL released.
template <typename T, typename K>
py::array run_kernel(const py::array& in_arr, const Vec& shape, K&& kernel) {
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
py::array run_indexed_kernel(const py::array& in_arr, const carray<Idx>& idx, const Vec& shape,
                             index_t plane, const Vec& plane_shape, const char* op, K&& kernel) {
  index_t bad = -1;
  const Idx* X = idx.data();
  py::array out = run_kernel<T>(in_arr, shape, [&](T* O, const T* I) { bad = kernel(O, I, X); });
  check_indices(bad, X, plane, plane_shape, op);
  return out;
}

// (y, indices) of max_pool2d or adaptive_max_pool2d.
template <typename T>
py::tuple max_forward_py(const Pool2dParams& p, const py::array& x_in, bool adaptive,
                         bool reference) {
  auto idx = new_array<Idx>(out_shape(p));
  Idx* I = idx.mutable_data();
  py::array y = run_kernel<T>(x_in, out_shape(p), [&](T* Y, const T* X) {
    if (adaptive)
      (reference ? adaptive_max_pool2d_forward_ref<T>
                 : adaptive_max_pool2d_forward_cpu<T>)(Y, I, X, p);
    else
      (reference ? max_pool2d_forward_ref<T> : max_pool2d_forward_cpu<T>)(Y, I, X, p);
  });
  return py::make_tuple(y, idx);
}

// dx = scatter-add of dy at the indices (max_pool2d and adaptive_max_pool2d).
template <typename T>
py::array max_backward_py(const py::array& dy_in, const py::array& idx_in, const Vec& input_size,
                          bool reference) {
  const char* op = "max_pool2d_backward";
  const auto s = size4(input_size, op);
  check_ndim(dy_in, 4, op, "grad_output");
  Pool2dParams p;
  p.N = s[0], p.C = s[1], p.H = s[2], p.W = s[3];
  p.H_out = dy_in.shape(2), p.W_out = dy_in.shape(3);
  check_grad_shape(dy_in, out_shape(p), op);
  return run_indexed_kernel<T>(
      dy_in, indices_array(idx_in, out_shape(p), op), in_shape(p), p.in_plane(), {p.H, p.W}, op,
      [&](T* DX, const T* DY, const Idx* I) {
        return (reference ? max_pool2d_backward_ref<T> : max_pool2d_backward_cpu<T>)(DX, DY, I, p);
      });
}

Pool2dParams avg_params(const std::array<index_t, 4>& s, const Vec& kernel, const Vec& stride,
                        const Vec& padding, bool ceil_mode) {
  const char* op = "avg_pool2d";
  return make_pool2d_params(op, s, pair(kernel, op, "kernel_size"), pair(stride, op, "stride"),
                            pair(padding, op, "padding"), {1, 1}, ceil_mode, false);
}

index_t divisor_of(const std::optional<index_t>& d) {
  PYCNN_CHECK(!d || *d != 0, "avg_pool2d: divisor_override must be non-zero");
  return d ? *d : 0;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](const py::array& x, const Vec& kernel, const Vec& stride, const Vec& padding,
         const Vec& dilation, bool ceil_mode, bool reference) {
        const char* op = "max_pool2d";
        const Pool2dParams p = make_pool2d_params(
            op, shape4(x, op, "input"), pair(kernel, op, "kernel_size"), pair(stride, op, "stride"),
            pair(padding, op, "padding"), pair(dilation, op, "dilation"), ceil_mode, true);
        return float_dispatch(x, op, "input", [&](auto t) {
          return max_forward_py<decltype(t)>(p, x, false, reference);
        });
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = Vec{0, 0},
      py::arg("dilation") = Vec{1, 1}, py::arg("ceil_mode") = false, py::arg("reference") = false,
      "(y, indices) of max pooling x (N, C, H, W); indices are int64 h*W + w within each plane.");
  m.def(
      "max_pool2d_backward",
      [](const py::array& grad_output, const py::array& indices, const Vec& input_size,
         bool reference) {
        return float_dispatch(grad_output, "max_pool2d_backward", "grad_output", [&](auto t) {
          return max_backward_py<decltype(t)>(grad_output, indices, input_size, reference);
        });
      },
      py::arg("grad_output"), py::arg("indices"), py::arg("input_size"),
      py::arg("reference") = false,
      "grad_input (input_size) = 0 plus grad_output scattered (added) at the indices; also the "
      "backward of adaptive_max_pool2d.");
  m.def(
      "avg_pool2d_forward",
      [](const py::array& x, const Vec& kernel, const Vec& stride, const Vec& padding,
         bool ceil_mode, bool count_include_pad, std::optional<index_t> divisor_override,
         bool reference) {
        const Pool2dParams p = avg_params(shape4(x, "avg_pool2d", "input"), kernel, stride,
                                          padding, ceil_mode);
        const index_t div = divisor_of(divisor_override);
        return float_dispatch(x, "avg_pool2d", "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, out_shape(p), [&](T* Y, const T* X) {
            (reference ? avg_pool2d_forward_ref<T> : avg_pool2d_forward_cpu<T>)(
                Y, X, p, count_include_pad, div);
          });
        });
      },
      py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = Vec{0, 0},
      py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
      py::arg("divisor_override") = py::none(), py::arg("reference") = false,
      "Average pooling of x (N, C, H, W) (divisor rule in csrc/pool.h).");
  m.def(
      "avg_pool2d_backward",
      [](const py::array& grad_output, const Vec& input_size, const Vec& kernel, const Vec& stride,
         const Vec& padding, bool ceil_mode, bool count_include_pad,
         std::optional<index_t> divisor_override, bool reference) {
        const Pool2dParams p = avg_params(size4(input_size, "avg_pool2d_backward"), kernel, stride,
                                          padding, ceil_mode);
        const index_t div = divisor_of(divisor_override);
        check_ndim(grad_output, 4, "avg_pool2d_backward", "grad_output");
        check_grad_shape(grad_output, out_shape(p), "avg_pool2d_backward");
        return float_dispatch(grad_output, "avg_pool2d_backward", "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(grad_output, in_shape(p), [&](T* DX, const T* DY) {
            (reference ? avg_pool2d_backward_ref<T> : avg_pool2d_backward_cpu<T>)(
                DX, DY, p, count_include_pad, div);
          });
        });
      },
      py::arg("grad_output"), py::arg("input_size"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding") = Vec{0, 0}, py::arg("ceil_mode") = false,
      py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
      py::arg("reference") = false, "grad_input of avg_pool2d (input_size is (N, C, H, W)).");
  m.def(
      "adaptive_avg_pool2d_forward",
      [](const py::array& x, const Vec& output_size, bool reference) {
        const char* op = "adaptive_avg_pool2d";
        const Pool2dParams p = make_adaptive_pool2d_params(op, shape4(x, op, "input"),
                                                           pair(output_size, op, "output_size"));
        return float_dispatch(x, op, "input", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(x, out_shape(p), [&](T* Y, const T* X) {
            (reference ? adaptive_avg_pool2d_forward_ref<T>
                       : adaptive_avg_pool2d_forward_cpu<T>)(Y, X, p);
          });
        });
      },
      py::arg("input"), py::arg("output_size"), py::arg("reference") = false,
      "Adaptive average pooling of x (N, C, H, W) to output_size (H_out, W_out).");
  m.def(
      "adaptive_avg_pool2d_backward",
      [](const py::array& grad_output, const Vec& input_size, bool reference) {
        const char* op = "adaptive_avg_pool2d_backward";
        check_ndim(grad_output, 4, op, "grad_output");
        const Pool2dParams p = make_adaptive_pool2d_params(
            op, size4(input_size, op), {grad_output.shape(2), grad_output.shape(3)});
        check_grad_shape(grad_output, out_shape(p), op);
        return float_dispatch(grad_output, op, "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_kernel<T>(grad_output, in_shape(p), [&](T* DX, const T* DY) {
            (reference ? adaptive_avg_pool2d_backward_ref<T>
                       : adaptive_avg_pool2d_backward_cpu<T>)(DX, DY, p);
          });
        });
      },
      py::arg("grad_output"), py::arg("input_size"), py::arg("reference") = false,
      "grad_input of adaptive_avg_pool2d (input_size is (N, C, H, W)).");
  m.def(
      "adaptive_max_pool2d_forward",
      [](const py::array& x, const Vec& output_size, bool reference) {
        const char* op = "adaptive_max_pool2d";
        const Pool2dParams p = make_adaptive_pool2d_params(op, shape4(x, op, "input"),
                                                           pair(output_size, op, "output_size"));
        return float_dispatch(x, op, "input", [&](auto t) {
          return max_forward_py<decltype(t)>(p, x, true, reference);
        });
      },
      py::arg("input"), py::arg("output_size"), py::arg("reference") = false,
      "(y, indices) of adaptive max pooling; its backward is max_pool2d_backward.");
  m.def(
      "max_unpool2d_forward",
      [](const py::array& x, const py::array& indices, const Vec& output_size, bool reference,
         const std::string& op_name) {
        const char* op = op_name.c_str();
        const Pool2dParams p = make_max_unpool2d_params(op, shape4(x, op, "input"),
                                                        pair(output_size, op, "output_size"));
        carray<Idx> idx = indices_array(indices, in_shape(p), op);
        return float_dispatch(x, op, "input", [&](auto t) {
          using T = decltype(t);
          return run_indexed_kernel<T>(
              x, idx, out_shape(p), p.out_plane(), {p.H_out, p.W_out}, op,
              [&](T* Y, const T* X, const Idx* I) {
                return (reference ? max_unpool2d_forward_ref<T>
                                  : max_unpool2d_forward_cpu<T>)(Y, X, I, p);
              });
        });
      },
      py::arg("input"), py::arg("indices"), py::arg("output_size"), py::arg("reference") = false,
      py::arg("op") = "max_unpool2d",  // the name errors give: max_unpool1d runs this with H = 1
      "y (N, C, *output_size) = 0 except y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j].");
  m.def(
      "max_unpool2d_backward",
      [](const py::array& grad_output, const py::array& indices, bool reference,
         const std::string& op_name) {
        const char* op = op_name.c_str();
        check_ndim(grad_output, 4, op, "grad_output");
        check_ndim(indices, 4, op, "indices");
        Pool2dParams p;
        p.N = indices.shape(0), p.C = indices.shape(1);
        p.H = indices.shape(2), p.W = indices.shape(3);
        p.H_out = grad_output.shape(2), p.W_out = grad_output.shape(3);
        PYCNN_CHECK(grad_output.shape(0) == p.N && grad_output.shape(1) == p.C, op,
                    ": grad_output ", shape_str(shape_of(grad_output)), " and indices ",
                    shape_str(shape_of(indices)), " differ in (N, C)");
        carray<Idx> idx = indices_array(indices, in_shape(p), op);
        return float_dispatch(grad_output, op, "grad_output", [&](auto t) {
          using T = decltype(t);
          return run_indexed_kernel<T>(
              grad_output, idx, in_shape(p), p.out_plane(), {p.H_out, p.W_out}, op,
              [&](T* DX, const T* DY, const Idx* I) {
                return (reference ? max_unpool2d_backward_ref<T>
                                  : max_unpool2d_backward_cpu<T>)(DX, DY, I, p);
              });
        });
      },
      py::arg("grad_output"), py::arg("indices"), py::arg("reference") = false,
      py::arg("op") = "max_unpool2d_backward",
      "grad_input of max_unpool2d: grad_output gathered at the indices (shape of indices).");
}
