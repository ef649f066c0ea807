"""The ``vh`` functions with Pythonic errors, for threads and new code.

Same names, parameters and hub callbacks as the classic functions (docs/abi.md
§7.2), and like them callable from any thread. They differ
in what they return:

* a failed callback raises :class:`vh.HubRefusedError` (the classic form
  returns ``False``/``None``); ``SetConfig`` alone never raises, because
  the plugin reports failure even when it set the value (docs/abi.md §6.3);
* functions that only acknowledge (``mc``, ``Ban``, …) return ``None``;
* getters return their value, never ``None`` (``GetNickList`` gives ``[]``
  for an empty hub, ``SQL`` the rows);
* every function takes a keyword-only ``timeout`` in seconds: past it,
  :class:`vh.HubTimeoutError` (the call was sent and may still run);
* a lost link raises :class:`vh.NotConnectedError`.

Example: ``ip = vh.strict.GetUserIP(nick, timeout=2.0)``.
"""

from __future__ import annotations

from ._api import make_strict
from ._extras import SEND_TO_ALL, call_dynamic
from ._functions import FUNCTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

_g = globals()
for _spec in (*FUNCTIONS, SEND_TO_ALL):
    _g[_spec.name] = make_strict(_spec)
del _g, _spec


def CallDynamicFunction(name: str, /, *args: Any, timeout: Optional[float] = None) -> Any:
    """``vh.CallDynamicFunction`` (docs/abi.md §3.10) with a keyword-only
    ``timeout`` in seconds: past it, :class:`vh.HubTimeoutError`. Errors
    as there (``NameError`` for a name no plugin registered)."""
    return call_dynamic(name, args, timeout)


__all__ = [*(spec.name for spec in (*FUNCTIONS, SEND_TO_ALL)), "CallDynamicFunction"]
