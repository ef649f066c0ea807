# -*- coding: utf-8 -*-
"""The Python 2 worker's transport: frames on the socket to the runner
(fd ``VH_WORKER_FD``), docs/protocol.md "Runner ↔ worker".

The Python 3 worker does this in Rust (``py-sdk/src/lib.rs``); here it is
pure Python (Python 2.7 standard library only), with the same routing: a
reader thread reads every frame and hands the ``CallResult`` of a ``vh.*``
call made off the main thread straight to the thread waiting for it;
everything else (the load request, hooks, results of the main thread's
calls, pings, unload) goes to the main thread's queue, which
:meth:`Channel.recv_main` reads.

Events are tuples, as ``vh._core.Channel.recv_main`` gives them:
``("load", load_dict)``, ``("hook", call_id, hook, args)``,
``("function", call_id, name, kinds, args)``, ``("result", call_id, ok,
values, error)``, ``("unload",)``, ``("ping", seq)``, ``("closed",
reason)``. Hub values are ``str`` (the hub's bytes, untouched), ``int``,
``float`` or ``None`` (a NULL string).

This worker takes no direct link to the hub (fd 4): the runner gives
Python 2 workers none, so all of its traffic goes through the runner.
"""

import os
import socket
import struct
import sys
import threading

from . import _wire
from ._errors import MessageTooBigError, NotConnectedError

if sys.version_info[0] == 2:  # pragma: no cover - Python 2 only
    import Queue as queue  # noqa: N813
else:
    import queue

#: Largest frame either side accepts (``vh_proto::frame::MAX_FRAME_LEN``).
MAX_FRAME_LEN = 16 * 1024 * 1024
#: Largest message a worker sends: room for what the runner adds
#: (``vh_proto::frame::MAX_MESSAGE_LEN``).
MAX_MESSAGE_LEN = MAX_FRAME_LEN - 64 * 1024

_JSON = object()


def value_to_py(value):
    """A ``Value`` message (dict) as a Python 2 hub value."""
    if "l" in value:
        return int(value["l"])
    if "s" in value:
        return value["s"]
    if "d" in value:
        return float(value["d"])
    if "json" in value:
        return value["json"]
    return None


def value_kind(value):
    """The format character of a ``Value`` message: ``l``, ``s``, ``d``, ``D``."""
    if "l" in value:
        return "l"
    if "d" in value:
        return "d"
    if "json" in value:
        return "D"
    return "s"


def py_to_value(obj):
    """A Python hub value as a ``Value`` message: ``None`` -> NULL string,
    ``bool``/``int``/``long`` -> ``l``, ``float`` -> ``d``, ``str`` -> ``s``.

    # Errors
    ``TypeError`` for anything else (``unicode`` must be encoded first).
    """
    if obj is None:
        return {"null_s": True}
    if isinstance(obj, bool):
        return {"l": int(obj)}
    if isinstance(obj, float):
        return {"d": obj}
    if isinstance(obj, bytes):
        return {"s": obj}
    if isinstance(obj, _wire._int_types):
        if not -(2**63) <= obj < 2**63:
            raise OverflowError("integer does not fit in a C long")
        return {"l": int(obj)}
    raise TypeError("hub values are str, int, float or None, not %s" % type(obj).__name__)


def _read_exact(sock, n):
    chunks = []
    while n:
        try:
            chunk = sock.recv(min(n, 1 << 20))
        except socket.error as e:
            if getattr(e, "errno", None) == 4:  # EINTR
                continue
            raise
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Channel(object):
    """The worker's link to the runner on socket ``fd`` (owned from now on)."""

    def __init__(self, fd):
        self._sock = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
        os.close(fd)
        self._send_lock = threading.Lock()
        self._main = queue.Queue()
        self._pending = {}
        self._lock = threading.Lock()
        self._next_call = 1
        self._closed = None
        reader = threading.Thread(target=self._reader, name="vh-reader")
        reader.daemon = True
        reader.start()

    # -- reading ---------------------------------------------------------------

    def _reader(self):
        reason = "the runner closed the link"
        try:
            while True:
                head = _read_exact(self._sock, 4)
                if head is None:
                    break
                (size,) = struct.unpack("<I", head)
                if size > MAX_FRAME_LEN:
                    reason = "frame of %d bytes is over the limit" % size
                    break
                body = _read_exact(self._sock, size) if size else b""
                if body is None:
                    break
                event = self._event(_wire.decode("ToWorker", body))
                if event is None:
                    continue
                if event[0] == "result":
                    with self._lock:
                        waiter = self._pending.pop(event[1], None)
                    if waiter is not None:
                        waiter.put(event)
                        continue
                self._main.put(event)
        except Exception as e:  # a broken link or frame ends the worker
            reason = "link error: %s" % (e,)
        with self._lock:
            self._closed = reason
            waiters = list(self._pending.values())
            self._pending.clear()
        for w in waiters:
            w.put(("closed", reason))
        self._main.put(("closed", reason))

    @staticmethod
    def _event(msg):
        if "load" in msg:
            return ("load", msg["load"])
        if "hook" in msg:
            h = msg["hook"]
            return ("hook", h["call_id"], h["hook"], [value_to_py(v) for v in h["args"]])
        if "call_result" in msg:
            r = msg["call_result"]
            values = r["values"]
            return (
                "result",
                r["call_id"],
                r["ok"],
                [value_to_py(v) for v in values],
                r["error"],
                "".join(value_kind(v) for v in values),
            )
        if "unload" in msg:
            return ("unload",)
        if "ping" in msg:
            return ("ping", msg["ping"]["seq"])
        if "function" in msg:
            f = msg["function"]
            args = f["args"]
            return (
                "function",
                f["call_id"],
                f["name"],
                "".join(value_kind(v) for v in args),
                [value_to_py(v) for v in args],
            )
        return None

    def recv_main(self):
        """The next event for the main thread (blocks until there is one)."""
        while True:
            try:
                # A long timeout keeps the wait interruptible (Ctrl-C in a
                # test) without Python 2's polling of short timeouts.
                return self._main.get(True, 3600 * 24)
            except queue.Empty:
                continue

    # -- writing ---------------------------------------------------------------

    def _send(self, kind, body):
        data = _wire.encode("FromWorker", {kind: body})
        if len(data) > MAX_MESSAGE_LEN:
            raise MessageTooBigError("a message", len(data), MAX_MESSAGE_LEN)
        frame = struct.pack("<I", len(data)) + data
        with self._send_lock:
            try:
                self._sock.sendall(frame)
            except socket.error as e:
                raise NotConnectedError("vh-runner link closed: %s" % (e,))

    def _call_id(self):
        with self._lock:
            n = self._next_call
            self._next_call += 1
            return n

    def send_loaded(self, ok, error, hooks):
        """Reports the load outcome and the defined hook indices."""
        if not isinstance(error, bytes):
            error = error.encode("utf-8", "replace")
        self._send(
            "loaded",
            {"ok": ok, "error": error, "hooks": list(hooks), "pid": os.getpid()},
        )

    def send_hook_result(self, call_id, no_opinion, values):
        """Answers hook ``call_id`` with hub values (already mapped)."""
        self._send(
            "hook_result",
            {
                "call_id": call_id,
                "no_opinion": no_opinion,
                "values": [py_to_value(v) for v in values],
            },
        )

    def send_function_result(self, call_id, ok, kind, value, error):
        """Answers function call ``call_id`` (``w_CallFunction``)."""
        body = {"call_id": call_id, "ok": ok, "error": error}
        if ok:
            body["value"] = {"json": value} if kind == "D" else py_to_value(value)
        self._send("function_result", body)

    def send_pong(self, seq):
        """Answers a health ping."""
        self._send("pong", {"seq": seq})

    def send_unloaded(self):
        """Confirms an unload."""
        self._send("unloaded", {"script_id": 0})

    def start_call(self, callback, args):
        """Sends a hub callback call from the main thread; returns its call
        id. The result comes on the main queue as ``("result", ...)``."""
        call_id = self._call_id()
        values = [py_to_value(a) for a in args]
        self._send("hub_call", {"call_id": call_id, "callback": callback, "args": values})
        return call_id

    def call_blocking(self, callback, args):
        """Sends a hub callback call from another thread and blocks until
        its result: ``(ok, values, error)``.

        # Errors
        ``NotConnectedError`` if the link closes first.
        """
        values = [py_to_value(a) for a in args]
        call_id = self._call_id()
        waiter = queue.Queue(1)
        with self._lock:
            if self._closed is not None:
                raise NotConnectedError("vh-runner link closed: %s" % self._closed)
            self._pending[call_id] = waiter
        try:
            self._send("hub_call", {"call_id": call_id, "callback": callback, "args": values})
        except Exception:
            with self._lock:
                self._pending.pop(call_id, None)
            raise
        while True:
            try:
                event = waiter.get(True, 3600 * 24)
                break
            except queue.Empty:
                continue
        if event[0] == "closed":
            raise NotConnectedError("vh-runner link closed: %s" % event[1])
        return bool(event[2]), list(event[3]), event[4]
