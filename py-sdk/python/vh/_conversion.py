"""Python values a script returns, converted for the hub (a layer of
``vh._runtime``): a hook's result as the plugin reads it (docs/abi.md
§4.4, generation A's mapping, and B's own under B where it crashes nothing)
and a ``w_CallFunction`` result as §3.9 converts it."""

from __future__ import annotations

from ._errors import MessageTooBigError
from ._generation import is_b
from ._hooks import MYINFO_HOOKS, ON_PARSED_MSG_CHAT
from ._script_state import ScriptState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

#: The range of a C long (64-bit): hub integers outside it are clamped or
#: refused.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

#: Python types a function result or dynamic argument sends as JSON ('D').
JSON_TYPES = (list, tuple, set, frozenset, dict)


class ResultConversion(ScriptState):
    """Converts the script's return values for the hub and sends function
    results (``vh._runtime.Runtime`` is built on it)."""

    def map_result(self, hook: int, name: Optional[str], r: Any) -> Optional[list[Any]]:
        """The hook's return value as the plugin reads it (docs/abi.md §4.3,
        §4.4): generation A's mapping, and under B its wrapper's own results
        where they crash nothing: a ``str`` is ``'s'`` and a ``float`` is
        ``'d'`` for every hook (B's plugin reads neither: no effect), and
        a value of any other type but a tuple is no opinion (None, the hub
        gets NULL). ``None`` allows and tuples map as under A in both (B
        blocked on ``None`` against its docs and crashed on tuples)."""
        if r is None:
            return [1]
        if isinstance(r, bool):
            return [int(r)]
        if isinstance(r, int):
            return [min(max(r, LONG_MIN), LONG_MAX)]
        if is_b() and isinstance(r, str):
            return [self.to_hub(r)]
        if is_b() and isinstance(r, float):
            return [r]
        if hook == ON_PARSED_MSG_CHAT:
            if isinstance(r, str):
                return [None, self.to_hub(r)]
            if _is_tuple_of(r, 2, (str, type(None))):
                return [self.to_hub(r[0]), self.to_hub(r[1])]
        if hook in MYINFO_HOOKS and _is_tuple_of(r, 5, (str, type(None))):
            return [self.to_hub(x) for x in r]
        if (
            isinstance(r, tuple)
            and len(r) == 2
            and isinstance(r[0], (str, type(None)))
            and isinstance(r[1], int)
        ):
            n = min(max(int(r[1]), LONG_MIN), LONG_MAX)
            return [self.to_hub(r[0]), n]
        print(f"vh: {name}: unexpected return value: {r!r}", flush=True)
        # B: no opinion, but for a tuple (its "tab" struct crashed the hub).
        return None if is_b() and not isinstance(r, tuple) else [1]

    def _send_function_result(self, call_id: int, fname: str, r: Any) -> None:
        """Sends ``r`` as §3.9 converts it: int/bool -> 'l', float -> 'd',
        str -> 's', None -> 'l' 0, containers -> 'D' (JSON; ``[]``/``{}``
        if they cannot be serialised, as B), anything else -> NULL. A
        result too big to send is a failure (NULL) with the reason."""
        try:
            self._send_converted_result(call_id, fname, r)
        except MessageTooBigError as e:
            print(f"vh: CallFunction {fname}: {e}; returning NULL", flush=True)
            self._send_function_failure(call_id, f"{fname}() returned {e}")

    def _send_converted_result(self, call_id: int, fname: str, r: Any) -> None:
        if r is None:
            r = 0
        if isinstance(r, int):
            if not LONG_MIN <= r <= LONG_MAX:
                self._send_function_failure(call_id, f"{fname}() returned {r}, beyond a C long")
                return
            self.channel.send_function_result(call_id, True, "l", int(r), "")
        elif isinstance(r, float):
            self.channel.send_function_result(call_id, True, "d", r, "")
        elif isinstance(r, str):
            try:
                data = r.encode(self.function_encoding(), "surrogateescape")
            except UnicodeEncodeError as e:
                self._send_function_failure(
                    call_id, f"{fname}() returned text the hub cannot hold: {e}"
                )
                return
            self.channel.send_function_result(call_id, True, "s", data, "")
        elif isinstance(r, JSON_TYPES):
            try:
                data = self.json_to_hub(r, self.function_encoding())
            except (TypeError, ValueError):
                data = b"{}" if isinstance(r, dict) else b"[]"
            self.channel.send_function_result(call_id, True, "D", data, "")
        else:
            what = f"{fname}() returned {type(r).__name__}, which has no C form"
            print(f"vh: CallFunction: {what}; returning NULL", flush=True)
            self._send_function_failure(call_id, what)

    def _send_function_failure(self, call_id: int, error: str) -> None:
        self.channel.send_function_result(call_id, False, "", None, error)


def _is_tuple_of(r: Any, n: int, types: tuple[type, ...]) -> bool:
    return isinstance(r, tuple) and len(r) == n and all(isinstance(x, types) for x in r)
