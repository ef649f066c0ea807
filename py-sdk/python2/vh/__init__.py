# -*- coding: utf-8 -*-
"""The ``vh`` module of Verlihub Python 2 scripts, run out of the hub
process by vh-runner in a Python 2.7 worker.

Scripts written for python_pi 1.6 (generation A, Python 2.7) run
unchanged: ``import vh`` gives the functions, constants and attributes of
docs/abi.md §7 (A column), with hub strings as Python 2 ``str``
holding the hub's bytes untouched. Unlike in the hub, every function may
be called from any thread of the script (a call off the main thread waits
for the hub's next entry into the shim).

What both workers share is the Python 3 SDK's own files, which the runner
writes into this package (``runner/src/py2.rs``, ``SHARED``): the function
table (names, parameters, defaults, result kinds, which sends are
pipelined), the hook table, the constants, the script attributes, the
limits, the main thread's switch over its events (``_main_loop.py``) and
the discarded-result detector. Only the Python 2 transport, runtime and
codec live here (``py-sdk/python2/vh/``).

Attributes set when the worker loads the script (§7.3): ``myid``,
``botname``, ``opchatname``, ``name``, ``path``, ``basedir``,
``config_name``, ``starttime``.
"""

from . import _api, _attributes

# Exported by name through _attributes.SHARED_NAMES.
from ._api import decode, encode  # noqa: F401
from ._constants import *  # noqa: F403
from ._errors import MessageTooBigError, NotConnectedError, VhError  # noqa: F401

__version__ = (1, 6, 0, 0)
__version_string__ = "1.6.0.0"

myid = -1
botname = b""
opchatname = b""
name = b""
path = b""
basedir = b""
config_name = b""
starttime = 0
#: vh-runner extra: Python codec name of the hub's encoding (for scripts
#: that want to decode hub bytes themselves).
hub_encoding = "cp1252"

_attributes.add_functions(globals(), _api.CLASSIC_FUNCTIONS)

__all__ = (
    [fn.__name__ for fn in _api.CLASSIC_FUNCTIONS]
    + [n for n in dir() if n.startswith(("eCR_", "eBOT_", "eBF_"))]
    + list(_attributes.ATTRIBUTES)
    + list(_attributes.SHARED_NAMES)
)
