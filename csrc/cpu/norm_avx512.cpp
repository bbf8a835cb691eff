// The normalization loops (norm_loops.h) compiled with AVX-512 flags (see CMakeLists.txt).
#include "norm_loops.h"

namespace pycnn {

const NormLoops<float> norm_loops_f32_avx512 = norm_loop_table<float>();
const NormLoops<double> norm_loops_f64_avx512 = norm_loop_table<double>();

}  // namespace pycnn
