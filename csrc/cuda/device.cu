// Device discovery, synchronization and a raw device buffer on the CUDA runtime (linked
// statically, so the module loads on machines without a driver).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda_device.h"

namespace pycnn::cuda {
namespace {
void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("pycnn.cuda: ") + what + ": " + cudaGetErrorString(err));
}
void check_index(int index) {
  const int n = device_count();
  if (index < 0 || index >= n)
    throw std::runtime_error("pycnn.cuda: device index " + std::to_string(index) +
                             " out of range (device_count() = " + std::to_string(n) + ")");
}
}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

DeviceProperties device_properties(int index) {
  check_index(index);
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  return {p.name, p.totalGlobalMem, p.major, p.minor, p.multiProcessorCount};
}

std::string device_name(int index) { return device_properties(index).name; }

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void check_last_error(const char* what) { check(cudaGetLastError(), what); }

DeviceBuffer::DeviceBuffer(std::size_t bytes, int device) : bytes_(bytes), device_(device) {
  check_index(device);
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaMalloc(&ptr_, bytes ? bytes : 1), "cudaMalloc");
}
DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}
void DeviceBuffer::copy_from_host(const void* src, std::size_t bytes) {
  if (bytes > bytes_) throw std::runtime_error("pycnn.cuda: copy_from_host larger than the buffer");
  check(cudaMemcpy(ptr_, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host->device");
}
void DeviceBuffer::copy_to_host(void* dst, std::size_t bytes) const {
  if (bytes > bytes_) throw std::runtime_error("pycnn.cuda: copy_to_host larger than the buffer");
  check(cudaMemcpy(dst, ptr_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device->host");
}

}  // namespace pycnn::cuda
