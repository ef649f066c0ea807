"""A small pool of daemon threads that wait for hub answers on behalf of
``vh.aio`` calls, so that an event loop never blocks on one.

Why not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined
at interpreter exit, and a thread waiting for the hub would then hold the
worker's exit until the runner kills it. These threads are daemons; each
waits in the transport with the GIL released.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")

#: Most hub calls of one script waiting at the same time; more wait for a
#: free thread.
MAX_THREADS = 16

_Job = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class CallThreads:
    """Runs blocking functions on up to ``max_threads`` daemon threads,
    started as needed and kept for reuse."""

    def __init__(self, max_threads: int = MAX_THREADS, name: str = "vh-call") -> None:
        self._max = max_threads
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._queued = 0

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Runs ``fn(*args)`` on a pool thread; the future holds its result
        or exception."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            self._queued += 1
            start = self._queued > self._idle and self._threads < self._max
            if start:
                self._threads += 1
        self._jobs.put((future, fn, args))
        if start:
            name = f"{self._name}-{self._threads}"
            threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            future, fn, args = self._jobs.get()
            with self._lock:
                self._idle -= 1
                self._queued -= 1
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as e:
                future.set_exception(e)
            else:
                future.set_result(result)
