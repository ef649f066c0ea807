"""The in-process transport of ``vh.testing.FakeHub``: what the worker's
``vh._core.Channel`` does, served by the fake hub, and the real runtime
keeping each hook's Python value for the test."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, NamedTuple, Optional

from .. import _runtime

#: ``serve(callback, args) -> (ok, values)``: the fake hub runs one call
#: (hub values in and out).
Serve = Callable[[str, list[Any]], tuple[bool, list[Any]]]


class ResultEvent(NamedTuple):
    """A call's answer, with the fields of ``vh._core.ResultEvent``."""

    call_id: int
    ok: bool
    values: list[Any]
    error: str = ""
    kinds: str = ""
    kind: str = "result"


class Channel:
    """The worker transport's interface (``vh._core.Channel``), served in
    process: every call is answered at once by ``serve``, on the calling
    thread; hook results are kept for the test to collect (``wait``)."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._ids = itertools.count(1)
        self._main: list[ResultEvent] = []
        self._done = threading.Condition()
        self.results: dict[int, Optional[list[Any]]] = {}
        self.pongs: list[int] = []

    def start_call(self, callback: str, args: list[Any]) -> int:
        call_id = next(self._ids)
        ok, values = self._serve(callback, args)
        self._main.append(ResultEvent(call_id, ok, values))
        return call_id

    def recv_main(self, timeout: Optional[float] = None) -> ResultEvent:
        # start_call answered at once: the answer is the last one queued.
        if not self._main:
            raise RuntimeError("fake hub: recv_main without a call waiting")
        return self._main.pop()

    def call_blocking(
        self, callback: str, args: list[Any], timeout: Optional[float] = None
    ) -> tuple[bool, list[Any], str]:
        ok, values = self._serve(callback, args)
        return ok, values, ""

    def send_hook_result(self, call_id: int, no_opinion: bool, values: list[Any]) -> None:
        with self._done:
            self.results[call_id] = None if no_opinion else list(values)
            self._done.notify_all()

    def send_pong(self, seq: int) -> None:
        self.pongs.append(seq)

    def wait(self, call_id: int, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for hook ``call_id``'s result."""
        with self._done:
            return self._done.wait_for(lambda: call_id in self.results, timeout)


class Runtime(_runtime.Runtime):
    """The real runtime, also keeping each hook's Python value."""

    def __init__(self, channel: Channel, encoding: str) -> None:
        super().__init__(channel, encoding)
        self.values: dict[int, tuple[Any, Optional[BaseException]]] = {}

    def deliver_hook_result(
        self,
        call_id: int,
        hook: int,
        name: str,
        value: Any,
        error: Optional[BaseException] = None,
    ) -> None:
        self.values[call_id] = (value, error)
        super().deliver_hook_result(call_id, hook, name, value, error)
