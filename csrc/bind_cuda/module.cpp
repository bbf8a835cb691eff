// pycnn._cuda: built only when a CUDA compiler was found (PYCNN_CUDA).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "cuda_device.h"

namespace py = pybind11;
using pycnn::cuda::DeviceBuffer;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "pycnn CUDA runtime: device queries and device buffers";
  m.def("device_count", &pycnn::cuda::device_count);
  m.def("get_device_name", &pycnn::cuda::device_name, py::arg("device") = 0);
  m.def("get_device_properties", [](int device) {
    auto p = pycnn::cuda::device_properties(device);
    py::dict d;
    d["name"] = p.name;
    d["total_memory"] = p.total_memory;
    d["major"] = p.major;
    d["minor"] = p.minor;
    d["multi_processor_count"] = p.multi_processor_count;
    return d;
  }, py::arg("device") = 0);

  // A device copy of a numpy array; .numpy() copies it back (round trip test).
  py::class_<DeviceBuffer>(m, "DeviceBuffer")
      .def(py::init([](py::array a, int device) {
             py::array c = py::array::ensure(a, py::array::c_style);
             auto buf = std::make_unique<DeviceBuffer>(c.nbytes(), device);
             buf->copy_from_host(c.data(), c.nbytes());
             return buf;
           }), py::arg("array"), py::arg("device") = 0)
      .def_property_readonly("nbytes", &DeviceBuffer::size)
      .def_property_readonly("device", &DeviceBuffer::device)
      .def("copy_to", [](const DeviceBuffer& b, py::array out) {
        if (!(out.flags() & py::array::c_style) || !out.writeable() ||
            std::size_t(out.nbytes()) != b.size())
          throw std::invalid_argument("DeviceBuffer.copy_to: out must be a writeable C-contiguous array of " +
                                      std::to_string(b.size()) + " bytes");
        b.copy_to_host(out.mutable_data(), b.size());
      }, py::arg("out"));
}
