// The elementwise loops (elementwise_loops.h) compiled with AVX2 flags (see CMakeLists.txt).
#include "elementwise_loops.h"

namespace pycnn {

const ElementwiseLoops<float> elementwise_loops_f32_avx2 = elementwise_loop_table<float>();
const ElementwiseLoops<double> elementwise_loops_f64_avx2 = elementwise_loop_table<double>();

}  // namespace pycnn
