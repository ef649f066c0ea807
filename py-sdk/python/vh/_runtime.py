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

Generation B's ``w_CallFunction`` (spec/wrapper-abi.md §3.9) reaches the
main thread like a hook: the script's module-level function runs there,
may call ``vh.*`` and be re-entered, and its result goes back converted as
§3.9 says (``run_function``). ``vh.CallDynamicFunction`` (§3.10) is a call
like a ``vh.*`` one, answered by a C function another plugin registered
(``call_dynamic``).

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

import _thread
import sys
import time
import types
from collections.abc import Awaitable

from ._errors import HubTimeoutError, MessageTooBigError, NotConnectedError
from ._hooks import HOOK_INDEX, HOOK_NAMES, MYINFO_HOOKS, ON_PARSED_MSG_CHAT, ON_TIMER

# What a worker imports at idle is kept small (issue 8, docs/performance.md:
# idle RSS): ``threading``, ``json``, ``inspect``, ``traceback``, ``asyncio``
# and ``typing`` are imported where first needed, not here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import concurrent.futures
    from typing import Any, Callable, Optional

    from ._loop import LoopThread

#: Deepest nesting of hooks (and function calls) inside ``vh.*`` calls
#: inside hooks; ``async`` hooks still running count as one level each.
#: Past it a hook is not called and the hub goes on as if it allowed (the
#: shim bounds the hub thread's nesting too, above this, spec §9.2).
MAX_DEPTH = 32

#: Hook index of ``OnScriptCommand``: generation A's ``_update_settings``
#: runs before it (spec §4.3).
ON_SCRIPT_COMMAND = HOOK_INDEX["OnScriptCommand"]

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1

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

#: Python types a function result or dynamic argument sends as JSON ('D').
JSON_TYPES = (list, tuple, set, frozenset, dict)


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
        self._lock = _thread.allocate_lock()
        self._main_ident = _main_thread_ident()
        self._async_pending = 0
        self._warned_blocking = False
        #: Call ids the main thread waits for, innermost last, and answers
        #: that came for an outer one while an inner one was waited for.
        self._main_waits: list[int] = []
        self._early_results: dict[int, tuple[Any, ...]] = {}

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

    def function_encoding(self) -> str:
        """The encoding of the text ``w_CallFunction`` and
        ``CallDynamicFunction`` exchange with C (spec §3.9, §3.10): UTF-8
        under generation B's semantics, as B's wrapper (§8), else the hub
        encoding. Both with ``surrogateescape``: no byte is lost (B failed
        the call on one that was not UTF-8)."""
        return "utf-8" if _is_b() else self.encoding

    def json_to_hub(self, value: Any, encoding: Optional[str] = None) -> bytes:
        """``value`` (containers nested in any way; sets become arrays) as a
        JSON document in the hub encoding (or ``encoding``), as B's list
        getters send them.
        Text the encoding cannot hold is written as ``\\u`` escapes.

        # Errors
        ``TypeError``/``ValueError`` if ``value`` holds something JSON
        cannot (an object, a float NaN is fine).
        """
        import json

        try:
            text = json.dumps(value, ensure_ascii=False, default=_json_default)
            return text.encode(encoding or self.encoding, "surrogateescape")
        except UnicodeEncodeError:
            return json.dumps(value, default=_json_default).encode("ascii")

    def json_from_hub(self, value: Optional[bytes], encoding: Optional[str] = None) -> Any:
        """A JSON document from the hub (hub encoding, or ``encoding``) as
        Python objects.

        # Errors
        ``ValueError`` if it is not JSON.
        """
        import json

        text = (value or b"").decode(encoding or self.encoding, "surrogateescape")
        return json.loads(text)

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
        event = self._wait_result(call_id, callback, timeout)
        return bool(event[2]), list(event[3]), event[4]

    def _wait_result(self, call_id: int, what: str, timeout: Optional[float]) -> tuple[Any, ...]:
        """Waits on the main thread for the ``("result", call_id, …)`` event,
        running every hook and function call the hub sends meanwhile: the
        hub may re-enter this script while it waits (spec §9.2).

        Such a nested hook may itself wait for a call, and the answer to
        this (outer) call may come first: the hub does not wait for hooks
        whose result it ignores (``OnScriptCommand`` from an instant
        ``vh.ScriptCommand``), so it answers the outer call while the
        nested hook still runs. Answers for an outer wait are kept until
        that wait resumes; answers nobody waits for are late ones to calls
        that timed out, and dropped.

        # Errors
        ``HubTimeoutError`` past ``timeout`` seconds (named ``what``),
        ``NotConnectedError`` if the link closes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._main_waits.append(call_id)
        try:
            while True:
                early = self._early_results.pop(call_id, None)
                if early is not None:
                    return early
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                event = self.channel.recv_main(wait)
                if event is None:
                    raise HubTimeoutError(what, timeout)
                kind = event[0]
                if kind == "result":
                    if event[1] == call_id:
                        return tuple(event)
                    if event[1] in self._main_waits:
                        self._early_results[event[1]] = tuple(event)
                elif kind == "hook":
                    self.run_hook(event[1], event[2], event[3])
                elif kind == "function":
                    self.run_function(event[1], event[2], event[3], event[4])
                elif kind == "ping":
                    self.answer_ping(event[1])
                elif kind == "closed":
                    raise NotConnectedError(f"vh-runner link closed: {event[1]}")
                elif kind == "unload":
                    # Finish the call first; the unload is handled by the main loop.
                    self.pending_unload = True
        finally:
            self._main_waits.pop()

    def call_dynamic(
        self, name: bytes, kinds: str, args: list[Any], timeout: Optional[float] = None
    ) -> DynamicOutcome:
        """Calls the C function registered as ``name`` for this script
        (``vh.CallDynamicFunction``, spec §3.10) with hub values ``args`` of
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
                event = self._wait_result(call_id, label, timeout)
                return bool(event[2]), list(event[3]), event[4], event[5]
            got = self.channel.dynamic_blocking(name, kinds, args, timeout)
        except ConnectionError as e:
            raise NotConnectedError(f"vh-runner link closed: {e}") from e
        if got is None:
            raise HubTimeoutError(label, timeout)
        ok, values, error, out_kinds = got
        return bool(ok), list(values), error, out_kinds

    # -- hooks -------------------------------------------------------------------

    def run_hook(self, call_id: int, hook: int, args: list[Any]) -> None:
        """Calls the script's hook with hub values ``args`` and answers the
        hub: at once for a plain hook, from the loop's thread when an
        ``async`` hook's coroutine finishes."""
        if hook == ON_SCRIPT_COMMAND and not _is_b():
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
            _print_exc()
            result, error = None, e
        finally:
            self.depth -= 1
        if _isawaitable(result):
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
        """Generation A's ``_update_settings`` (spec §4.3): an
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

    # -- w_CallFunction (generation B) ---------------------------------------------

    def run_function(self, call_id: int, name: bytes, kinds: str, args: list[Any]) -> None:
        """Runs ``w_CallFunction`` (spec §3.9): calls the script's
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
        self.depth += 1
        try:
            result = fn(*py_args)
        except Exception as e:
            print(f"vh: CallFunction {fname} raised; returning NULL", flush=True)
            _print_exc()
            self._send_function_failure(call_id, f"{fname} raised {type(e).__name__}: {e}")
            return
        finally:
            self.depth -= 1
        if _isawaitable(result):
            with self._lock:
                self._async_pending += 1
            future = self.loop_thread().submit(result)
            future.add_done_callback(lambda f: self._async_function_done(call_id, fname, f))
        else:
            self._send_function_result(call_id, fname, result)

    def _async_function_done(
        self, call_id: int, fname: str, future: concurrent.futures.Future[Any]
    ) -> None:
        with self._lock:
            self._async_pending -= 1
        try:
            if future.cancelled():
                self._send_function_failure(call_id, f"{fname} was cancelled")
                return
            error = future.exception()
            if error is None:
                self._send_function_result(call_id, fname, future.result())
                return
            print(f"vh: CallFunction {fname} raised; returning NULL", flush=True)
            _print_exception(error)
            sys.stderr.flush()
            self._send_function_failure(call_id, f"{fname} raised {error!r}")
        except ConnectionError:
            pass  # the link is gone; the main thread sees "closed" and exits

    def _function_arg(self, kind: str, value: Any) -> Any:
        """One ``w_CallFunction`` argument for Python (spec §3.9): JSON
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
            if not _LONG_MIN <= r <= _LONG_MAX:
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
        from the thread that got the value.

        A result the hub cannot take (text its encoding lacks, or a NUL
        byte, which ends a C string) counts as an exception in the hook:
        the traceback is printed and the hook allows, as generation A did
        when it could not parse a result (§4.3)."""
        try:
            values = self.map_result(hook, name, value)
            if any(isinstance(v, bytes) and b"\0" in v for v in values):
                raise ValueError(f"{name} returned text with a NUL byte, which the hub cannot take")
        except (UnicodeEncodeError, ValueError):
            print(f"vh: {name} returned a value the hub cannot take; the hub goes on", flush=True)
            _print_exc()
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
                _print_exception(error)
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
                if _isawaitable(result):
                    self._wait_on_loop(result, timeout)
            except Exception:
                _print_exc()
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
            self._timer_without_arg = _takes_no_positional(fn)
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
            # Generation B's plugin never read a str as new chat text (§4.3).
            if isinstance(r, str) and not _is_b():
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


def _is_b() -> bool:
    """True if the script runs with generation B's semantics (``vh._semantics``,
    imported here, not at the top: it imports this module)."""
    from . import _semantics

    return _semantics.is_b()


def _takes_no_positional(fn: Callable[..., Any]) -> bool:
    """True if ``fn`` takes no positional argument, as
    ``inspect.signature`` tells; a plain function is read from its code
    object, without importing ``inspect`` (about 2 MiB of a worker)."""
    if (
        type(fn) is types.FunctionType
        and not hasattr(fn, "__wrapped__")
        and not hasattr(fn, "__signature__")
        and not getattr(fn, "__text_signature__", None)
    ):
        code = fn.__code__
        return code.co_argcount == 0 and not code.co_flags & _CO_VARARGS
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return not any(p.kind in positional for p in params)


#: ``inspect.CO_VARARGS``: the function has ``*args``.
_CO_VARARGS = 0x04


def _main_thread_ident() -> int:
    """The main thread's id: ``threading``'s idea of it once that is
    imported (scripts and ``vh.testing`` import it), else this thread's (a
    worker makes its runtime on its main thread and need not pay for
    ``threading``)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        ident = threading.main_thread().ident
        if ident is not None:
            return int(ident)
    return _thread.get_ident()


def _isawaitable(value: Any) -> bool:
    """``inspect.isawaitable`` without importing ``inspect``."""
    if value is None or type(value) in (int, bool, str, tuple):
        return False
    return (
        isinstance(value, (types.CoroutineType, Awaitable))
        or isinstance(value, types.GeneratorType)
        and bool(value.gi_code.co_flags & _CO_ITERABLE_COROUTINE)
    )


#: ``inspect.CO_ITERABLE_COROUTINE``: a generator made awaitable by
#: ``types.coroutine``.
_CO_ITERABLE_COROUTINE = 0x100


def _print_exc() -> None:
    """``traceback.print_exc()``, importing ``traceback`` at the first error."""
    import traceback

    traceback.print_exc()


def _print_exception(error: BaseException) -> None:
    """Prints ``error`` with its traceback to stderr."""
    import traceback

    traceback.print_exception(type(error), error, error.__traceback__)


def _json_default(value: Any) -> Any:
    """Sets and frozensets as JSON arrays (spec §3.9, §3.10)."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


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
