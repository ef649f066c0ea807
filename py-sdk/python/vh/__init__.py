"""The ``vh`` module of Verlihub Python scripts, run out of the hub process
by vh-runner.

Existing scripts keep working: ``import vh`` gives the functions,
constants and attributes the in-process plugin gave (docs/abi.md
§7), with the results of the hub's plugin generation (A: python_pi 1.6,
B: 1.7; a script may choose the other in runner.toml, see ``vh._semantics``
and docs/compatibility.md). Unlike there, every function may be called
from any thread of the script.

Also there: generation B's ``vh.CallDynamicFunction`` (C functions other
plugins register, docs/abi.md §3.10) and the names the plugin's documentation
shows but neither wrapper had (``vh.SendToAll``, ``eCR_PLUGIN``,
``eCR_BANNED``, ``eBF_REVERSE``, the ``eIT_*`` config types; see
``vh._extras``).

Added for new scripts (docs/script-authors.md):

* ``vh.strict``: the same functions raising :class:`HubRefusedError` /
  :class:`HubTimeoutError` instead of returning ``False``/``None``;
* ``vh.aio``: awaitable forms of them, ``async def`` hooks, and the
  worker's asyncio loop for servers (``vh.aio.run_in_background``);
* ``vh.hooks``: types of the hook functions, for mypy;
* ``vh.testing`` and the pytest fixture ``vh_hub``: a fake hub to test a
  script without a hub or a runner.

Attributes set when the worker loads the script (docs/abi.md §7.3): ``myid``,
``botname``, ``opchatname``, ``name``, ``path``, ``basedir``,
``config_name``, ``starttime``.
"""

from __future__ import annotations

import importlib
from os import environ as _environ

from . import _api, _attributes, _constants, _extras

# Exported by name through _attributes.SHARED_NAMES.
from ._api import decode, encode  # noqa: F401
from ._constants import *  # noqa: F403
from ._errors import (  # noqa: F401
    HubRefusedError,
    HubTimeoutError,
    MessageTooBigError,
    NotConnectedError,
    VhError,
)
from ._extras import *  # noqa: F403

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
#: vh-runner extra: Python codec name of the hub's encoding (``cp1251``);
#: nicks and messages are decoded with it and ``surrogateescape``.
hub_encoding: str = "cp1252"
#: vh-runner extra: the script's own state folder, the one place a
#: sandboxed script may write (docs/admin.md "Sandbox"); the runner makes it
#: and passes it as ``VH_STATE_DIR``. ``""`` when there is none.
state_dir: str = _environ.get("VH_STATE_DIR", "")

_attributes.add_functions(globals(), _api.CLASSIC_FUNCTIONS)

_LAZY = ("aio", "strict", "hooks")


def __getattr__(attr: str) -> object:
    """``vh.aio``, ``vh.strict`` and ``vh.hooks`` are imported on first use:
    ``vh.aio`` imports asyncio, ``vh.hooks`` typing, which a classic script
    need not pay for (docs/performance.md, a worker's idle RSS)."""
    if attr in _LAZY:
        return importlib.import_module(f"{__name__}.{attr}")
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def __dir__() -> list[str]:
    """The module's names, with the submodules imported on first use."""
    return sorted({*globals(), *_LAZY})


# What ``from vh import *`` gives: every public name, as the plugin's
# built-in module gave (it had no ``__all__``).
__all__ = [
    *(fn.__name__ for fn in _api.CLASSIC_FUNCTIONS),
    *(fn.__name__ for fn in _extras.FUNCTIONS),
    *(n for n in vars(_constants) if n.startswith(("eCR_", "eBOT_", "eBF_"))),
    *_extras.CONSTANTS,
    *_attributes.ATTRIBUTES,
    *_attributes.SHARED_NAMES,
    "state_dir",
    "HubRefusedError",
    "HubTimeoutError",
    "hooks",  # noqa: F405 (imported on first use, see __getattr__)
]
