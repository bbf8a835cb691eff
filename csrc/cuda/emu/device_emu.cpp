// The emulated CUDA device's runtime (cuda_device.h): one device whose memory is host memory;
// kernels run synchronously, so synchronize() has nothing to wait for.
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "cuda_device.h"

namespace pycnn::cuda {

namespace {
void check_index(int index) {
  if (index != 0)
    throw std::runtime_error("pycnn.cuda: device index " + std::to_string(index) +
                             " out of range (the emulated CUDA device has device_count() = 1)");
}
}  // namespace

int device_count() { return 1; }

DeviceProperties device_properties(int index) {
  check_index(index);
  return {"pycnn emulated CUDA device (host memory, fibers)", std::size_t(0), 0, 0, 1};
}

std::string device_name(int index) { return device_properties(index).name; }

void synchronize() {}

void check_last_error(const char*) {}

DeviceBuffer::DeviceBuffer(std::size_t bytes, int device) : bytes_(bytes), device_(device) {
  check_index(device);
  ptr_ = std::malloc(bytes ? bytes : 1);
  if (!ptr_) throw std::bad_alloc();
}
DeviceBuffer::~DeviceBuffer() { std::free(ptr_); }
void DeviceBuffer::copy_from_host(const void* src, std::size_t bytes) {
  if (bytes > bytes_) throw std::runtime_error("pycnn.cuda: copy_from_host larger than the buffer");
  std::memcpy(ptr_, src, bytes);
}
void DeviceBuffer::copy_to_host(void* dst, std::size_t bytes) const {
  if (bytes > bytes_) throw std::runtime_error("pycnn.cuda: copy_to_host larger than the buffer");
  std::memcpy(dst, ptr_, bytes);
}

}  // namespace pycnn::cuda
