// pycnn._C: the CPU module.  Registers every op family and build facts.
#include <omp.h>

#include "bind_util.h"
#include "cpu/simd.h"
#include "gemm.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "pycnn native CPU kernels (C++/OpenMP)";
  m.def("build_info", [] {
    py::dict d;
    d["version"] = PYCNN_VERSION;
    d["compiler"] = PYCNN_CXX_COMPILER;
    d["openmp"] = _OPENMP;
    d["num_threads"] = pycnn::num_threads();
    d["simd"] = pycnn::simd_level();
    d["cuda_built"] = bool(PYCNN_CUDA_BUILT);
    d["cuda_emulator_built"] = bool(PYCNN_CUDA_EMULATOR_BUILT);
    return d;
  });
  m.def("get_num_threads", &pycnn::num_threads);
  m.def("set_num_threads", &pycnn::set_num_threads, py::arg("n"));
  m.def("simd_level", &pycnn::simd_level);
  m.def("set_simd_level", &pycnn::set_simd_level, py::arg("level"),
        "Force the micro-kernel family: 'generic', 'avx2', 'avx512' or '' for the best available.");
  pycnn::bind_params(m);
  bind_gemm(m);
  bind_conv(m);
  bind_pool(m);
  bind_norm(m);
  bind_pad(m);
  bind_upsample(m);
  bind_elementwise(m);
}
