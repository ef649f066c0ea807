"""The call machinery of ``vh.*`` calls (a layer of ``vh._runtime``).

* On the main thread (inside a hook), the call waits for the hub's answer
  while serving any hook the hub fires meanwhile (the hub may re-enter the
  script, docs/abi.md §9.2); it runs at once because the hub is
  waiting for this script.
* On any other thread, the call blocks that thread until the hub runs it,
  at its next entry into the shim (docs/architecture.md "host-shim"; latency up to the
  hub's timer period, 1 s). Each thread's calls reach the hub in the order
  it made them, since a thread makes its next call only after the last
  one's answer.

``vh.CallDynamicFunction`` (§3.10) is a call like a ``vh.*`` one, answered
by a C function another plugin registered (``call_dynamic``).
"""

from __future__ import annotations

import _thread
import time

from ._errors import HubTimeoutError, NotConnectedError
from ._function_calls import FunctionCalls
from ._main_loop import NAMED, wait_result

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

if TYPE_CHECKING:
    #: Result of a hub callback: ``(ok, values, error)``. ``ok`` is False
    #: when the callback failed; ``values`` are hub values (bytes, int,
    #: float, None); ``error`` is the shim's reason, if any (proto
    #: ``CallResult``).
    CallOutcome = tuple[bool, list[Any], str]

    #: Result of a dynamic function call: ``(ok, values, error, kinds)``,
    #: as ``CallOutcome`` plus one format character per value (``l``,
    #: ``s``, ``d``, ``D``). ``ok`` is False if no such function is
    #: registered.
    DynamicOutcome = tuple[bool, list[Any], str, str]
else:  # the same aliases without typing's Any
    CallOutcome = tuple[bool, list, str]
    DynamicOutcome = tuple[bool, list, str, str]


class Calls(FunctionCalls):
    """Makes ``vh.*`` and dynamic function calls from any thread
    (``vh._runtime.Runtime`` is built on it)."""

    def call(self, callback: str, args: list[Any], timeout: Optional[float] = None) -> CallOutcome:
        """Runs hub callback ``callback`` with ``args`` (already hub values,
        full length, docs/abi.md §6.3) and returns ``(ok, values, error)``.

        # Errors
        ``HubTimeoutError`` if ``timeout`` (seconds) passes first (the call
        may still run later); ``NotConnectedError`` if the link is gone;
        ``MessageTooBigError`` if the call is too big to send (nothing was
        sent, the link stays up).
        """
        try:
            if _thread.get_ident() == self._main_ident:
                return self._call_on_main(callback, args, timeout)
            return self._call_off_main(callback, args, timeout)
        except ConnectionError as e:
            raise NotConnectedError(f"vh-runner link closed: {e}") from e

    def _call_off_main(
        self, callback: str, args: list[Any], timeout: Optional[float]
    ) -> CallOutcome:
        loop = self._loop
        if loop is not None and loop.in_loop_thread() and not self._warned_blocking:
            self._warned_blocking = True
            print(
                f"vh: vh.{callback}() blocks the asyncio loop until the hub answers; "
                f"in async code use `await vh.aio.{callback}()`",
                flush=True,
            )
        got = self.channel.call_blocking(callback, args, timeout)
        if got is None:
            raise HubTimeoutError(callback, timeout)
        ok, values, error = got
        return bool(ok), list(values), error

    def _call_on_main(
        self, callback: str, args: list[Any], timeout: Optional[float]
    ) -> CallOutcome:
        call_id = self.channel.start_call(callback, args)
        result = self._wait_result(call_id, callback, timeout)
        return bool(result.ok), list(result.values), result.error

    def _wait_result(self, call_id: int, what: str, timeout: Optional[float]) -> Any:
        """Waits on the main thread for the result event of ``call_id``
        (``vh._core.ResultEvent``), running every hook and function call the
        hub sends meanwhile (``vh._main_loop.wait_result``: the hub may
        re-enter this script while it waits, docs/abi.md §9.2).

        # Errors
        ``HubTimeoutError`` past ``timeout`` seconds (named ``what``),
        ``NotConnectedError`` if the link closes.
        """
        recv = self.channel.recv_main
        if timeout is not None:
            deadline = time.monotonic() + timeout

            def recv() -> Any:
                return self.channel.recv_main(max(0.0, deadline - time.monotonic()))

        event = wait_result(self, call_id, recv, NAMED)
        if event is None:
            raise HubTimeoutError(what, timeout)
        return event

    def call_dynamic(
        self, name: bytes, kinds: str, args: list[Any], timeout: Optional[float] = None
    ) -> DynamicOutcome:
        """Calls the C function registered as ``name`` for this script
        (``vh.CallDynamicFunction``, docs/abi.md §3.10) with hub values ``args`` of
        the given ``kinds``; from any thread, like :meth:`call`.

        # Errors
        As :meth:`call`.
        """
        if not hasattr(self.channel, "start_dynamic"):
            return False, [], "this hub has no dynamic functions", ""
        label = "CallDynamicFunction"
        try:
            if _thread.get_ident() == self._main_ident:
                call_id = self.channel.start_dynamic(name, kinds, args)
                result = self._wait_result(call_id, label, timeout)
                return bool(result.ok), list(result.values), result.error, result.kinds
            got = self.channel.dynamic_blocking(name, kinds, args, timeout)
        except ConnectionError as e:
            raise NotConnectedError(f"vh-runner link closed: {e}") from e
        if got is None:
            raise HubTimeoutError(label, timeout)
        ok, values, error, out_kinds = got
        return bool(ok), list(values), error, out_kinds
