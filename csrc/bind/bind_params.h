// The params layer's bindings (params.cpp), shared by every native module.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace pycnn {
// Registers the Params classes and their constructors (pool2d_params, conv2d_params, ...) on m.
void bind_params(py::module_& m);
}  // namespace pycnn
