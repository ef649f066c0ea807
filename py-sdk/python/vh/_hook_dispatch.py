"""Hook dispatch (a layer of ``vh._runtime``): a hook the hub fires runs
the script's function of that name on the main thread and its result goes
back mapped (docs/abi.md §4.4); generation A's ``_update_settings``
runs first (§4.3); nesting is bounded (:data:`MAX_DEPTH`).

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

from ._conversion import ResultConversion
from ._errors import MessageTooBigError
from ._generation import is_b
from ._hooks import HOOK_INDEX, HOOK_NAMES, ON_TIMER
from ._lazy import isawaitable, print_exc, print_exception, takes_no_positional

TYPE_CHECKING = False
if TYPE_CHECKING:
    import concurrent.futures
    from typing import Any, Callable, Optional

#: Deepest nesting of hooks (and function calls) inside ``vh.*`` calls
#: inside hooks; ``async`` hooks still running count as one level each.
#: Past it a hook is not called and the hub goes on as if it allowed (the
#: shim bounds the hub thread's nesting too, above this, docs/abi.md §9.2).
MAX_DEPTH = 32

#: Hook index of ``OnScriptCommand``: generation A's ``_update_settings``
#: runs before it (docs/abi.md §4.3).
ON_SCRIPT_COMMAND = HOOK_INDEX["OnScriptCommand"]


class HookDispatch(ResultConversion):
    """Runs the script's hooks and answers the hub (``vh._runtime.Runtime``
    is built on it)."""

    def run_hook(self, call_id: int, hook: int, args: list[Any]) -> None:
        """Calls the script's hook with hub values ``args`` and answers the
        hub: at once for a plain hook, from the loop's thread when an
        ``async`` hook's coroutine finishes."""
        if hook == ON_SCRIPT_COMMAND and not is_b():
            # Generation B never renamed vh.botname / vh.opchatname (§4.3).
            self._update_settings(args)
        name = HOOK_NAMES[hook] if 0 <= hook < len(HOOK_NAMES) else None
        fn = getattr(self.module, name, None) if name else None
        if name is None or not callable(fn):
            self.channel.send_hook_result(call_id, True, [])
            return
        if self._too_deep(name):
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
            print_exc()
            result, error = None, e
        finally:
            self.depth -= 1
        if isawaitable(result):
            self._start_async_hook(call_id, hook, name, result)
        else:
            self.deliver_hook_result(call_id, hook, name, result, error)

    def _too_deep(self, name: str) -> bool:
        """True (with a log line) if calling ``name`` now would nest deeper
        than :data:`MAX_DEPTH`."""
        depth = self.depth + self._async_pending
        if depth < MAX_DEPTH:
            return False
        print(
            f"vh: {name} not called: hooks nested {depth} deep inside vh.* calls "
            f"(limit {MAX_DEPTH}; does a hook fire itself through the hub?); "
            "the hub goes on as if it allowed",
            flush=True,
        )
        return True

    def _update_settings(self, args: list[Any]) -> None:
        """Generation A's ``_update_settings`` (docs/abi.md §4.3): an
        ``OnScriptCommand`` from the hub itself (empty plugin and script)
        named ``_hub_security_change`` / ``_opchat_name_change`` renames
        ``vh.botname`` / ``vh.opchatname`` before the script's hook runs.
        Done for every script, also one without ``OnScriptCommand`` (the
        worker always asks for the hook for this), where A reached only
        scripts that defined it."""
        if len(args) != 4 or args[2] or args[3]:
            return
        import vh

        command, data = args[0], self.from_hub(args[1])
        if command == b"_hub_security_change" and vh.botname != data:
            vh.botname = data
        elif command == b"_opchat_name_change" and vh.opchatname != data:
            vh.opchatname = data

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
            if any(isinstance(v, bytes) and b"\0" in v for v in values):
                raise ValueError(f"{name} returned text with a NUL byte, which the hub cannot take")
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
