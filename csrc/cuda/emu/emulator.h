// The emulated CUDA device: the built-ins a pycnn kernel uses, for compiling the same .cu sources
// as host C++ (PYCNN_CUDA_EMULATED).  A launch runs its blocks one after another (each block on
// one OS thread, blocks spread over the launch's worker threads) and the threads of a block as
// fibers that run concurrently in the sense that matters: a thread runs until it finishes or
// reaches a barrier (__syncthreads, or a warp shuffle's lane exchange), and every thread of the
// block reaches the barrier before any goes on.  So a missing __syncthreads reads what another
// thread has not written yet and gives a wrong result, as on a GPU; under ThreadSanitizer the
// fibers are annotated as separate contexts synchronized only by the barriers, so TSan names the
// racing lines.
//
// What it does not model: performance, the memory model beyond barriers and atomics, warp
// divergence (a shuffle needs every lane of its warp), launch limits, registers.
//
// Memory is host memory (the Python side passes numpy buffers); the kernels see plain pointers.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

namespace pycnn_emu {

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}  // NOLINT
};

// The current thread's indices and its launch's sizes (fiber-local, set by the scheduler).
struct ThreadContext {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};
const ThreadContext& context();
void* dynamic_shared();  // the block's dynamic shared memory (the launch's smem bytes)

// Block and warp barriers (the warp's lanes that exist must all reach it).
void syncthreads();
void syncwarp();
// Lane exchange for the shuffles: every lane of the warp publishes `bits`, then reads lane `src`'s
// (its own when src is out of range); two warp barriers around the exchange.
std::uint64_t warp_exchange(std::uint64_t bits, int src);
int lane_id();

// Runs body() once per CUDA thread of a grid x block launch with smem bytes of dynamic shared
// memory; returns when every block has finished (launches are synchronous here).  Throws
// std::runtime_error for an empty or oversized launch or a deadlock (threads waiting at
// different barriers).
void launch(const char* name, dim3 grid, dim3 block, std::size_t smem, const std::function<void()>& body);

template <typename T>
std::uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8, "shuffles of up to 8 bytes");
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
T from_bits(std::uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace pycnn_emu

// ------------------------------------------------------------------ the CUDA names
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Blocks of one launch may run on several OS threads at once: per-thread statics.
#define __shared__ static thread_local
#define threadIdx (::pycnn_emu::context().thread_idx)
#define blockIdx (::pycnn_emu::context().block_idx)
#define blockDim (::pycnn_emu::context().block_dim)
#define gridDim (::pycnn_emu::context().grid_dim)
#define warpSize 32
using dim3 = ::pycnn_emu::dim3;
using cudaStream_t = void*;

inline void __syncthreads() { ::pycnn_emu::syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::pycnn_emu::syncwarp(); }

template <typename T>
T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  const int lane = ::pycnn_emu::lane_id();
  const int src = (lane / width) * width + (src_lane % width);
  return ::pycnn_emu::from_bits<T>(::pycnn_emu::warp_exchange(::pycnn_emu::to_bits(v), src));
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = ::pycnn_emu::lane_id();
  const int src = (lane % width) + int(delta) < width ? lane + int(delta) : lane;
  return ::pycnn_emu::from_bits<T>(::pycnn_emu::warp_exchange(::pycnn_emu::to_bits(v), src));
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int lane = ::pycnn_emu::lane_id();
  const int src = ((lane % width) ^ mask) < width ? (lane / width) * width + ((lane % width) ^ mask) : lane;
  return ::pycnn_emu::from_bits<T>(::pycnn_emu::warp_exchange(::pycnn_emu::to_bits(v), src));
}

// Atomics: compare-and-swap on the bits (blocks on different OS threads may update the same
// address).
template <typename T>
T __pycnn_emu_atomic_add(T* address, T val) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "4- or 8-byte atomics");
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U* p = reinterpret_cast<U*>(address);
  U old_bits = __atomic_load_n(p, __ATOMIC_RELAXED);
  for (;;) {
    T old_v;
    std::memcpy(&old_v, &old_bits, sizeof(T));
    const T new_v = old_v + val;
    U new_bits;
    std::memcpy(&new_bits, &new_v, sizeof(T));
    if (__atomic_compare_exchange_n(p, &old_bits, new_bits, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return old_v;
  }
}
inline float atomicAdd(float* a, float v) { return __pycnn_emu_atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return __pycnn_emu_atomic_add(a, v); }
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_ACQ_REL); }
inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) {
  unsigned long long old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (v < old && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
  }
  return old;
}

template <typename T>
inline T __ldg(const T* p) { return *p; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
