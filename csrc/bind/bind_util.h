// Helpers shared by the CPU module's binding files (the only code that knows pybind11).  Every
// kernel binding has one shape: adapt the arrays (dtype dispatch, C-contiguous views, the shapes
// the params say), then run the kernel on the params that Python built with the family's
// <family>_params constructor (bind/params.cpp -> csrc/params: every validation rule).
//  - float_dispatch: run a lambda templated on float/double from a numpy dtype;
//  - carray<T>: a C-contiguous view of an input (copies only if it must);
//  - new_array<T>: an uninitialised C-contiguous output;
//  - check_shape: an array has the shape its params describe.
// Kernels run inside py::gil_scoped_release; never touch Python objects there.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "bind_params.h"
#include "common.h"

namespace py = pybind11;

namespace pycnn {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Equal dtypes by value (kind and size), not by object identity: an array that went through
// pickle (a DataLoader worker's batch) has an equal dtype that is a different object.
inline bool same_dtype(const py::array& a, const py::array& b) {
  return a.dtype().kind() == b.dtype().kind() && a.dtype().itemsize() == b.dtype().itemsize();
}

inline std::vector<index_t> shape_of(const py::array& a) {
  return std::vector<index_t>(a.shape(), a.shape() + a.ndim());
}

template <typename T>
carray<T> new_array(const std::vector<index_t>& shape) {
  return carray<T>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

// Runs kernel(out, in, p) on `in` (made C-contiguous if it is not) into a fresh out_shape array,
// without the GIL.
template <typename T, typename Params>
py::array run_kernel(const py::array& in_arr, const std::vector<index_t>& out_shape, const Params& p,
                     void (*kernel)(T*, const T*, const Params&)) {
  carray<T> in(in_arr);
  auto out = new_array<T>(out_shape);
  const T* src = in.data();
  T* dst = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    kernel(dst, src, p);
  }
  return out;
}

// Calls f(T{}) with T = float or double, matching a's dtype; TypeError otherwise.
template <typename F>
auto float_dispatch(const py::array& a, const char* op, const char* arg, F&& f) {
  if (py::isinstance<py::array_t<float>>(a)) return f(float{});
  if (py::isinstance<py::array_t<double>>(a)) return f(double{});
  throw py::type_error(msg(op, ": ", arg, " must be float32 or float64, got dtype ",
                           std::string(py::str(a.dtype())), " with shape ",
                           shape_str(shape_of(a))));
}

inline void check_shape(const py::array& a, const std::vector<index_t>& shape, const char* op, const char* arg) {
  PYCNN_CHECK(shape_of(a) == shape, op, ": ", arg, " ", shape_str(shape_of(a)), " does not match the shape ",
              shape_str(shape), " its params describe");
}

inline void check_ndim(const py::array& a, int ndim, const char* op, const char* arg) {
  PYCNN_CHECK(a.ndim() == ndim, op, ": ", arg, " must be ", ndim, "-D, got shape ",
              shape_str(shape_of(a)));
}

}  // namespace pycnn

// Each op family registers itself from its own file (csrc/bind/<family>.cpp).
void bind_gemm(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_norm(py::module_& m);
void bind_pad(py::module_& m);
void bind_upsample(py::module_& m);
void bind_elementwise(py::module_& m);
