// The SIMD level of the CPU kernels (simd.h): CPU feature detection and the level in force.
#include "simd.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "common.h"

namespace pycnn {
namespace {

const char* const kLevelNames[] = {"generic", "avx2", "avx512"};

// -1 for an unknown name.
int parse_level(const std::string& name) {
  for (int l = kSimdGeneric; l <= kSimdAvx512; ++l)
    if (name == kLevelNames[l]) return l;
  return -1;
}

int best_supported_level() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return kSimdAvx512;
  if (avx2) return kSimdAvx2;
#endif
  return kSimdGeneric;
}

// The best level the CPU has, capped by PYCNN_SIMD when set.
int auto_level() {
  const int best = best_supported_level();
  const char* env = std::getenv("PYCNN_SIMD");
  if (env == nullptr || *env == '\0') return best;
  const int cap = parse_level(env);
  if (cap < 0) {
    std::fprintf(stderr, "pycnn: ignoring PYCNN_SIMD=%s (expected generic, avx2 or avx512)\n", env);
    return best;
  }
  return std::min(cap, best);
}

std::atomic<int>& active_level() {
  static std::atomic<int> level{auto_level()};
  return level;
}

}  // namespace

int active_simd_level() { return active_level().load(std::memory_order_relaxed); }

const char* simd_level() { return kLevelNames[active_level().load()]; }

void set_simd_level(const std::string& level) {
  if (level.empty()) {
    active_level().store(auto_level());
    return;
  }
  const int wanted = parse_level(level);
  PYCNN_CHECK(wanted >= 0, "set_simd_level: unknown level '", level,
              "' (expected 'generic', 'avx2', 'avx512' or '' for the best available)");
  const int best = best_supported_level();
  PYCNN_CHECK(wanted <= best, "set_simd_level: '", level, "' is not supported by this CPU (best: ",
              kLevelNames[best], ")");
  active_level().store(wanted);
}

}  // namespace pycnn
