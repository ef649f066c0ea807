"""asyncio for scripts: awaitable ``vh`` functions and the worker's loop.

Awaitable functions
    ``await vh.aio.mc("hi")``, ``await vh.aio.GetUserIP(nick)``, … : one per
    classic function, with the results and errors of ``vh.strict``
    (:class:`vh.HubRefusedError`, :class:`vh.HubTimeoutError`, keyword-only
    ``timeout`` in seconds). They work in any event loop and any thread:
    the call waits on a helper thread (GIL released), so the loop goes on
    meanwhile. Called on the worker's main thread (inside a plain hook that
    runs an event loop of its own), the call runs at once on that thread, as
    a classic call there does, so hooks the call makes the hub fire are
    still served.

``async def`` hooks
    A hook may be a coroutine function. It runs on the worker's loop; the
    hub gets its result when it finishes (mapped as a plain hook's, docs/abi.md
    §4.4), and waits for it as for any hook, up to its hook
    deadline. Inside it, use ``await vh.aio.X()``: a classic ``vh.X()``
    blocks the loop until the hub answers, and a hook that call makes the
    hub fire into an ``async`` hook of this script then waits for the
    deadline.

The worker's loop
    One asyncio loop per worker, in a daemon thread (``vh-asyncio``),
    started on first use. :func:`run_in_background` runs a coroutine there
    for as long as the script is loaded (a web server, a bridge, a
    periodic task), without any thread of the script's own. At unload the
    worker calls ``UnLoad()`` (which may be ``async def``), then cancels
    what still runs on the loop and stops it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import traceback
from typing import Any, Awaitable, Callable, Optional, TypeVar

from . import _api, _runtime
from ._extras import SEND_TO_ALL, call_dynamic
from ._functions import FUNCTIONS, FunctionSpec
from ._threads import CallThreads

T = TypeVar("T")

_threads = CallThreads()


def run_in_background(aw: Awaitable[T]) -> concurrent.futures.Future[T]:
    """Runs ``aw`` (a coroutine, task or future) on the worker's asyncio
    loop, starting the loop if needed, and returns at once.

    The returned ``concurrent.futures.Future`` is thread-safe: keep it to
    ``cancel()`` the work (e.g. in ``UnLoad``) or to wait for its result. If
    the work raises, the traceback is printed to the script's log.

    # Errors
    :class:`vh.NotConnectedError` outside a worker or a ``FakeHub``.
    """
    future = _runtime.get().loop_thread().submit(aw)
    future.add_done_callback(_report_failure)
    return future


def loop() -> asyncio.AbstractEventLoop:
    """The worker's asyncio loop (started if needed), e.g. for
    ``asyncio.run_coroutine_threadsafe`` from a thread of the script.

    # Errors
    :class:`vh.NotConnectedError` outside a worker or a ``FakeHub``.
    """
    return _runtime.get().loop_thread().loop


def _report_failure(future: concurrent.futures.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        print("vh: a task run with vh.aio.run_in_background raised:", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()


def _make(spec: FunctionSpec) -> Callable[..., Any]:
    async def call(*args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            return _api.call_strict(spec, args, kwargs, timeout)
        waiting = _threads.submit(_api.call_strict, spec, args, kwargs, timeout)
        return await asyncio.wrap_future(waiting)

    _api.describe_async(call, spec)
    return call


_g = globals()
for _spec in (*FUNCTIONS, SEND_TO_ALL):
    _g[_spec.name] = _make(_spec)
del _g, _spec


async def CallDynamicFunction(name: str, /, *args: Any, timeout: Optional[float] = None) -> Any:
    """Awaitable ``vh.CallDynamicFunction`` (docs/abi.md §3.10), with a
    keyword-only ``timeout`` in seconds (:class:`vh.HubTimeoutError`)."""
    if threading.current_thread() is threading.main_thread():
        return call_dynamic(name, args, timeout)
    return await asyncio.wrap_future(_threads.submit(call_dynamic, name, args, timeout))


__all__ = [
    "run_in_background",
    "loop",
    *(spec.name for spec in (*FUNCTIONS, SEND_TO_ALL)),
    "CallDynamicFunction",
]
