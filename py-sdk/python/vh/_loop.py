"""The worker's asyncio event loop, run in a daemon thread named
``vh-asyncio`` (started the first time a script needs it: an ``async def``
hook, ``vh.aio.run_in_background`` or ``vh.aio.loop()``).

Why a thread of its own: the worker's main thread spends its idle time in
the transport's blocking receive (``_core.Channel.recv_main``, GIL
released), so a loop that must keep serving a script's sockets between two
hooks cannot live there. See ``_hook_dispatch`` for how hooks use it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import time
import traceback
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

T = TypeVar("T")

#: Name of the loop's thread, as scripts see it in ``threading.enumerate()``.
THREAD_NAME = "vh-asyncio"


async def _await(aw: Awaitable[T]) -> T:
    return await aw


def as_coroutine(aw: Awaitable[T]) -> Coroutine[Any, Any, T]:
    """``aw`` itself if it is a coroutine, else a coroutine awaiting it
    (``run_coroutine_threadsafe`` takes only coroutines)."""
    return aw if asyncio.iscoroutine(aw) else _await(aw)


class LoopThread:
    """One asyncio event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_report)
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(ready,), name=THREAD_NAME, daemon=True
        )
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread."""
        return threading.current_thread() is self.thread

    def submit(self, aw: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Schedules ``aw`` on the loop from any thread; the returned future
        is thread-safe (``result()``, ``cancel()``, ``add_done_callback``)."""
        return asyncio.run_coroutine_threadsafe(as_coroutine(aw), self.loop)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` on the loop's thread as soon as it is free."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float) -> bool:
        """Cancels every task, gives them most of ``timeout`` seconds to
        finish, stops and closes the loop, all within ``timeout``. Returns
        False if the loop did not stop in time (a task blocks it); its daemon
        thread then dies with the process. Not from the loop's thread."""
        if not self.thread.is_alive():
            return True
        if self.in_loop_thread():
            raise RuntimeError("the vh asyncio loop cannot stop itself from inside")
        deadline = time.monotonic() + timeout
        done = asyncio.run_coroutine_threadsafe(self._cancel_all(timeout * 0.75), self.loop)
        try:
            done.result(timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(max(0.05, deadline - time.monotonic()))
        if self.thread.is_alive():
            return False
        self.loop.close()
        return True

    async def _cancel_all(self, timeout: float) -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.loop.shutdown_asyncgens()


def _report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Loop errors go to the worker's stderr (the runner logs it, tagged
    with the script), with the traceback when there is one."""
    message = context.get("message", "error in the asyncio loop")
    print(f"vh: asyncio: {message}", file=sys.stderr, flush=True)
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
