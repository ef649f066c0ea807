# -*- coding: utf-8 -*-
"""Frames and hub values of the Python 2 worker's links (docs/protocol.md
"Runner ↔ worker: frames on a socketpair"): a 4-byte little-endian
length, then a protobuf message encoded by ``vh._wire``; ``Value``
messages to and from Python 2 hub values. On the direct link, hook calls
and their results, and pipelined calls, are compact frames instead
(docs/protocol.md "Compact frames"): ``marshal`` tuples, which Python 2.7
reads and writes in C.

Python 2.7 and 3 syntax alike (compact frames are written on Python 2
only: Python 3's ``marshal`` writes another format).
"""

import marshal
import socket
import struct
import sys

from . import _fast, _wire
from ._errors import MessageTooBigError

#: Largest frame either side accepts (``vh_proto::direct::frame::MAX_FRAME_LEN``).
MAX_FRAME_LEN = 16 * 1024 * 1024
#: Largest message a worker sends: room for what the runner adds
#: (``vh_proto::direct::frame::MAX_MESSAGE_LEN``).
MAX_MESSAGE_LEN = MAX_FRAME_LEN - 64 * 1024


def event_of(msg):
    """The main thread's event tuple (``vh._channel``) of a decoded
    ``ToWorker`` message; ``None`` for one with no member it knows."""
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


def decode_to_worker(body, compact=False):
    """The event of one ``ToWorker`` frame's body (``compact``: of a
    compact frame): hooks and results by ``vh._fast``, everything else (or
    anything it does not expect) by ``vh._wire``.

    # Errors
    ``vh._wire.DecodeError`` for bytes that are no ``ToWorker``,
    ``ValueError`` for a compact frame that is no hook call.
    """
    if compact:
        event = compact_event(body)
        if event is None:
            raise ValueError("a compact frame that is no hook call")
        return event
    event = _fast.decode_event(body)
    if event is None:
        event = event_of(_wire.decode("ToWorker", body))
    return event


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


_unpack_len = struct.Struct("<I").unpack
_pack_len = struct.Struct("<I").pack

#: The bit of a frame's length that marks a compact frame
#: (``vh_proto::direct::compact::COMPACT``); the other 31 are the length.
COMPACT = 0x80000000
#: False where ``marshal`` does not write Python 2.7's format.
WRITES_COMPACT = sys.version_info[0] == 2
#: First item of each compact tuple (``vh_proto::direct::compact``).
_HOOK, _HOOK_RESULT, _PIPELINED_CALL = 1, 2, 3
#: The tag of a compact hook result, and a frame's length word, for
#: ``vh._hook_loop``, which writes the usual result itself; the tag of a
#: compact hook call, for ``vh._channel``, which reads the usual one itself.
HOOK_RESULT, pack_len, HOOK = _HOOK_RESULT, _pack_len, _HOOK
#: The types of hub values a compact frame carries (no ``long``: the
#: shim reads no marshal longs).
_COMPACT_TYPES = frozenset([bytes, int, float, bool, type(None)])


def compact_frame(call_id, kind, third, values):
    """The compact frame of a hook result (``kind`` ``"result"``, ``third``
    no_opinion) or a pipelined call (``kind`` ``"call"``, ``third`` the
    callback name); ``None`` where it needs protobuf (Python 3, a value of
    another type, or too big: the protobuf path then says why)."""
    if not WRITES_COMPACT or type(call_id) is not int:  # a long: no marshal int
        return None
    for v in values:
        if type(v) not in _COMPACT_TYPES:
            return None
    tag = _HOOK_RESULT if kind == "result" else _PIPELINED_CALL
    body = marshal.dumps((tag, call_id, third, values))
    if len(body) > MAX_MESSAGE_LEN:
        return None
    return _pack_len(len(body) | COMPACT) + body


def compact_event(body):
    """The main thread's ``("hook", call_id, hook, args)`` of a compact
    frame's body; ``None`` if it is no compact hook call."""
    try:
        t = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return None
    if type(t) is tuple and len(t) == 4 and t[0] == _HOOK and type(t[3]) is list:
        return ("hook", t[1], t[2], t[3])
    return None


def protobuf_frames(data):
    """``data`` (whole frames, as written on the direct link) with each
    compact frame written as protobuf instead, for the runner's link (which
    carries no compact frames)."""
    out = []
    pos = 0
    while pos + 4 <= len(data):
        (word,) = _unpack_len(data[pos : pos + 4])
        end = pos + 4 + (word & ~COMPACT)
        if not word & COMPACT:
            out.append(data[pos:end])
        else:
            tag, call_id, third, values = marshal.loads(data[pos + 4 : end])
            if tag == _HOOK_RESULT:
                out.append(hook_result_frame(call_id, third, values))
            else:
                out.append(hub_call_frame(call_id, third, values, True))
        pos = end
    return b"".join(out)


def take_frame(buf):
    """The first whole frame's body in ``buf`` (bytes read from a link),
    what follows it and whether it is a compact frame: ``(body, rest,
    compact)``, or ``(None, buf, False)`` while the frame is not all there.

    # Errors
    ``ValueError`` for a frame over the limit.
    """
    if len(buf) < 4:
        return None, buf, False
    (word,) = _unpack_len(buf[:4])
    size = word & ~COMPACT
    if size > MAX_FRAME_LEN:
        raise ValueError("frame of %d bytes is over the limit" % size)
    end = 4 + size
    if len(buf) < end:
        return None, buf, False
    return buf[4:end], buf[end:], word != size


def read_frame(sock):
    """One frame's body from ``sock``; ``None`` at its end.

    # Errors
    ``ValueError`` for a frame over the limit, ``socket.error``.
    """
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack("<I", head)
    if size > MAX_FRAME_LEN:
        raise ValueError("frame of %d bytes is over the limit" % size)
    body = _read_exact(sock, size) if size else b""
    return body


#: Longest frame (prefix included) sent without :func:`_checked`.
_FAST_MAX = MAX_MESSAGE_LEN + 4


def _checked(frame, what):
    size = len(frame) - 4
    if size > MAX_MESSAGE_LEN:
        raise MessageTooBigError(what, size, MAX_MESSAGE_LEN)
    return frame


def hook_result_frame(call_id, no_opinion, values):
    """The frame of a ``HookResult`` (``values``: hub values), by
    ``vh._fast`` when it can, else by ``vh._wire``: the same bytes.

    # Errors
    As :func:`encode_frame`; ``TypeError`` for a value that is no hub value.
    """
    try:
        frame = _fast.hook_result_frame(call_id, no_opinion, values)
        if len(frame) <= _FAST_MAX:
            return frame
    except _fast.Unexpected:
        body = {
            "call_id": call_id,
            "no_opinion": no_opinion,
            "values": [py_to_value(v) for v in values],
        }
        return encode_frame("hook_result", body)
    return _checked(frame, "a message")


def hub_call_frame(call_id, callback, args, pipelined=False):
    """The frame of a ``HubCall`` (``args``: hub values), by ``vh._fast``
    when it can, else by ``vh._wire``: the same bytes. A pipelined call
    too big to send is named in the error (``the call vh.usermc()``).

    # Errors
    As :func:`encode_frame`; ``TypeError`` for a value that is no hub value.
    """
    try:
        frame = _fast.hub_call_frame(call_id, callback, args, pipelined)
        if len(frame) <= _FAST_MAX:
            return frame
    except _fast.Unexpected:
        body = {"call_id": call_id, "callback": callback, "args": [py_to_value(a) for a in args]}
        if pipelined:
            body["pipelined"] = True
        return encode_frame("hub_call", body, _what(callback, pipelined))
    return _checked(frame, _what(callback, pipelined))


def _what(callback, pipelined):
    return "the call vh.%s()" % callback if pipelined else "a message"


def encode_frame(kind, body, what="a message"):
    """The frame of a ``FromWorker`` message whose ``kind`` member is
    ``body``, length prefix included.

    # Errors
    ``MessageTooBigError`` (naming ``what``) over :data:`MAX_MESSAGE_LEN`.
    """
    data = _wire.encode("FromWorker", {kind: body})
    if len(data) > MAX_MESSAGE_LEN:
        raise MessageTooBigError(what, len(data), MAX_MESSAGE_LEN)
    return struct.pack("<I", len(data)) + data
