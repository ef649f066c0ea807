"""The ``vh`` module of Verlihub Python scripts, run out of the hub process
by vh-runner.

Existing scripts keep working: ``import vh`` gives the functions,
constants and attributes the in-process plugin gave (spec/wrapper-abi.md
§7). Unlike there, every function may be called from any thread.

Attributes set when the worker loads the script (spec §7.3): ``myid``,
``botname``, ``opchatname``, ``name``, ``path``, ``basedir``,
``config_name``, ``starttime``.
"""

from __future__ import annotations

from . import _api
from ._api import decode, encode
from ._constants import *  # noqa: F403
from ._runtime import NotConnectedError

__version__ = (1, 6, 0, 0)
__version_string__ = "1.6.0.0"

myid: int = -1
botname: str = ""
opchatname: str = ""
name: str = ""
path: str = ""
basedir: str = ""
config_name: str = ""
starttime: int = 0

_g = globals()
for _fn in _api.FUNCTIONS:
    _g[_fn.name] = _fn
del _g, _fn

# Generation B's spellings of encode/decode (spec §7.2).
Encode = encode
Decode = decode


__all__ = ["NotConnectedError", "encode", "decode", "Encode", "Decode"]
