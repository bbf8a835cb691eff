#include "common.h"
#include <omp.h>

namespace pycnn {
int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) {
  PYCNN_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  omp_set_num_threads(n);
}
}  // namespace pycnn
