// The SIMD level every run-time dispatched CPU kernel uses: one choice for the whole library,
// made in gemm.cpp (the CPU's best level capped by PYCNN_SIMD, or set_simd_level, see gemm.h).
// A declaration and an enum only, so it is safe to include from ISA-specific files.
#pragma once

namespace pycnn {

enum SimdLevel : int { kSimdGeneric = 0, kSimdAvx2 = 1, kSimdAvx512 = 2 };

// The level in force now (a SimdLevel); cheap (one relaxed atomic load).
int active_simd_level();

}  // namespace pycnn
