// The CUDA modules: pycnn._cuda (the kernels built by nvcc for a GPU, CUDA runtime linked
// statically) and pycnn._cuda_emu (the same kernel sources built as host C++ for the emulated
// device), from this one file (PYCNN_CUDA_MODULE names the module).  Device memory belongs to the
// Python side (CuPy's pool on a GPU, numpy buffers on the emulated device): every kernel takes raw
// pointers as integers, a dtype name, the Params object of its family (bind/params.cpp: the
// same validation as the CPU module) and the stream to launch on.  Launches release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "bind/bind_params.h"
#include "conv.h"
#include "cuda_device.h"
#include "norm.h"
#include "pad.h"
#include "pool.h"
#include "upsample.h"

namespace py = pybind11;
using namespace pycnn;

#if defined(PYCNN_CUDA_EMULATED)
namespace pycnn::cuda {
std::vector<double> emulator_selftest(const std::string& kind, const std::vector<double>& x);  // emu/selftest.cpp
}
#endif
using pycnn::cuda::DeviceBuffer;

namespace {

using Ptr = std::uintptr_t;

template <typename T>
T* ptr(Ptr p) {
  return reinterpret_cast<T*>(p);
}
void* stream_of(Ptr s) { return reinterpret_cast<void*>(s); }

// Calls f(T{}) for dtype "float32" or "float64" with the GIL released; TypeError otherwise.
template <typename F>
void float_dispatch(const std::string& dtype, const char* op, F&& f) {
  if (dtype == "float32") {
    py::gil_scoped_release nogil;
    f(float{});
  } else if (dtype == "float64") {
    py::gil_scoped_release nogil;
    f(double{});
  } else {
    throw py::type_error(std::string(op) + ": input must be float32 or float64, got dtype " + dtype);
  }
}

void bind_runtime(py::module_& m) {
#if defined(PYCNN_CUDA_EMULATED)
  m.attr("emulated") = true;
  m.def(
      "_selftest",
      [](const std::string& kind, const std::vector<double>& x) {
        py::gil_scoped_release nogil;
        return pycnn::cuda::emulator_selftest(kind, x);
      },
      py::arg("kind"), py::arg("x") = std::vector<double>{},
      "Runs one of the emulated device's own test kernels (tests/test_cuda.py).");
#else
  m.attr("emulated") = false;
#endif
  m.def("device_count", &pycnn::cuda::device_count);
  m.def("get_device_name", &pycnn::cuda::device_name, py::arg("device") = 0);
  m.def("synchronize", [] {
    py::gil_scoped_release nogil;
    pycnn::cuda::synchronize();
  });
  m.def(
      "get_device_properties",
      [](int device) {
        auto p = pycnn::cuda::device_properties(device);
        py::dict d;
        d["name"] = p.name;
        d["total_memory"] = p.total_memory;
        d["major"] = p.major;
        d["minor"] = p.minor;
        d["multi_processor_count"] = p.multi_processor_count;
        return d;
      },
      py::arg("device") = 0);

  // A device copy of a numpy array; .copy_to copies it back (the runtime's round trip test).
  py::class_<DeviceBuffer>(m, "DeviceBuffer", py::module_local())
      .def(py::init([](py::array a, int device) {
             py::array c = py::array::ensure(a, py::array::c_style);
             auto buf = std::make_unique<DeviceBuffer>(c.nbytes(), device);
             buf->copy_from_host(c.data(), c.nbytes());
             return buf;
           }),
           py::arg("array"), py::arg("device") = 0)
      .def_property_readonly("nbytes", &DeviceBuffer::size)
      .def_property_readonly("device", &DeviceBuffer::device)
      .def(
          "copy_to",
          [](const DeviceBuffer& b, py::array out) {
            if (!(out.flags() & py::array::c_style) || !out.writeable() || std::size_t(out.nbytes()) != b.size())
              throw std::invalid_argument("DeviceBuffer.copy_to: out must be a writeable C-contiguous array of " +
                                          std::to_string(b.size()) + " bytes");
            b.copy_to_host(out.mutable_data(), b.size());
          },
          py::arg("out"));
}

void bind_pool(py::module_& m) {
  using I64 = std::int64_t;
  m.def("max_pool2d_forward", [](Ptr y, Ptr idx, Ptr x, const std::string& dtype, const Pool2dParams& p, Ptr s) {
    float_dispatch(dtype, "max_pool2d", [&](auto t) {
      using T = decltype(t);
      max_pool2d_forward_cuda<T>(ptr<T>(y), ptr<I64>(idx), ptr<const T>(x), p, stream_of(s));
    });
  });
  m.def("max_pool2d_backward", [](Ptr dx, Ptr dy, Ptr idx, const std::string& dtype, const Pool2dParams& p, Ptr s) {
    float_dispatch(dtype, "max_pool2d_backward", [&](auto t) {
      using T = decltype(t);
      max_pool2d_backward_cuda<T>(ptr<T>(dx), ptr<const T>(dy), ptr<const I64>(idx), p, stream_of(s));
    });
  });
  m.def("avg_pool2d_forward", [](Ptr y, Ptr x, const std::string& dtype, const Pool2dParams& p, Ptr s) {
    float_dispatch(dtype, "avg_pool2d", [&](auto t) {
      using T = decltype(t);
      avg_pool2d_forward_cuda<T>(ptr<T>(y), ptr<const T>(x), p, stream_of(s));
    });
  });
  m.def("avg_pool2d_backward", [](Ptr dx, Ptr dy, const std::string& dtype, const Pool2dParams& p, Ptr s) {
    float_dispatch(dtype, "avg_pool2d_backward", [&](auto t) {
      using T = decltype(t);
      avg_pool2d_backward_cuda<T>(ptr<T>(dx), ptr<const T>(dy), p, stream_of(s));
    });
  });
  m.def("max_unpool2d_forward",
        [](Ptr y, Ptr first_bad, Ptr x, Ptr idx, const std::string& dtype, const Pool2dParams& p, Ptr s) {
          float_dispatch(dtype, "max_unpool2d", [&](auto t) {
            using T = decltype(t);
            max_unpool2d_forward_cuda<T>(ptr<T>(y), ptr<unsigned long long>(first_bad), ptr<const T>(x),
                                         ptr<const I64>(idx), p, stream_of(s));
          });
        });
  m.def("max_unpool2d_backward",
        [](Ptr dx, Ptr first_bad, Ptr dy, Ptr idx, const std::string& dtype, const Pool2dParams& p, Ptr s) {
          float_dispatch(dtype, "max_unpool2d_backward", [&](auto t) {
            using T = decltype(t);
            max_unpool2d_backward_cuda<T>(ptr<T>(dx), ptr<unsigned long long>(first_bad), ptr<const T>(dy),
                                          ptr<const I64>(idx), p, stream_of(s));
          });
        });
}

// y = kernel(x) for the one-input families (upsample, bed of nails, pad), forward and backward.
template <typename P>
void bind_unary(py::module_& m, const char* name, const char* op, void (*f32)(float*, const float*, const P&, void*),
                void (*f64)(double*, const double*, const P&, void*)) {
  m.def(name, [=](Ptr out, Ptr in, const std::string& dtype, const P& p, Ptr s) {
    float_dispatch(dtype, op, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_same_v<T, float>)
        f32(ptr<float>(out), ptr<const float>(in), p, stream_of(s));
      else
        f64(ptr<double>(out), ptr<const double>(in), p, stream_of(s));
    });
  });
}

void bind_resample(py::module_& m) {
  bind_unary<UpsampleParams>(m, "upsample_forward", "interpolate", &upsample_forward_cuda<float>,
                             &upsample_forward_cuda<double>);
  bind_unary<UpsampleParams>(m, "upsample_backward", "interpolate", &upsample_backward_cuda<float>,
                             &upsample_backward_cuda<double>);
  bind_unary<BedOfNailsParams>(m, "bed_of_nails_forward", "upsample_bed_of_nails", &bed_of_nails_forward_cuda<float>,
                               &bed_of_nails_forward_cuda<double>);
  bind_unary<BedOfNailsParams>(m, "bed_of_nails_backward", "upsample_bed_of_nails",
                               &bed_of_nails_backward_cuda<float>, &bed_of_nails_backward_cuda<double>);
  bind_unary<PadParams>(m, "pad_forward", "pad", &pad_forward_cuda<float>, &pad_forward_cuda<double>);
  bind_unary<PadParams>(m, "pad_backward", "pad", &pad_backward_cuda<float>, &pad_backward_cuda<double>);
}

void bind_conv(py::module_& m) {
  m.def("im2col", [](Ptr col, Ptr x, index_t images, const std::string& dtype, const Conv2dParams& p, Ptr s) {
    float_dispatch(dtype, "conv2d", [&](auto t) {
      using T = decltype(t);
      im2col_cuda<T>(ptr<T>(col), ptr<const T>(x), images, p, stream_of(s));
    });
  });
  m.def("col2im", [](Ptr dx, Ptr col, index_t images, const std::string& dtype, const Conv2dParams& p, Ptr s) {
    float_dispatch(dtype, "conv2d", [&](auto t) {
      using T = decltype(t);
      col2im_cuda<T>(ptr<T>(dx), ptr<const T>(col), images, p, stream_of(s));
    });
  });
  m.def("conv_bias_grad", [](Ptr db, Ptr dy, index_t N, index_t C, index_t HW, const std::string& dtype, Ptr s) {
    float_dispatch(dtype, "conv2d", [&](auto t) {
      using T = decltype(t);
      conv_bias_grad_cuda<T>(ptr<T>(db), ptr<const T>(dy), N, C, HW, stream_of(s));
    });
  });
  m.def("depthwise_conv2d_forward",
        [](Ptr y, Ptr x, Ptr w, Ptr b, const std::string& dtype, const Conv2dParams& p, Ptr s) {
          float_dispatch(dtype, "conv2d", [&](auto t) {
            using T = decltype(t);
            depthwise_conv2d_forward_cuda<T>(ptr<T>(y), ptr<const T>(x), ptr<const T>(w), ptr<const T>(b), p,
                                             stream_of(s));
          });
        });
  m.def("depthwise_conv2d_backward", [](Ptr dx, Ptr dw, Ptr db, Ptr dy, Ptr x, Ptr w, const std::string& dtype,
                                        const Conv2dParams& p, Ptr s) {
    float_dispatch(dtype, "conv2d", [&](auto t) {
      using T = decltype(t);
      depthwise_conv2d_backward_cuda<T>(ptr<T>(dx), ptr<T>(dw), ptr<T>(db), ptr<const T>(dy), ptr<const T>(x),
                                        ptr<const T>(w), p, stream_of(s));
    });
  });
}

void bind_norm(py::module_& m) {
  m.def("batch_norm_forward", [](Ptr y, Ptr mean, Ptr rstd, Ptr rm, Ptr rv, Ptr x, Ptr g, Ptr b,
                                 const std::string& dtype, const NormParams& p, bool training, double momentum,
                                 bool relu, Ptr s) {
    float_dispatch(dtype, "batch_norm", [&](auto t) {
      using T = decltype(t);
      batch_norm_forward_cuda<T>(ptr<T>(y), ptr<double>(mean), ptr<double>(rstd), ptr<T>(rm), ptr<T>(rv),
                                 ptr<const T>(x), ptr<const T>(g), ptr<const T>(b), p, training, momentum, relu,
                                 stream_of(s));
    });
  });
  m.def("batch_norm_backward", [](Ptr dx, Ptr dg, Ptr db, Ptr work, Ptr dy, Ptr x, Ptr mean, Ptr rstd, Ptr g,
                                  const std::string& dtype, const NormParams& p, bool training, Ptr relu_out, Ptr s) {
    float_dispatch(dtype, "batch_norm_backward", [&](auto t) {
      using T = decltype(t);
      batch_norm_backward_cuda<T>(ptr<T>(dx), ptr<T>(dg), ptr<T>(db), ptr<double>(work), ptr<const T>(dy),
                                  ptr<const T>(x), ptr<const double>(mean), ptr<const double>(rstd), ptr<const T>(g),
                                  p, training, ptr<const T>(relu_out), stream_of(s));
    });
  });
  m.def("group_norm_forward", [](Ptr y, Ptr mean, Ptr rstd, Ptr x, Ptr g, Ptr b, const std::string& dtype,
                                 const NormParams& p, Ptr s) {
    float_dispatch(dtype, "group_norm", [&](auto t) {
      using T = decltype(t);
      group_norm_forward_cuda<T>(ptr<T>(y), ptr<double>(mean), ptr<double>(rstd), ptr<const T>(x), ptr<const T>(g),
                                 ptr<const T>(b), p, stream_of(s));
    });
  });
  m.def("group_norm_backward", [](Ptr dx, Ptr dg, Ptr db, Ptr work, Ptr dy, Ptr x, Ptr mean, Ptr rstd, Ptr g,
                                  const std::string& dtype, const NormParams& p, Ptr s) {
    float_dispatch(dtype, "group_norm_backward", [&](auto t) {
      using T = decltype(t);
      group_norm_backward_cuda<T>(ptr<T>(dx), ptr<T>(dg), ptr<T>(db), ptr<double>(work), ptr<const T>(dy),
                                  ptr<const T>(x), ptr<const double>(mean), ptr<const double>(rstd), ptr<const T>(g),
                                  p, stream_of(s));
    });
  });
  m.def("pixel_norm_forward", [](Ptr y, Ptr rstd, Ptr x, const std::string& dtype, const NormParams& p, Ptr s) {
    float_dispatch(dtype, "pixel_norm", [&](auto t) {
      using T = decltype(t);
      pixel_norm_forward_cuda<T>(ptr<T>(y), ptr<double>(rstd), ptr<const T>(x), p, stream_of(s));
    });
  });
  m.def("pixel_norm_backward",
        [](Ptr dx, Ptr dy, Ptr x, Ptr rstd, const std::string& dtype, const NormParams& p, Ptr s) {
          float_dispatch(dtype, "pixel_norm_backward", [&](auto t) {
            using T = decltype(t);
            pixel_norm_backward_cuda<T>(ptr<T>(dx), ptr<const T>(dy), ptr<const T>(x), ptr<const double>(rstd), p,
                                        stream_of(s));
          });
        });
}

}  // namespace

PYBIND11_MODULE(PYCNN_CUDA_MODULE, m) {
  m.doc() = "pycnn CUDA kernels on device pointers (a GPU, or the emulated device) and the device runtime";
  pycnn::bind_params(m);
  bind_runtime(m);
  bind_pool(m);
  bind_resample(m);
  bind_conv(m);
  bind_norm(m);
}
