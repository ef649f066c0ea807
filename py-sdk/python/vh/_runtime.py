"""The worker's connection to the hub, seen from Python.

One worker runs one script. Its main thread receives every hook and runs
the script's hook functions.

``vh.*`` calls:

* on the main thread (inside a hook), the call waits for the hub's answer
  while serving any hook the hub fires meanwhile (the hub may re-enter the
  script, spec/wrapper-abi.md §9.2); it runs at once because the hub is
  waiting for this script;
* on any other thread, the call blocks that thread until the hub runs it,
  at its next entry into the shim (DESIGN.md "host-shim"; latency up to the
  hub's timer period, 1 s). Each thread's calls reach the hub in the order
  it made them, since a thread makes its next call only after the last
  one's answer.

``async def`` hooks: calling the hook function on the main thread only
creates a coroutine. It runs on the worker's asyncio loop (``_loop``, a
daemon thread), and the loop's thread sends the hook's result when the
coroutine finishes, mapped exactly as a plain hook's (spec §4.4). The main
thread does not wait: it goes straight back to receiving, so it serves any
hook the hub fires while the coroutine runs (nested hooks from the
coroutine's ``vh.aio`` calls, or the next hook once the hub's deadline for
this one passed). ``vh.aio`` calls made by the coroutine run on helper
threads (``vh.aio``), so the loop keeps running while they wait.

Hub strings are bytes in the hub's encoding; scripts see ``str`` decoded
with that encoding and ``surrogateescape``, and every byte goes back to the
hub unchanged (DESIGN.md "Hub strings are bytes").
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._errors import HubTimeoutError, NotConnectedError
from ._hooks import HOOK_NAMES, MYINFO_HOOKS, ON_PARSED_MSG_CHAT, ON_TIMER

if TYPE_CHECKING:  # asyncio is imported only by scripts that use it
    import concurrent.futures

    from ._loop import LoopThread

#: Deepest nesting of hooks inside ``vh.*`` calls inside hooks; ``async``
#: hooks still running count as one level each.
MAX_DEPTH = 32

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

#: Result of a hub callback: ``(ok, values, error)``. ``ok`` is False when
#: the callback failed; ``values`` are hub values (bytes, int, float,
#: None); ``error`` is the shim's reason, if any (proto ``CallResult``).
CallOutcome = tuple[bool, list[Any], str]


class Runtime:
    """State of the one script this worker runs, and its link to the hub.

    ``channel`` is a ``vh._core.Channel`` in a worker, or the in-process
    fake of ``vh.testing``; ``encoding`` is a Python codec name.
    """

    def __init__(self, channel: Any, encoding: str) -> None:
        self.channel = channel
        self.encoding = encoding
        self.module: Any = None
        self.depth = 0
        self.pending_unload = False
        self._timer_without_arg: Optional[bool] = None
        self._loop: Optional[LoopThread] = None
        self._lock = threading.Lock()
        self._async_pending = 0
        self._warned_blocking = False

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

    # -- the asyncio loop -----------------------------------------------------

    def loop_thread(self) -> LoopThread:
        """The worker's asyncio loop thread, started on first use."""
        from ._loop import LoopThread

        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def stop_loop(self, timeout: float = 0.8) -> None:
        """Cancels the loop's tasks and stops it (unload), if it was started."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and not loop.stop(timeout):
            print(f"vh: asyncio tasks still running after {timeout} s at unload", flush=True)

    # -- vh.* calls ------------------------------------------------------------

    def call(self, callback: str, args: list[Any], timeout: Optional[float] = None) -> CallOutcome:
        """Runs hub callback ``callback`` with ``args`` (already hub values,
        full length, spec §6.3) and returns ``(ok, values, error)``.

        # Errors
        ``HubTimeoutError`` if ``timeout`` (seconds) passes first (the call
        may still run later); ``NotConnectedError`` if the link is gone.
        """
        try:
            if threading.current_thread() is threading.main_thread():
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
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self.channel.recv_main(wait)
            if event is None:
                raise HubTimeoutError(callback, timeout)
            kind = event[0]
            if kind == "result":
                if event[1] == call_id:
                    return bool(event[2]), list(event[3]), event[4]
                # A late answer to a call that timed out: nobody waits for it.
            elif kind == "hook":
                self.run_hook(event[1], event[2], event[3])
            elif kind == "ping":
                self.answer_ping(event[1])
            elif kind == "closed":
                raise NotConnectedError(f"vh-runner link closed: {event[1]}")
            elif kind == "unload":
                # Finish the call first; the unload is handled by the main loop.
                self.pending_unload = True

    # -- hooks -------------------------------------------------------------------

    def run_hook(self, call_id: int, hook: int, args: list[Any]) -> None:
        """Calls the script's hook with hub values ``args`` and answers the
        hub: at once for a plain hook, from the loop's thread when an
        ``async`` hook's coroutine finishes."""
        name = HOOK_NAMES[hook] if 0 <= hook < len(HOOK_NAMES) else None
        fn = getattr(self.module, name, None) if name else None
        if name is None or not callable(fn):
            self.channel.send_hook_result(call_id, True, [])
            return
        if self.depth + self._async_pending >= MAX_DEPTH:
            print(f"vh: {name} nested deeper than {MAX_DEPTH} hooks; not called", flush=True)
            self.channel.send_hook_result(call_id, False, [1])
            return
        py_args = [self.from_hub(a) for a in args]
        if hook == ON_TIMER and self._timer_takes_no_arg(fn):
            py_args = []
        error: Optional[BaseException] = None
        self.depth += 1
        try:
            result = fn(*py_args)
        except Exception as e:
            print(f"vh: {name} raised; the hub goes on", flush=True)
            traceback.print_exc()
            result, error = None, e
        finally:
            self.depth -= 1
        if inspect.isawaitable(result):
            self._start_async_hook(call_id, hook, name, result)
        else:
            self.deliver_hook_result(call_id, hook, name, result, error)

    def deliver_hook_result(
        self,
        call_id: int,
        hook: int,
        name: str,
        value: Any,
        error: Optional[BaseException] = None,
    ) -> None:
        """Sends what hook ``name`` returned (a Python value; None and the
        exception if it raised), mapped for the plugin (spec §4.4). Called
        from the thread that got the value."""
        self.channel.send_hook_result(call_id, False, self.map_result(hook, name, value))

    def _start_async_hook(self, call_id: int, hook: int, name: str, aw: Any) -> None:
        with self._lock:
            self._async_pending += 1
        future = self.loop_thread().submit(aw)
        future.add_done_callback(lambda f: self._async_hook_done(call_id, hook, name, f))

    def _async_hook_done(
        self, call_id: int, hook: int, name: str, future: concurrent.futures.Future[Any]
    ) -> None:
        with self._lock:
            self._async_pending -= 1
        value: Any = None
        error: Optional[BaseException] = None
        if future.cancelled():
            print(f"vh: {name} was cancelled; the hub goes on", flush=True)
        else:
            error = future.exception()
            if error is None:
                value = future.result()
            else:
                print(f"vh: {name} raised; the hub goes on", flush=True)
                traceback.print_exception(type(error), error, error.__traceback__)
                sys.stderr.flush()
        try:
            self.deliver_hook_result(call_id, hook, name, value, error)
        except ConnectionError:
            pass  # the link is gone; the main thread sees "closed" and exits

    def answer_ping(self, seq: int) -> None:
        """Answers the runner's health ping (proto ``Ping``): from the main
        thread, or, once the asyncio loop runs, from the loop's thread, so
        that a pong proves both are free."""
        loop = self._loop
        if loop is not None and loop.thread.is_alive():
            loop.call_soon(self._pong, seq)
        else:
            self._pong(seq)

    def _pong(self, seq: int) -> None:
        try:
            self.channel.send_pong(seq)
        except ConnectionError:
            pass

    def run_unload(self, timeout: float = 1.5) -> None:
        """Calls the script's ``UnLoad()`` (spec §7.5; an ``async def UnLoad``
        is awaited on the loop, up to ``timeout`` seconds), then stops the
        asyncio loop, cancelling what still runs there. Both fit in the
        runner's 3 s grace for a worker to exit after an unload."""
        unload = getattr(self.module, "UnLoad", None)
        if callable(unload):
            try:
                result = unload()
                if inspect.isawaitable(result):
                    self._wait_on_loop(result, timeout)
            except Exception:
                traceback.print_exc()
        self.stop_loop()

    def _wait_on_loop(self, aw: Any, timeout: float) -> None:
        import concurrent.futures

        future = self.loop_thread().submit(aw)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            print(f"vh: UnLoad did not finish within {timeout} s", flush=True)

    def _timer_takes_no_arg(self, fn: Callable[..., Any]) -> bool:
        """True if ``OnTimer`` accepts no argument (spec §7.6: decided by
        introspection, once)."""
        if self._timer_without_arg is None:
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


def current() -> Optional[Runtime]:
    """The installed runtime, or None."""
    return _runtime


def install(runtime: Optional[Runtime]) -> None:
    """Makes ``runtime`` the one ``vh.*`` calls use (None: none)."""
    global _runtime
    _runtime = runtime
