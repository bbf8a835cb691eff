// The one include of every CUDA source (csrc/cuda/*.cu).  The same sources build twice:
//   - with nvcc, for a GPU (pycnn._cuda): CUDA's own runtime and <<<grid, block, smem, stream>>>;
//   - as host C++ with PYCNN_CUDA_EMULATED, against the emulated device (pycnn._cuda_emu,
//     csrc/cuda/emu/emulator.h), which CI runs on every test table without a GPU.
// Kernels therefore use only what both provide: threadIdx / blockIdx / blockDim / gridDim,
// __syncthreads, static __shared__ arrays, PYCNN_DYNAMIC_SHARED, the *_sync shuffles, atomicAdd
// on float/double, and the PYCNN_HD helpers of the family headers; every launch goes through
// launch() below.  A kernel's name ends in _kernel, its launcher's does not.
#pragma once
#include <math.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(PYCNN_CUDA_EMULATED)
#include "cuda/emu/emulator.h"
#else
#include <cuda_runtime.h>
#endif

#include "common.h"

// T* name = the block's dynamic shared memory (the launch's smem bytes), aligned for doubles.
#if defined(PYCNN_CUDA_EMULATED)
#define PYCNN_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::pycnn_emu::dynamic_shared())
#else
#define PYCNN_DYNAMIC_SHARED(T, name)                                   \
  extern __shared__ __align__(16) unsigned char pycnn_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(pycnn_dynamic_smem_)
#endif

namespace pycnn::cuda {

constexpr int kThreads = 256;  // threads per block of the one-thread-per-element kernels

// Blocks for a grid-stride loop over n elements.  On a GPU: enough to fill it (grid-stride beyond
// 2^16 blocks); on the emulated device a few blocks of fibers, so the loops stride several times.
inline unsigned grid_for(index_t n, int threads = kThreads) {
#if defined(PYCNN_CUDA_EMULATED)
  const index_t cap = 4;
#else
  const index_t cap = index_t(1) << 16;
#endif
  const index_t blocks = (n + threads - 1) / threads;
  return unsigned(blocks < 1 ? 1 : blocks > cap ? cap : blocks);
}

// A grid-stride loop over [0, n): `for (index_t i : grid_stride(n))`-style, as a plain for.
#define PYCNN_GRID_STRIDE(i, n)                                                                   \
  for (::pycnn::index_t i = ::pycnn::index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += ::pycnn::index_t(blockDim.x) * gridDim.x)

// kernel<<<grid, block, smem, stream>>>(args...), or the same on the emulated device; a failed
// launch raises std::runtime_error naming the kernel.  Launches are asynchronous on a GPU (no
// host synchronization here) and synchronous on the emulated device.
template <typename... KArgs, typename... Args>
void launch(const char* name, void (*kernel)(KArgs...), dim3 grid, dim3 block, std::size_t smem, void* stream,
            Args... args) {
#if defined(PYCNN_CUDA_EMULATED)
  (void)stream;
  ::pycnn_emu::launch(name, grid, block, smem, [&] { kernel(args...); });
#else
  kernel<<<grid, block, smem, static_cast<cudaStream_t>(stream)>>>(args...);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("pycnn.cuda: launching ") + name + " failed: " + cudaGetErrorString(err));
#endif
}

// One thread per element: kernel(args..., n) over [0, n) with a grid-stride loop inside.
template <typename... KArgs, typename... Args>
void launch_elementwise(const char* name, void (*kernel)(KArgs...), index_t n, void* stream, Args... args) {
  if (n <= 0) return;
  launch(name, kernel, dim3(grid_for(n)), dim3(kThreads), 0, stream, args...);
}

// Device helpers both builds provide.
template <typename T>
PYCNN_HD bool is_nan(T v) { return v != v; }
template <typename T>
PYCNN_HD T neg_infinity() { return T(-HUGE_VAL); }

}  // namespace pycnn::cuda
