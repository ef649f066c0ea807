"""The bottom layer of the worker's runtime (``vh._runtime``): the state of
the one script a worker runs, its link to the hub (``channel``), hub
strings and JSON documents to and from Python, the worker's asyncio loop,
and the answer to the runner's health ping.

Hub strings are bytes in the hub's encoding; scripts see ``str`` decoded
with that encoding and ``surrogateescape``, and every byte goes back to the
hub unchanged (docs/architecture.md "Hub strings are bytes").
"""

from __future__ import annotations

import _thread
import sys
from codecs import charmap_decode, charmap_encode

from ._codec import ERRORS, charmap_tables
from ._generation import is_b
from ._pipeline import as_is_for

# What a worker imports at idle is kept small (docs/performance.md:
# idle RSS): ``threading``, ``json`` and ``asyncio`` are imported where
# first needed, not here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ._loop import LoopThread


class Nesting:
    """``vh._core.Nesting`` for a channel without one (``vh.testing``'s):
    ``depth``, the hooks and function calls running on the main thread,
    and ``async_pending``, the ``async`` ones still running on the loop
    thread."""

    __slots__ = ("depth", "async_pending")

    def __init__(self) -> None:
        self.depth = 0
        self.async_pending = 0


class ScriptState:
    """State of the one script this worker runs, and its link to the hub.

    ``channel`` is a ``vh._core.Channel`` in a worker, or the in-process
    fake of ``vh.testing``; ``encoding`` is a Python codec name.
    """

    def __init__(self, channel: Any, encoding: str) -> None:
        self.channel = channel
        self.encoding = encoding
        #: The hub codec's tables when it is a charmap codec (CP1252, the
        #: default, and its kin): hub text then crosses in C (``vh._codec``).
        self.charmap = charmap_tables(encoding)
        self.module: Any = None
        #: How deep hooks and function calls nest now (``depth``,
        #: ``async_pending``): the channel's ``vh._core.Nesting``, which its
        #: compiled hook loop reads and sets, or a :class:`Nesting`.
        nesting = getattr(channel, "nesting", None)
        self.nesting: Any = nesting if nesting is not None else Nesting()
        self.pending_unload = False
        self._timer_without_arg: Optional[bool] = None
        self._loop: Optional[LoopThread] = None
        self._lock = _thread.allocate_lock()
        self._main_ident = _main_thread_ident()
        #: The channel, its compiled way for a discarded send set up, or
        #: None (``vh._pipeline.as_is_for``).
        self.as_is = as_is_for(channel, self.charmap, encoding, self._main_ident)
        self._warned_blocking = False
        #: Call ids the main thread waits for, innermost last, and answers
        #: that came for an outer one while an inner one was waited for.
        self._main_waits: list[int] = []
        self._early_results: dict[int, Any] = {}

    # -- encoding -----------------------------------------------------------

    def to_hub(self, value: Any) -> Any:
        """A Python argument as a hub value: ``str`` becomes bytes in the hub
        encoding (``surrogateescape`` restores undecodable bytes)."""
        if isinstance(value, str):
            if self.charmap is not None:
                return charmap_encode(value, ERRORS, self.charmap[1])[0]
            return value.encode(self.encoding, ERRORS)
        return value

    def from_hub(self, value: Any) -> Any:
        """A hub value for Python: bytes become ``str``."""
        if isinstance(value, bytes):
            if self.charmap is not None:
                return charmap_decode(value, ERRORS, self.charmap[0])[0]
            return value.decode(self.encoding, ERRORS)
        return value

    def function_encoding(self) -> str:
        """The encoding of the text ``w_CallFunction`` and
        ``CallDynamicFunction`` exchange with C (docs/abi.md §3.9, §3.10): UTF-8
        under generation B's semantics, as B's wrapper (§8), else the hub
        encoding. Both with ``surrogateescape``: no byte is lost (B failed
        the call on one that was not UTF-8)."""
        return "utf-8" if is_b() else self.encoding

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

    # -- health pings -----------------------------------------------------------

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


def _json_default(value: Any) -> Any:
    """Sets and frozensets as JSON arrays (docs/abi.md §3.9, §3.10)."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
