// Block reductions for the CUDA kernels: a fixed order (warp shuffles, then the warps' partials
// through shared memory), so a reduction is deterministic, with no atomics.
#pragma once
#include "cuda/cuda_compat.h"

namespace pycnn::cuda {

constexpr int kMaxWarps = 32;  // 1024 threads

// The sum of v over the block's threads; every thread gets it.  blockDim.x is a multiple of 32;
// smem holds kMaxWarps values of A and is free again when this returns.
template <typename A>
__device__ __forceinline__ A block_sum(A v, A* smem) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32, warps = int(blockDim.x) / 32;
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    A total = lane < warps ? smem[lane] : A(0);
    for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_down_sync(0xffffffffu, total, offset);
    if (lane == 0) smem[0] = total;
  }
  __syncthreads();
  const A total = smem[0];
  __syncthreads();  // every thread has read smem[0] before the next reduction writes it
  return total;
}

// Threads per block for a reduction over `n` values: a power of two from 32 to 256 (small sets get
// one warp: cheap on the emulated device, and no idle warps on a GPU).
inline int reduction_threads(index_t n) {
  int t = 32;
  while (t < 256 && t < n) t *= 2;
  return t;
}

}  // namespace pycnn::cuda
