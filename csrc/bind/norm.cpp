// Bindings of the norm family (see csrc/norm.h).
#include "bind_util.h"

void bind_norm(py::module_& m) {}
