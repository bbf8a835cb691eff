"""pycnn.nn: Module, Parameter and layers with torch.nn's names and state_dict keys."""
from . import init, parallel  # noqa: F401
from .module import Module, Parameter  # noqa: F401
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential  # noqa: F401
from .layers import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .conv_extra import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
from .zoo_layers import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from . import utils  # noqa: F401
from .. import functional  # noqa: F401
