"""Generation B's ``w_CallFunction`` (docs/abi.md §3.9; a layer of
``vh._runtime``): it reaches the main thread like a hook, the script's
module-level function runs there, may call ``vh.*`` and be re-entered, and
its result goes back converted as §3.9 says (``_send_function_result``). An
``async def`` function is awaited on the asyncio loop, as an async hook
is."""

from __future__ import annotations

import sys

from ._errors import MessageTooBigError
from ._hook_dispatch import HookDispatch
from ._lazy import isawaitable, print_exc, print_exception
from ._limits import LONG_MAX, LONG_MIN

TYPE_CHECKING = False
if TYPE_CHECKING:
    import concurrent.futures
    from typing import Any

#: Python types a function result or dynamic argument sends as JSON ('D').
JSON_TYPES = (list, tuple, set, frozenset, dict)


class FunctionCalls(HookDispatch):
    """Runs ``w_CallFunction`` calls (``vh._runtime.Runtime`` is built on
    it)."""

    def run_function(self, call_id: int, name: bytes, kinds: str, args: list[Any]) -> None:
        """Runs ``w_CallFunction`` (docs/abi.md §3.9): calls the script's
        module-level function ``name`` with the hub's arguments (``kinds``
        says which are JSON) and answers with its result converted for C,
        or a failure (NULL) with the reason. An ``async def`` function is
        awaited on the asyncio loop, as an async hook is."""
        fname = self.from_hub(name)
        fn = getattr(self.module, fname, None)
        if fn is None or not callable(fn):
            what = "not found in script" if fn is None else "not callable"
            print(f"vh: CallFunction: function {fname!r} {what}", flush=True)
            self._send_function_failure(call_id, f"function {fname!r} {what}")
            return
        if self._too_deep(fname):
            self._send_function_failure(call_id, "nested too deep")
            return
        py_args = [self._function_arg(k, a) for k, a in zip(kinds, args)]
        nesting = self.nesting
        nesting.depth += 1
        try:
            result = fn(*py_args)
        except Exception as e:
            print(f"vh: CallFunction {fname} raised; returning NULL", flush=True)
            print_exc()
            self._send_function_failure(call_id, f"{fname} raised {type(e).__name__}: {e}")
            return
        finally:
            nesting.depth -= 1
        if isawaitable(result):
            with self._lock:
                self.nesting.async_pending += 1
            future = self.loop_thread().submit(result)
            future.add_done_callback(lambda f: self._async_function_done(call_id, fname, f))
        else:
            self._send_function_result(call_id, fname, result)

    def _async_function_done(
        self, call_id: int, fname: str, future: concurrent.futures.Future[Any]
    ) -> None:
        with self._lock:
            self.nesting.async_pending -= 1
        try:
            if future.cancelled():
                self._send_function_failure(call_id, f"{fname} was cancelled")
                return
            error = future.exception()
            if error is None:
                self._send_function_result(call_id, fname, future.result())
                return
            print(f"vh: CallFunction {fname} raised; returning NULL", flush=True)
            print_exception(error)
            sys.stderr.flush()
            self._send_function_failure(call_id, f"{fname} raised {error!r}")
        except ConnectionError:
            pass  # the link is gone; the main thread sees "closed" and exits

    def _function_arg(self, kind: str, value: Any) -> Any:
        """One ``w_CallFunction`` argument for Python (docs/abi.md §3.9): JSON
        ('D', and 'L' lists) parsed, NULL/empty/invalid JSON as ``{}``;
        strings decoded with :meth:`function_encoding` (``surrogateescape``)."""
        if kind != "D":
            if isinstance(value, bytes):
                return value.decode(self.function_encoding(), "surrogateescape")
            return value
        try:
            return self.json_from_hub(value, self.function_encoding()) if value else {}
        except ValueError:
            return {}

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
