// The Winograd tile transforms (winograd_loops.h) compiled with AVX2 flags (see CMakeLists.txt).
#include "winograd_loops.h"

namespace pycnn {

const WinogradLoops<float> winograd_loops_f32_avx2 = winograd_loop_table<float>();
const WinogradLoops<double> winograd_loops_f64_avx2 = winograd_loop_table<double>();

}  // namespace pycnn
