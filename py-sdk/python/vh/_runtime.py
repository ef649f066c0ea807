"""The worker's connection to the hub, seen from Python.

One worker runs one script. Its main thread runs the script's hooks; a
``vh.*`` call made there waits for the hub's answer while serving any hook
the hub fires meanwhile (the hub may re-enter the script, spec
§9.2). A call from any other thread blocks that thread until the hub runs
the call at its next entry into the shim (DESIGN.md "host-shim").

Hub strings are bytes in the hub's encoding; scripts see ``str`` decoded
with that encoding and ``surrogateescape``, and every byte goes back to the
hub unchanged (DESIGN.md "Hub strings are bytes").
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable, Optional

from ._hooks import HOOK_NAMES, MYINFO_HOOKS, ON_PARSED_MSG_CHAT, ON_TIMER

#: Deepest nesting of hooks inside ``vh.*`` calls inside hooks.
MAX_DEPTH = 32

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class NotConnectedError(RuntimeError):
    """A ``vh.*`` function was called outside a vh-runner worker."""


class Runtime:
    """State of the one script this worker runs."""

    def __init__(self, channel: Any, encoding: str) -> None:
        self.channel = channel
        self.encoding = encoding
        self.module: Any = None
        self.depth = 0
        self._timer_without_arg: Optional[bool] = None

    # -- encoding -----------------------------------------------------------

    def to_hub(self, value: Any) -> Any:
        """A Python argument as a hub value: ``str`` becomes bytes in the hub
        encoding (``surrogateescape`` restores undecodable bytes)."""
        if isinstance(value, str):
            return value.encode(self.encoding, "surrogateescape")
        return value

    def from_hub(self, value: Any) -> Any:
        """A hub value for Python: bytes become ``str``."""
        if isinstance(value, bytes):
            return value.decode(self.encoding, "surrogateescape")
        return value

    # -- vh.* calls ------------------------------------------------------------

    def call(self, callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        """Runs hub callback ``callback`` with ``args`` (already hub values)
        and returns ``(ok, values)``."""
        if threading.current_thread() is not threading.main_thread():
            got = self.channel.call_blocking(callback, args)
            ok, values, _error = got
            return ok, values
        call_id = self.channel.start_call(callback, args)
        while True:
            event = self.channel.recv_main()
            kind = event[0]
            if kind == "result" and event[1] == call_id:
                return event[2], event[3]
            if kind == "hook":
                self.run_hook(event[1], event[2], event[3])
            elif kind == "closed":
                raise NotConnectedError(f"vh-runner link closed: {event[1]}")
            elif kind == "unload":
                # Finish the call first; the unload is handled by the main loop.
                self.pending_unload = True

    # -- hooks -------------------------------------------------------------------

    pending_unload = False

    def run_hook(self, call_id: int, hook: int, args: list[Any]) -> None:
        """Calls the script's hook and sends the mapped result."""
        name = HOOK_NAMES[hook] if 0 <= hook < len(HOOK_NAMES) else None
        fn = getattr(self.module, name, None) if name else None
        if not callable(fn):
            self.channel.send_hook_result(call_id, True, [])
            return
        if self.depth >= MAX_DEPTH:
            print(f"vh: {name} nested deeper than {MAX_DEPTH} hooks; not called", flush=True)
            self.channel.send_hook_result(call_id, False, [1])
            return
        py_args = [self.from_hub(a) for a in args]
        if hook == ON_TIMER and self._timer_takes_no_arg(fn):
            py_args = []
        self.depth += 1
        try:
            result = fn(*py_args)
        except Exception:
            print(f"vh: {name} raised; the hub goes on", flush=True)
            traceback.print_exc()
            result = None
        finally:
            self.depth -= 1
        self.channel.send_hook_result(call_id, False, self.map_result(hook, name, result))

    def _timer_takes_no_arg(self, fn: Callable[..., Any]) -> bool:
        """True if ``OnTimer`` accepts no argument (spec §7.6: decided by
        introspection, once)."""
        if self._timer_without_arg is None:
            import inspect

            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                self._timer_without_arg = False
            else:
                positional = [
                    p
                    for p in params
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                ]
                self._timer_without_arg = not positional
        return self._timer_without_arg

    def map_result(self, hook: int, name: Optional[str], r: Any) -> list[Any]:
        """The hook's return value as the plugin reads it: generation A's
        mapping for both generations (spec §4.4, DESIGN.md "Semantics")."""
        if r is None:
            return [1]
        if isinstance(r, bool):
            return [int(r)]
        if isinstance(r, int):
            return [min(max(r, _LONG_MIN), _LONG_MAX)]
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
            n = min(max(int(r[1]), _LONG_MIN), _LONG_MAX)
            return [self.to_hub(r[0]), n]
        print(f"vh: {name}: unexpected return value: {r!r}", flush=True)
        return [1]


def _is_tuple_of(r: Any, n: int, types: tuple[type, ...]) -> bool:
    return isinstance(r, tuple) and len(r) == n and all(isinstance(x, types) for x in r)


_runtime: Optional[Runtime] = None


def get() -> Runtime:
    """The worker's runtime, or a clear error outside a worker."""
    if _runtime is None:
        raise NotConnectedError(
            "vh is not connected to a hub: scripts run under vh-runner "
            "(the hub loads them with !pyload), and tests use the vh.testing harness"
        )
    return _runtime


def install(runtime: Runtime) -> None:
    """Makes ``runtime`` the one ``vh.*`` calls use."""
    global _runtime
    _runtime = runtime
