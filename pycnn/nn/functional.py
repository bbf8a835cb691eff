"""``import pycnn.nn.functional as F`` (torch's import path): this module *is* pycnn.functional."""
import sys

from .. import functional as _functional

sys.modules[__name__] = _functional
