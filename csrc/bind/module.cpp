// pycnn._C: the CPU module.  Registers every op family and build facts.
#include <omp.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bind_util.h"
#include "cpu/simd.h"
#include "gemm.h"

namespace {

// Large arrays (activations, gradients, im2col buffers: 1-32 MB each in a small CNN) would come
// from mmap and go back to the OS when freed, so every training step page-faults them in again
// (a fresh 4 MB array costs about 0.4 ms of faults on the development machine: a quarter of a
// ResNet-8 step).  A fixed mmap threshold of 32 MB (glibc's maximum on 64-bit) and a 1 GB trim
// threshold keep freed blocks in the heap for the next step; RSS then stays near the peak
// working set instead of shrinking between steps.  The setting is process-wide (it helps every
// malloc user in the process); PYCNN_MALLOC_TUNING=0 leaves glibc's defaults.  Returns whether
// it was applied.
bool tune_malloc() {
#if defined(__GLIBC__)
  const char* env = std::getenv("PYCNN_MALLOC_TUNING");
  if (env && std::strcmp(env, "0") == 0) return false;
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  static const bool malloc_tuned = tune_malloc();
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
    d["malloc_tuned"] = malloc_tuned;  // see tune_malloc
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
