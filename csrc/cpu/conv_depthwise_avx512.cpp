// The depthwise conv's flat-form loops (depthwise_loops.h) compiled with AVX-512 flags (see CMakeLists.txt).
#include "depthwise_loops.h"

namespace pycnn {

const DepthwiseLoops<float> depthwise_loops_f32_avx512 = depthwise_loop_table<float>();
const DepthwiseLoops<double> depthwise_loops_f64_avx512 = depthwise_loop_table<double>();

}  // namespace pycnn
