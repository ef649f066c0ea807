# -*- coding: utf-8 -*-
"""Pipelined ``vh.*`` calls held back until the worker's next frame on the
direct link (docs/protocol.md "Pipelined calls"), as the Python 3
worker's ``Held`` (``py-sdk/src/transport/main_thread.rs``) holds them.

A pipelined call needs no answer, so nothing is lost by writing it a
little later, together with the frame that follows it on the link (the
hook's result, or a call that waits): the hub thread then finds the calls
and that frame in one read, and wakes once per hook instead of once per
call. The order on the link is the order of the script's calls. Frames
held longer than :data:`HOLD_AT_MOST` or bigger than :data:`HOLD_BYTES`
go out at the script's next pipelined call; the main thread writes what
is held before it waits for anything. Only the main thread holds frames.

Python 2.7 and 3 syntax alike.
"""

import time

#: Longest a pipelined call is held while the script keeps running (s).
HOLD_AT_MOST = 0.0005
#: Most bytes held before they are written.
HOLD_BYTES = 64 * 1024


class Held(object):
    """The held frames (length-prefixed, ready to write), oldest first."""

    def __init__(self):
        self._frames = []
        self._bytes = 0
        self._since = None

    def push(self, frame):
        """Holds ``frame``; True if what is held should be written now (the
        oldest frame is older than :data:`HOLD_AT_MOST`, or there are more
        than :data:`HOLD_BYTES`)."""
        now = time.time()
        if self._since is None:
            self._since = now
        self._frames.append(frame)
        self._bytes += len(frame)
        return self._bytes > HOLD_BYTES or now - self._since > HOLD_AT_MOST

    def take(self):
        """Every held frame, oldest first, as one byte string (empty if
        none); nothing is held after."""
        if not self._frames:
            return b""
        frames, self._frames, self._bytes, self._since = self._frames, [], 0, None
        return b"".join(frames)

    def count(self):
        """How many frames are held."""
        return len(self._frames)

    def __bool__(self):
        return bool(self._frames)

    __nonzero__ = __bool__  # Python 2


class NativeHeld(object):
    """:class:`Held`'s methods on the buffer of ``native`` (``vh._native``,
    the compiled loop, which pushes and takes on it itself: no Python
    object between the compiled send and the link). One buffer per
    process, as a worker has one channel: made, it holds nothing."""

    def __init__(self, native):
        self._native = native
        native.held_clear()

    def push(self, frame):
        """:meth:`Held.push`."""
        return self._native.held_push(frame, HOLD_AT_MOST, HOLD_BYTES)

    def take(self):
        """:meth:`Held.take`."""
        return self._native.held_take()

    def count(self):
        """:meth:`Held.count`."""
        return self._native.held_count()

    def __bool__(self):
        return self._native.held_count() > 0

    __nonzero__ = __bool__  # Python 2


def for_native(native):
    """The held calls of a channel: in ``native``'s buffer where the
    compiled loop loaded (``vh._hook_loop._native``), else in Python."""
    return Held() if native is None else NativeHeld(native)
