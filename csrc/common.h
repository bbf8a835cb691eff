// Shared by every op family and every backend (reference, CPU, CUDA, the emulated CUDA device):
// the index type, PYCNN_HD for helpers that kernels on both sides call, error checks that become
// clear Python exceptions, and overflow-checked size arithmetic.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// A helper compiled for both the host and the device: the index maps, output-size formulas and
// Params methods that a CUDA kernel and a CPU loop share.  Empty in plain C++ (the CPU build and
// the emulated CUDA device, which runs the kernels as host code).
#if defined(__CUDACC__)
#define PYCNN_HD __host__ __device__ __forceinline__
#else
#define PYCNN_HD inline
#endif

namespace pycnn {

using index_t = std::int64_t;
using Shape = std::vector<index_t>;

// min / max usable in device code (std::min is not, without --expt-relaxed-constexpr).
template <typename T>
PYCNN_HD T hd_min(T a, T b) { return b < a ? b : a; }
template <typename T>
PYCNN_HD T hd_max(T a, T b) { return a < b ? b : a; }
PYCNN_HD index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

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

inline std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

// The op a params constructor validates for, as its messages name it: the user-facing name and
// the number of spatial dims the user gave (1-D ops run the 2-D kernels with H = 1; their
// messages print the user's (N, C, L) shapes and one-value arguments).
struct OpInfo {
  const char* name;
  int spatial = 2;
  OpInfo(const char* n, int s = 2) : name(n), spatial(s) {}  // NOLINT: "conv2d" converts
};
inline std::ostream& operator<<(std::ostream& os, const OpInfo& op) { return os << op.name; }

// (h, w) as the op's user wrote it: "(h, w)" for 2-D ops, "(w,)" for 1-D ones.
inline std::string pair_str(const OpInfo& op, index_t h, index_t w) {
  return op.spatial == 1 ? shape_str({w}) : shape_str({h, w});
}
// A lifted (N, C, H, W) shape as the user's (N, C, H, W) or (N, C, L).
inline std::string shape4_str(const OpInfo& op, const index_t* s) {
  return op.spatial == 1 ? shape_str({s[0], s[1], s[3]}) : shape_str({s[0], s[1], s[2], s[3]});
}

// Size arithmetic that raises (ValueError naming the op and what was computed) instead of
// wrapping around: every output size and buffer size goes through these.
inline index_t checked_add(index_t a, index_t b, const char* op, const char* what) {
  index_t r;
  PYCNN_CHECK(!__builtin_add_overflow(a, b, &r), op, ": ", what, " overflows int64 (", a, " + ", b, ")");
  return r;
}
inline index_t checked_mul(index_t a, index_t b, const char* op, const char* what) {
  index_t r;
  PYCNN_CHECK(!__builtin_mul_overflow(a, b, &r), op, ": ", what, " overflows int64 (", a, " * ", b, ")");
  return r;
}
// The number of elements of a shape (each size >= 0), or a ValueError naming the shape when it
// overflows.
inline index_t checked_numel(std::initializer_list<index_t> sizes, const char* op, const char* what) {
  index_t n = 1;
  for (index_t s : sizes)
    PYCNN_CHECK(!__builtin_mul_overflow(n, s, &n), op, ": ", what, " ", shape_str(Shape(sizes)),
                " has more elements than int64 can count");
  return n;
}

// Number of OpenMP threads the CPU kernels will use (honours OMP_NUM_THREADS).
int num_threads();
void set_num_threads(int n);

}  // namespace pycnn
