// Bindings of the pool family (see csrc/pool.h).
#include "bind_util.h"

void bind_pool(py::module_& m) {}
