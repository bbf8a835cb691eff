// Kernels that test the emulated device itself (pycnn._cuda_emu._selftest, tests/test_cuda.py): a
// block reduction through shared memory with its barriers, the same with one barrier left out
// (must give a wrong sum: the emulator runs a block's threads as fibers, so a missing
// __syncthreads reads shared memory another thread has not written yet), a warp-shuffle sum, a
// __syncthreads that only some threads reach (must raise: a deadlock), and atomicAdd from many
// blocks.  Built only into the emulated module.
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/cuda_compat.h"

namespace pycnn::cuda {

namespace {

constexpr int kBlock = 64;

// out[blockIdx.x] = the sum of the block's 64 values, by a shared-memory tree.
__global__ void tree_sum_kernel(double* out, const double* x, bool barriers) {
  __shared__ double smem[kBlock];
  const int t = int(threadIdx.x);
  smem[t] = x[blockIdx.x * kBlock + t];
  if (barriers) __syncthreads();  // every value stored before any thread reads its partner's
  for (int s = kBlock / 2; s > 0; s /= 2) {
    if (t < s) smem[t] += smem[t + s];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = smem[0];
}

__global__ void shuffle_sum_kernel(double* out, const double* x) {
  double v = x[blockIdx.x * 32 + threadIdx.x];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

__global__ void partial_barrier_kernel(double* out) {
  if (threadIdx.x < 16) {
    __syncthreads();  // threads 16.. wait at a warp barrier instead: neither barrier can complete
    out[threadIdx.x] = 1;
  } else {
    __syncwarp();
  }
}

__global__ void atomic_add_kernel(double* out, const double* x, index_t n) {
  PYCNN_GRID_STRIDE(i, n) { atomicAdd(out, x[i]); }
}

}  // namespace

// kind: "tree_sum", "tree_sum_missing_barrier", "shuffle_sum", "deadlock", "atomic_add".
std::vector<double> emulator_selftest(const std::string& kind, const std::vector<double>& x) {
  std::vector<double> out;
  if (kind == "tree_sum" || kind == "tree_sum_missing_barrier") {
    if (x.size() % kBlock) throw std::invalid_argument("selftest: tree_sum takes a multiple of 64 values");
    out.assign(x.size() / kBlock, 0.0);
    launch(kind.c_str(), &tree_sum_kernel, dim3(unsigned(out.size())), dim3(kBlock), 0, nullptr, out.data(), x.data(),
           kind == "tree_sum");
  } else if (kind == "shuffle_sum") {
    if (x.size() % 32) throw std::invalid_argument("selftest: shuffle_sum takes a multiple of 32 values");
    out.assign(x.size() / 32, 0.0);
    launch(kind.c_str(), &shuffle_sum_kernel, dim3(unsigned(out.size())), dim3(32), 0, nullptr, out.data(), x.data());
  } else if (kind == "deadlock") {
    out.assign(32, 0.0);
    launch(kind.c_str(), &partial_barrier_kernel, dim3(1), dim3(32), 0, nullptr, out.data());
  } else if (kind == "atomic_add") {
    out.assign(1, 0.0);
    launch(kind.c_str(), &atomic_add_kernel, dim3(7), dim3(32), 0, nullptr, out.data(), x.data(), index_t(x.size()));
  } else {
    throw std::invalid_argument("selftest: unknown kind '" + kind + "'");
  }
  return out;
}

}  // namespace pycnn::cuda
