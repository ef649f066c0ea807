"""Running one hook for the script (a layer of ``vh._runtime``): a hook the
hub fires runs the script's function of that name on the main thread, and
its result goes back converted as the plugin reads it (docs/abi.md §4.4,
:meth:`HookDispatch.map_result`); generation A's ``_update_settings`` runs
first (§4.3); nesting is bounded (``vh._limits.MAX_DEPTH``).

``async def`` hooks: calling the hook function on the main thread only
creates a coroutine. It runs on the worker's asyncio loop (``_loop``, a
daemon thread), and the loop's thread sends the hook's result when the
coroutine finishes, mapped exactly as a plain hook's (docs/abi.md §4.4). The main
thread does not wait: it goes straight back to receiving, so it serves any
hook the hub fires while the coroutine runs (nested hooks from the
coroutine's ``vh.aio`` calls, or the next hook once the hub's deadline for
this one passed). ``vh.aio`` calls made by the coroutine run on helper
threads (``vh.aio``), so the loop keeps running while they wait.
"""

from __future__ import annotations

import sys

from ._errors import MessageTooBigError
from ._generation import is_b
from ._hooks import MYINFO_HOOKS, ON_PARSED_MSG_CHAT, ON_TIMER
from ._lazy import isawaitable, print_exc, print_exception, takes_no_positional
from ._limits import LONG_MAX, LONG_MIN, MAX_DEPTH
from ._main_loop import ON_SCRIPT_COMMAND, script_hook, update_settings
from ._script_state import ScriptState

TYPE_CHECKING = False
if TYPE_CHECKING:
    import concurrent.futures
    from typing import Any, Callable, Optional

#: Types of the results most hooks return, which are never awaitable: the
#: test for an ``async def`` hook is skipped for them.
_PLAIN = frozenset({int, bool, type(None), str, tuple})


class HookDispatch(ScriptState):
    """Runs the script's hooks and answers the hub (``vh._runtime.Runtime``
    is built on it)."""

    def run_hook(self, call_id: int, hook: int, args: list[Any]) -> None:
        """Calls the script's hook with hub values ``args`` and answers the
        hub: at once for a plain hook, from the loop's thread when an
        ``async`` hook's coroutine finishes."""
        if hook == ON_SCRIPT_COMMAND and not is_b():
            # Generation B never renamed vh.botname / vh.opchatname (§4.3).
            update_settings(args, self.from_hub)
        name, fn = script_hook(self.module, hook)
        if fn is None:
            self.channel.send_hook_result(call_id, True, [])
            return
        if self._too_deep(name):
            self.channel.send_hook_result(call_id, False, [1])
            return
        py_args = [self.from_hub(a) for a in args]
        if hook == ON_TIMER and self._timer_takes_no_arg(fn):
            py_args = []
        nesting = self.nesting
        nesting.depth += 1
        try:
            result = fn(*py_args)
        except Exception as e:
            # Traceback from the script's function on, as the Rust loop's.
            tb = e.__traceback__
            self.hook_raised(call_id, hook, name, e.with_traceback(tb and tb.tb_next))
            return
        finally:
            nesting.depth -= 1
        self.finish_hook(call_id, hook, name, result)

    def finish_hook(self, call_id: int, hook: int, name: str, result: Any) -> None:
        """Answers hook ``call_id`` with what the script's function
        ``name`` returned: at once, or from the loop's thread once an
        ``async`` hook's coroutine finishes. (The Python 3 worker's main
        loop calls the function itself, ``vh._core.Channel.serve_hooks``,
        and comes here for any result but an ``int``.)"""
        if type(result) not in _PLAIN and isawaitable(result):
            self._start_async_hook(call_id, hook, name, result)
        else:
            self.deliver_hook_result(call_id, hook, name, result)

    def hook_raised(self, call_id: int, hook: int, name: str, error: Exception) -> None:
        """Says that the script's function ``name`` raised ``error`` (with
        its traceback, which starts at that function, as the plugin's
        did) and answers hook ``call_id`` as the plugin does for a hook
        that raised (docs/abi.md §4.3)."""
        print(f"vh: {name} raised; the hub goes on", flush=True)
        print_exception(error)
        sys.stderr.flush()
        self.deliver_hook_result(call_id, hook, name, None, error)

    def _too_deep(self, name: str) -> bool:
        """True (with a log line) if calling ``name`` now would nest deeper
        than :data:`MAX_DEPTH`."""
        depth = self.nesting.depth + self.nesting.async_pending
        if depth < MAX_DEPTH:
            return False
        print(
            f"vh: {name} not called: hooks nested {depth} deep inside vh.* calls "
            f"(limit {MAX_DEPTH}; does a hook fire itself through the hub?); "
            "the hub goes on as if it allowed",
            flush=True,
        )
        return True

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

    def deliver_hook_result(
        self,
        call_id: int,
        hook: int,
        name: str,
        value: Any,
        error: Optional[BaseException] = None,
    ) -> None:
        """Sends what hook ``name`` returned (a Python value; None and the
        exception if it raised), mapped for the plugin (docs/abi.md §4.4). Called
        from the thread that got the value.

        A result the hub cannot take (text its encoding lacks, or a NUL
        byte, which ends a C string) counts as an exception in the hook:
        the traceback is printed and the hook allows, as generation A did
        when it could not parse a result (§4.3)."""
        if type(value) is int and LONG_MIN <= value <= LONG_MAX:
            # Most hooks return 1 or 0: map_result's answer, without it.
            self.channel.send_hook_result(call_id, False, [value])
            return
        if error is not None and is_b():
            # B's wrapper: an exception is no opinion (docs/abi.md §4.3).
            self.channel.send_hook_result(call_id, True, [])
            return
        try:
            mapped = self.map_result(hook, name, value)
            if mapped is None:
                self.channel.send_hook_result(call_id, True, [])
                return
            values = mapped
            for v in values:
                if type(v) is bytes and b"\0" in v:
                    raise ValueError(
                        f"{name} returned text with a NUL byte, which the hub cannot take"
                    )
        except (UnicodeEncodeError, ValueError):
            print(f"vh: {name} returned a value the hub cannot take; the hub goes on", flush=True)
            print_exc()
            values = [1]
        try:
            self.channel.send_hook_result(call_id, False, values)
        except MessageTooBigError as e:
            print(f"vh: {name} returned a value too big for the hub: {e}; the hub goes on")
            self.channel.send_hook_result(call_id, False, [1])

    def _start_async_hook(self, call_id: int, hook: int, name: str, aw: Any) -> None:
        with self._lock:
            self.nesting.async_pending += 1
        future = self.loop_thread().submit(aw)
        future.add_done_callback(lambda f: self._async_hook_done(call_id, hook, name, f))

    def _async_hook_done(
        self, call_id: int, hook: int, name: str, future: concurrent.futures.Future[Any]
    ) -> None:
        with self._lock:
            self.nesting.async_pending -= 1
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
                print_exception(error)
                sys.stderr.flush()
        try:
            self.deliver_hook_result(call_id, hook, name, value, error)
        except ConnectionError:
            pass  # the link is gone; the main thread sees "closed" and exits

    def _timer_takes_no_arg(self, fn: Callable[..., Any]) -> bool:
        """True if ``OnTimer`` accepts no argument (docs/abi.md §7.6: decided by
        introspection, once)."""
        if self._timer_without_arg is None:
            self._timer_without_arg = takes_no_positional(fn)
        return self._timer_without_arg


def _is_tuple_of(r: Any, n: int, types: tuple[type, ...]) -> bool:
    return isinstance(r, tuple) and len(r) == n and all(isinstance(x, types) for x in r)
