"""pycnn.functional: stateless ops, named and defaulted as ``torch.nn.functional``.

Each op family lives in its own file: _basic (activations, linear, losses,
dropout), _conv, _pool, _norm, _upsample.
"""
from ._basic import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pool import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._conv_extra import *  # noqa: F401,F403
from ._upsample import *  # noqa: F401,F403
from ._activation import *  # noqa: F401,F403
