// The one SIMD dispatch point of the CPU kernels: the level in force for the whole library,
// picked once from the CPU's flags (csrc/cpu/simd.cpp), capped by PYCNN_SIMD=generic|avx2|avx512
// or forced by set_simd_level (so the tests run every variant on one machine).
//
// The ISA mechanism, the same for every family: a family's code for one ISA lives in its own
// translation unit (<family>_avx2.cpp, <family>_avx512.cpp, built with that ISA's flags by
// CMakeLists.txt, never -march=native) with internal linkage (an anonymous namespace, or a header
// of templates included inside one), and the unit exports one table of function pointers per
// element type (gemm_kernels_f32_avx2, norm_loops_f64_avx512, ...), declared in a header with no
// inline code.  The baseline file picks a table by active_simd_level().  Why: an inline function
// or template shared with baseline code could be merged by the linker into its AVX copy, which
// then runs (SIGILL) on a CPU without AVX; with internal linkage and tables, `nm --defined-only`
// on an ISA object lists only its tables.
#pragma once
#include <string>

namespace pycnn {

enum SimdLevel : int { kSimdGeneric = 0, kSimdAvx2 = 1, kSimdAvx512 = 2 };

// The level in force now (a SimdLevel); cheap (one relaxed atomic load).
int active_simd_level();
// Its name: "generic", "avx2" or "avx512".
const char* simd_level();
// Force a level ("generic", "avx2", "avx512", or "" for the best the CPU has, capped by
// PYCNN_SIMD); throws std::invalid_argument for an unknown or unsupported one.
void set_simd_level(const std::string& level);

// A family's table for the level in force, of its three (the generic one the baseline file's own
// copy).  Baseline files only: no ISA file includes this header, so this template is never
// compiled with ISA flags (the merge hazard above).
template <typename Table>
const Table& active_table(const Table& generic, const Table& avx2, const Table& avx512) {
  switch (active_simd_level()) {
    case kSimdAvx512: return avx512;
    case kSimdAvx2: return avx2;
    default: return generic;
  }
}

}  // namespace pycnn
