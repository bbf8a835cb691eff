// Device queries and a device buffer: csrc/cuda/device.cu on a GPU (the CUDA runtime, linked
// statically), csrc/cuda/emu/device_emu.cpp on the emulated device.  Plain C++ (no CUDA
// headers) so that the pybind11 binding file compiles with the host compiler.
#pragma once
#include <cstddef>
#include <string>

namespace pycnn::cuda {

// 0 when no driver/GPU is present (cudaGetDeviceCount's error means "not available").
int device_count();
// Name and properties of device `index`; throws std::runtime_error on a bad index.
std::string device_name(int index);
struct DeviceProperties {
  std::string name;
  std::size_t total_memory;
  int major, minor, multi_processor_count;
};
DeviceProperties device_properties(int index);
// Waits for every kernel queued on the device (cudaDeviceSynchronize); raises a pending error.
void synchronize();
// The error a kernel left (cudaGetLastError after a synchronize), as std::runtime_error.
void check_last_error(const char* what);

// Owning device allocation (cudaMalloc / cudaFree) with host<->device copies.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes, int device = 0);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void copy_from_host(const void* src, std::size_t bytes);
  void copy_to_host(void* dst, std::size_t bytes) const;
  std::size_t size() const { return bytes_; }
  int device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  int device_ = 0;
};

}  // namespace pycnn::cuda
