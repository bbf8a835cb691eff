// Bindings of the conv family (see csrc/conv.h).
#include "bind_util.h"

void bind_conv(py::module_& m) {}
