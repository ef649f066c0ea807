"""``vh`` names that neither plugin wrapper's code has but scripts use.

Two groups:

* generation B's ``vh.CallDynamicFunction`` (docs/abi.md §3.10),
  which calls a C function another plugin registered for the script with
  ``w_RegisterFunction``;
* names the plugin's own documentation shows (its README and the example
  scripts' README; docs/abi.md, appendix) that neither wrapper defines
  (docs/abi.md §13):
  ``SendToAll``, ``eCR_BANNED``, ``eCR_PLUGIN``, ``eBF_REVERSE`` and the
  ``eIT_*`` config value types of ``OnSetConfig``. Each is built on what the
  hub already offers and takes the hub's own value; where the
  documentation's meaning is unclear the choice is said below.
"""

from __future__ import annotations

from . import _api, _constants, _runtime
from ._functions import FunctionSpec, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# What ``vh`` takes from here (``from ._extras import *``).
__all__ = [
    "CallDynamicFunction",
    "SendToAll",
    "eCR_PLUGIN",
    "eCR_BANNED",
    "eBF_REVERSE",
    "eIT_VOID",
    "eIT_BOOL",
    "eIT_CHAR",
    "eIT_INT",
    "eIT_UINT",
    "eIT_LONG",
    "eIT_ULONG",
    "eIT_PCHAR",
    "eIT_TIMET",
    "eIT_LLONG",
    "eIT_ULLONG",
    "eIT_AR_BYTE",
    "eIT_STRING",
    "eIT_DOUBLE",
]

# -- constants ----------------------------------------------------------------

#: Connection closed by a plugin (the hub's ``eCR_PLUGIN``, src/cserverdc.h):
#: what ``OnCloseConnEx`` reports after a script refused a nick (docs/abi.md §7.4).
eCR_PLUGIN = 21
#: The documentation's name for a banned user's close reason. The hub has
#: no code of its own for it: a banned nick or IP is closed with
#: ``eCR_INVALID_USER`` ("bad nick, banned nick, ip or whatever",
#: src/cserverdc.h), so this is that value.
eCR_BANNED = _constants.eCR_INVALID_USER
#: The documentation's name for a reverse-host ban. The hub calls that flag
#: ``eBF_HOSTR1`` ("Reverse host is banned", src/cban.h), so this is that
#: bit.
eBF_REVERSE = _constants.eBF_HOSTR1

# Type ids of hub config values (``nEnums::tItemType``, src/cconfigitembase.h):
# the last argument of ``OnSetConfig(nick, conf, var, new, old, val_type)``
# (-1 when the hub does not know the variable).
eIT_VOID = 0
eIT_BOOL = 1
eIT_CHAR = 2
eIT_INT = 3
eIT_UINT = 4
eIT_LONG = 5
eIT_ULONG = 6
eIT_PCHAR = 7
eIT_TIMET = 8
eIT_LLONG = 9
eIT_ULLONG = 10
eIT_AR_BYTE = 11
eIT_STRING = 12
eIT_DOUBLE = 13

#: The constants above, by name (for ``__all__`` and the stubs).
CONSTANTS: dict[str, int] = {
    name: value for name, value in globals().items() if name.startswith(("eCR_", "eBF_", "eIT_"))
}

# -- SendToAll ------------------------------------------------------------------

#: ``vh.SendToAll(text)``: the documentation sends announcements and
#: greetings with it ("Welcome {nick}!", "Announcement to everyone!"), i.e.
#: main-chat text for every user, which is what the hub's ``mc`` callback
#: does; ``from_nick`` (default: the hub-security bot) as for ``vh.mc``.
SEND_TO_ALL = FunctionSpec(
    name="SendToAll",
    callback="mc",
    params=(Param("text", "s", False, None), Param("from_nick", "s", True, None)),
    result="bool",
    doc="Sends ``text`` to the main chat of every user, from ``from_nick`` (default: the "
    "hub-security bot); the same as ``vh.mc``. Not in either plugin wrapper; documented by "
    "the plugin's README.",
)

SendToAll = _api.make_classic(SEND_TO_ALL)

# -- CallDynamicFunction (generation B) -----------------------------------------


def CallDynamicFunction(name: str, /, *args: Any) -> Any:
    """Calls the C function another plugin registered for this script as
    ``name`` (``w_RegisterFunction``, docs/abi.md §3.10) and returns its result.

    Arguments become the C struct's elements by type: ``int``/``bool`` 'l',
    ``str`` 's' (in the hub encoding), ``float`` 'd', and ``list``,
    ``tuple``, ``set``, ``frozenset``, ``dict`` 'D' (a JSON document). The
    result is read by its first format character: 'l' ``int``, 's' ``str``
    (NULL: None), 'd' ``float``, 'D' and 'L' the parsed JSON (a list for
    'L'); a NULL result or any other format gives None. Works from any
    thread, like every ``vh`` function.

    Raises ``TypeError`` if ``name`` is not a non-empty ``str`` or an
    argument has another type, ``NameError`` if no function of that name is
    registered for this script (B's errors), ``NotConnectedError`` outside
    a worker.
    """
    return call_dynamic(name, args, None)


def call_dynamic(name: str, args: tuple[Any, ...], timeout: Optional[float]) -> Any:
    """``CallDynamicFunction(name, *args)`` waiting at most ``timeout``
    seconds (``None``: as long as it takes) for the hub; past it,
    ``HubTimeoutError``. Shared by ``vh``, ``vh.strict`` and ``vh.aio``."""
    if not isinstance(name, str) or not name:
        raise TypeError("CallDynamicFunction() needs the function's name, a non-empty str")
    rt = _runtime.get()
    kinds, values = [], []
    for i, arg in enumerate(args, start=2):
        kind, value = _dynamic_arg(rt, i, arg)
        kinds.append(kind)
        values.append(value)
    ok, result, error, result_kinds = rt.call_dynamic(
        rt.to_hub(name), "".join(kinds), values, timeout
    )
    if not ok:
        raise NameError(error or f"no dynamic function {name!r} is registered for this script")
    if not result:
        return None
    if result_kinds[:1] == "D":
        try:
            return rt.json_from_hub(result[0], rt.function_encoding())
        except ValueError:
            print(f"vh: CallDynamicFunction({name!r}) returned invalid JSON", flush=True)
            return None
    value = result[0]
    if isinstance(value, bytes):
        return value.decode(rt.function_encoding(), "surrogateescape")
    return value


def _dynamic_arg(rt: _runtime.Runtime, position: int, arg: Any) -> tuple[str, Any]:
    """One argument of ``CallDynamicFunction`` as ``(kind, hub value)``."""
    if isinstance(arg, int):
        return "l", int(arg)
    if isinstance(arg, float):
        return "d", arg
    if isinstance(arg, str):
        return "s", arg.encode(rt.function_encoding(), "surrogateescape")
    if isinstance(arg, _runtime.JSON_TYPES):
        return "D", rt.json_to_hub(arg, rt.function_encoding())
    raise TypeError(
        f"CallDynamicFunction() argument {position} must be int, float, str, list, tuple, "
        f"set, frozenset or dict, not {type(arg).__name__}"
    )


#: The functions of this module, for ``__all__`` and the stubs.
FUNCTIONS = (SendToAll, CallDynamicFunction)
