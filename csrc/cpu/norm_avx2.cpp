// The normalization loops (norm_loops.h) compiled with AVX2 flags (see CMakeLists.txt).
#include "norm_loops.h"

namespace pycnn {

const NormLoops<float> norm_loops_f32_avx2 = norm_loop_table<float>();
const NormLoops<double> norm_loops_f64_avx2 = norm_loop_table<double>();

}  // namespace pycnn
