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

Events are tuples, kind first (``vh._main_loop.TUPLES``; and
``("load", load_dict)``). Hub values are ``str`` (the hub's bytes,
untouched), ``int``, ``float`` or ``None`` (a NULL string).

With a direct link to the hub (fd ``VH_DIRECT_FD``, docs/protocol.md
"Direct links") the main thread also reads that link itself, sleeping in
``select`` on it and on a pipe the reader thread writes to when it queues
something, so a hook from the hub reaches Python with no thread hop. Answers
go back the way their request came (the runner's link for a hook whose
result the hub ignores); the main thread's ``vh.*`` calls take the direct
link while it serves a call the hub waits for there; everything else goes
to the runner. A direct link that closes or breaks is dropped, and
everything goes through the runner from then on.
"""

import errno
import fcntl
import functools
import itertools
import marshal
import os
import select
import socket
import struct
import sys
import threading
import time

from . import _fast, _held, _hook_loop, _spin
from ._errors import NotConnectedError
from ._frames import (
    COMPACT,
    HOOK,
    compact_frame,
    decode_to_worker,
    encode_frame,
    event_of,
    hook_result_frame,
    hub_call_frame,
    protobuf_frames,
    py_to_value,
    read_frame,
    take_frame,
)

if sys.version_info[0] == 2:  # pragma: no cover - Python 2 only
    import Queue as queue  # noqa: N813
else:
    import queue

#: The length prefix of a frame (``vh._frames``).
_unpack_len = struct.Struct("<I").unpack_from
_loads = marshal.loads

#: Which link a message came on or goes out on.
RUNNER, DIRECT = _hook_loop.RUNNER, _hook_loop.DIRECT


def _nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


class Channel(object):
    """The worker's link to the runner on socket ``fd`` and, if
    ``direct_fd`` is not negative, its direct link to the hub (both owned
    from now on)."""

    def __init__(self, fd, direct_fd=-1):
        self._sock = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)
        os.close(fd)
        self._send_lock = threading.Lock()
        self._main = queue.Queue()
        self._pending = {}
        self._lock = threading.Lock()
        #: Call ids: ``next`` on a C iterator is atomic under the GIL.
        self._call_ids = itertools.count(1)
        self._closed = None
        self._active = []  # requests served, innermost last: (call id, link, awaited)
        #: Pipelined calls not yet written (main thread only).
        self._held = _held.for_native(_hook_loop._native)
        #: How long the main thread checks the direct link before it sleeps.
        self._spin = _spin.Adaptive(_spin.budget_from_env())
        self._give_way, self._direct = None, None  # _spin.give_way(): at the first spin
        #: Bytes read from the direct link, not yet a whole frame's worth.
        self._dbuf = b""
        if direct_fd >= 0:
            self._direct = socket.fromfd(direct_fd, socket.AF_UNIX, socket.SOCK_STREAM)
            os.close(direct_fd)
            self._dfd = self._direct.fileno()  # for vh._native's reads and writes
            self.as_is_for = functools.partial(_hook_loop.as_is_for, self)  # vh._runtime's
            self._wake_r, self._wake_w = os.pipe()
            _nonblocking(self._wake_r)
            _nonblocking(self._wake_w)
            # poll objects made once: the main thread's wait, its peek.
            self._poll = select.poll()
            self._poll.register(self._direct.fileno(), select.POLLIN)
            self._poll.register(self._wake_r, select.POLLIN)
            self._peek = select.poll()
            self._peek.register(self._direct.fileno(), select.POLLIN)
        reader = threading.Thread(target=self._reader, name="vh-reader")
        reader.daemon = True
        reader.start()

    # -- reading ---------------------------------------------------------------

    def _reader(self):
        reason = "the runner closed the link"
        try:
            while True:
                body = read_frame(self._sock)
                if body is None:
                    break
                event = decode_to_worker(body)
                if event is None:
                    continue
                if event[0] == "result":
                    with self._lock:
                        waiter = self._pending.pop(event[1], None)
                    if waiter is not None:
                        waiter.put(event)
                        continue
                self._to_main(event)
        except Exception as e:  # a broken link or frame ends the worker
            reason = "link error: %s" % (e,)
        with self._lock:
            self._closed = reason
            waiters = list(self._pending.values())
            self._pending.clear()
        for w in waiters:
            w.put(("closed", reason))
        self._to_main(("closed", reason))

    def _to_main(self, event):
        """Queues ``event`` for the main thread and wakes it if it sleeps
        on the direct link."""
        self._main.put(event)
        if self._direct is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass  # the pipe is full: the main thread wakes anyway

    #: The event of a decoded ``ToWorker`` message (``vh._frames``).
    _event = staticmethod(event_of)

    def recv_main(self):
        """The next event for the main thread (blocks until there is one);
        the pipelined calls it holds are written first."""
        return _hook_loop.next_event(self)[0]

    #: Runs plain hooks until an event the main loop must handle
    #: (``vh._hook_loop``).
    serve_hooks = _hook_loop.serve_hooks

    def _next_main(self):
        queued = self._main.queue  # only this thread takes from it
        while True:
            if queued:
                return self._main.get_nowait(), RUNNER
            if self._direct is None:
                while True:
                    try:
                        # A long timeout keeps the wait interruptible
                        # without Python 2's polling of short timeouts.
                        return self._main.get(True, 3600 * 24), RUNNER
                    except queue.Empty:
                        continue
            if self._dbuf:
                event = self._buffered_direct()
                if event is not None:
                    return event, DIRECT
                if self._direct is None:
                    continue
            try:
                # Budget nothing (human rates): no frame to find that out.
                ready = (self._spin._budget and self._spin_for()) or self._poll.poll()
            except (select.error, OSError) as e:
                if e.args and e.args[0] == errno.EINTR:
                    continue
                raise
            if len(ready) == 1 and ready[0][0] != self._wake_r:
                # The usual wake-up: the hub's next frame and nothing else.
                event = self._read_direct()
                if event is not None:
                    return event, DIRECT
                continue
            if any(fd == self._wake_r for fd, _events in ready):
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except OSError:
                    pass
            if any(fd != self._wake_r for fd, _events in ready):
                event = self._read_direct()
                if event is not None:
                    return event, DIRECT

    def _spin_for(self):
        """The ``poll`` result of the direct link and the wake-up pipe once
        one became readable while the main thread checked them for up to
        its spin budget (``vh._spin``); empty if none did or the budget is
        zero."""
        budget = self._spin.budget()
        if not budget:
            return []
        poll, give_way = self._poll.poll, self._give_way or _spin.give_way()
        self._give_way = give_way
        end = time.time() + budget
        while True:
            ready = poll(0)
            if ready or time.time() >= end:
                return ready
            give_way()

    def _read_direct(self):
        """Reads what the direct link has (one ``recv``: a hook's frame
        usually comes whole) and returns the event of its first whole
        frame; ``None`` if it carried nothing for the main thread or not a
        whole frame yet, or closed (then it is dropped)."""
        try:
            chunk = self._direct.recv(1 << 14)
        except socket.error as e:
            if getattr(e, "errno", None) in (errno.EINTR, errno.EAGAIN):
                return None
            chunk = b""
        if not chunk:
            # The hub closed it (or broke it): all through the runner now.
            self._drop_direct()
            return None
        if not self._dbuf and len(chunk) > 4:
            # The usual read: one hook's frame, whole and alone (take_frame
            # and decode_to_worker inlined; a frame read whole is below the
            # limit, which is bigger than one read).
            word = _unpack_len(chunk)[0]
            event = None
            if word == (len(chunk) - 4) | COMPACT:
                # A hook call (compact_event inlined); else the buffered path.
                try:
                    t = _loads(chunk[4:])
                except (ValueError, EOFError, TypeError):
                    t = None
                if type(t) is tuple and len(t) == 4 and t[0] == HOOK and type(t[3]) is list:
                    return ("hook", t[1], t[2], t[3])
            elif word == len(chunk) - 4:
                event = _fast.decode_event(chunk[4:])
            if event is not None:
                return event
        self._dbuf = self._dbuf + chunk if self._dbuf else chunk
        return self._buffered_direct()

    def _buffered_direct(self):
        """The event of the first whole frame read from the direct link;
        ``None`` if there is none yet or it carried nothing for the main
        thread, or the link broke (then it is dropped)."""
        try:
            body, self._dbuf, compact = take_frame(self._dbuf)
            if body is None:
                return None
            return decode_to_worker(body, compact)
        except Exception:
            self._drop_direct()
            return None

    def _drop_direct(self):
        direct, self._direct = self._direct, None
        self._dbuf = b""
        if direct is not None:
            try:
                direct.shutdown(socket.SHUT_RDWR)
            except socket.error:
                pass
            direct.close()

    def _origin(self, call_id):
        """The link to answer request ``call_id`` on (forgotten now)."""
        active = self._active
        if active and active[-1][0] == call_id:  # the innermost, as a rule
            _, link, awaited = active.pop()
            return DIRECT if link == DIRECT and awaited else RUNNER
        for i in range(len(active) - 1, -1, -1):
            if active[i][0] == call_id:
                _, link, awaited = self._active.pop(i)
                return DIRECT if link == DIRECT and awaited else RUNNER
        return RUNNER

    def _main_link(self):
        """The link of the main thread's ``vh.*`` calls: the direct one
        while it serves a call the hub waits for there."""
        if self._active:
            _, link, awaited = self._active[-1]
            if link == DIRECT and awaited:
                return DIRECT
        return RUNNER

    # -- writing ---------------------------------------------------------------

    def _send(self, kind, body, link=RUNNER):
        self._write(encode_frame(kind, body), link)

    def _write(self, frame, link=RUNNER):
        if link == DIRECT:
            self._write_direct(frame)
        else:
            self._write_runner(frame)

    def _write_direct(self, frame):
        """Writes the held pipelined calls and then ``frame`` (main thread
        only) on the direct link in one write while it is up, else (or if
        writing fails) to the runner, in the same order."""
        if self._held:
            frame = self._held.take() + frame
        direct = self._direct
        if direct is not None:
            # No lock: only the main thread writes on the direct link.
            try:
                direct.sendall(frame)
                return
            except socket.error:
                # A frame cut short would garble the link: drop it.
                self._drop_direct()
        self._write_runner(protobuf_frames(frame))

    def _write_runner(self, frame):
        with self._send_lock:
            try:
                self._sock.sendall(frame)
            except socket.error as e:
                raise NotConnectedError("vh-runner link closed: %s" % (e,))

    def _call_id(self):
        return next(self._call_ids)

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
        # Frames are built before the request is forgotten: a result too big
        # to send raises, and the caller answers the same request again.
        active = self._active
        if active and active[-1][0] == call_id and self._direct is not None:
            # The innermost request, as a rule (``_origin``, inlined).
            _, link, awaited = active[-1]
            if link == DIRECT and awaited:
                frame = compact_frame(call_id, "result", no_opinion, values)
                frame = frame or hook_result_frame(call_id, no_opinion, values)
                active.pop()
                self._write_direct(frame)
                return
        frame = hook_result_frame(call_id, no_opinion, values)
        self._write(frame, self._origin(call_id))

    def send_function_result(self, call_id, ok, kind, value, error):
        """Answers function call ``call_id`` (``w_CallFunction``)."""
        body = {"call_id": call_id, "ok": ok, "error": error}
        if ok:
            body["value"] = {"json": value} if kind == "D" else py_to_value(value)
        self._send("function_result", body, self._origin(call_id))

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
        self._write(hub_call_frame(call_id, callback, args), self._main_link())
        return call_id

    def pipeline_call(self, callback, args):
        """Sends hub callback ``callback(args)`` from the main thread
        without waiting for its result, if the hub waits for this script on
        the direct link and nothing it sent is still unread there
        (docs/protocol.md "Pipelined calls"); the call is held until the
        next frame on the link (``vh._held``). True if sent that way; False
        if the caller must make the ordinary call.

        # Errors
        ``MessageTooBigError`` if the call is too big to send,
        ``NotConnectedError`` if no link is left to write held calls on.
        """
        direct = self._direct
        if direct is None or self._dbuf or self._main.queue or not self._active:
            return False
        _, link, awaited = self._active[-1]  # as in _main_link
        if link != DIRECT or not awaited:
            return False
        if self._peek.poll(0):
            return False
        call_id = next(self._call_ids)
        frame = compact_frame(call_id, "call", callback, args)
        if frame is None:
            frame = hub_call_frame(call_id, callback, args, True)
        if self._held.push(frame):
            self._write_direct(b"")
        return True

    def call_blocking(self, callback, args):
        """Sends a hub callback call from another thread and blocks until
        its result: ``(ok, values, error)``.

        # Errors
        ``NotConnectedError`` if the link closes first.
        """
        call_id = self._call_id()
        frame = hub_call_frame(call_id, callback, args)
        waiter = queue.Queue(1)
        with self._lock:
            if self._closed is not None:
                raise NotConnectedError("vh-runner link closed: %s" % self._closed)
            self._pending[call_id] = waiter
        try:
            self._write(frame)
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
