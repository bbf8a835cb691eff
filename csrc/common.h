// Shared helpers for every op family: error checks that become clear Python
// exceptions, integer helpers, and the OpenMP thread count.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pycnn {

using index_t = std::int64_t;

// Builds a message from any streamable pieces: msg("conv2d: weight ", shape).
template <typename... Args>
std::string msg(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// pybind11 maps std::invalid_argument -> ValueError, std::runtime_error -> RuntimeError.
#define PYCNN_CHECK(cond, ...)                                   \
  do {                                                           \
    if (!(cond)) throw std::invalid_argument(::pycnn::msg(__VA_ARGS__)); \
  } while (0)

inline std::string shape_str(const std::vector<index_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

// Number of OpenMP threads the kernels will use (honours OMP_NUM_THREADS).
int num_threads();
void set_num_threads(int n);

}  // namespace pycnn
