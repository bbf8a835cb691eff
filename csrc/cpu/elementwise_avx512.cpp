// The elementwise loops (elementwise_loops.h) compiled with AVX-512 flags (see CMakeLists.txt).
#include "elementwise_loops.h"

namespace pycnn {

const ElementwiseLoops<float> elementwise_loops_f32_avx512 = elementwise_loop_table<float>();
const ElementwiseLoops<double> elementwise_loops_f64_avx512 = elementwise_loop_table<double>();

}  // namespace pycnn
