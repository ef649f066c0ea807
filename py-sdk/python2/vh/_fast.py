# -*- coding: utf-8 -*-
"""The Python 2 worker's hot frames, decoded and encoded by hand.

Every hook crosses the link as a ``ToWorker`` frame holding a ``HookCall``
and comes back as a ``FromWorker`` frame holding a ``HookResult``; a
``vh.*`` call is a ``HubCall`` out and, unless pipelined, a ``CallResult``
back. ``vh._wire`` handles any message of the schema, field by field
through its tables, which costs the pure-Python worker most of its time
per hook (docs/performance.md "The Python 2 worker at Python 3's speed").
This module handles those four messages only, with their field numbers and
wire types written out, and gives the same results as ``vh._wire`` plus
``vh._channel.Channel._event``: the same event tuples in, byte for byte the
same frames out (prost's encoding: fields in number order, proto3 defaults
left out, a set ``oneof`` member always written). The field numbers are
checked against the schema at import (:func:`_check_schema`), so a change
of ``vh.proto`` that moves them turns the fast path off instead of making
it wrong.

Anything it does not expect (another message, an unknown field, a field
with another wire type, a long varint where a short one is usual is fine,
a value of another type) makes it give up: :func:`decode_event` returns
``None`` and the encoders raise :class:`Unexpected`, and the caller uses
``vh._wire``, which decides (and raises its usual errors). So this module
is only ever a shortcut, never a second definition of the format
(``tests/hubsim/tests/python2_codec.rs`` compares both with prost).

Python 2.7 and 3 syntax alike.
"""

import struct
import sys

from . import _schema
from ._limits import LONG_MAX as _LONG_MAX
from ._limits import LONG_MIN as _LONG_MIN

PY2 = sys.version_info[0] == 2
if PY2:  # pragma: no cover - Python 2 only
    _int_types = (int, long)  # noqa: F821
    _text_type = unicode  # noqa: F821
else:
    _int_types = (int,)
    _text_type = str

_MASK64 = (1 << 64) - 1
#: One-byte strings, by value.
_BYTE = [struct.pack("B", i) for i in range(256)]
_pack_len = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack

#: The fields this module writes out, as the schema must have them:
#: (message, field number, name, type, repeated).
EXPECTED = (
    ("ToWorker", 2, "hook", "message", False),
    ("ToWorker", 3, "call_result", "message", False),
    ("FromWorker", 2, "hook_result", "message", False),
    ("FromWorker", 3, "hub_call", "message", False),
    ("HookCall", 1, "script_id", "int32", False),
    ("HookCall", 2, "call_id", "uint64", False),
    ("HookCall", 3, "hook", "uint32", False),
    ("HookCall", 4, "args", "message", True),
    ("HookCall", 5, "hub_cpu", "uint32", False),
    ("CallResult", 1, "script_id", "int32", False),
    ("CallResult", 2, "call_id", "uint64", False),
    ("CallResult", 3, "ok", "bool", False),
    ("CallResult", 4, "values", "message", True),
    ("CallResult", 5, "error", "string", False),
    ("HookResult", 1, "script_id", "int32", False),
    ("HookResult", 2, "call_id", "uint64", False),
    ("HookResult", 3, "no_opinion", "bool", False),
    ("HookResult", 4, "values", "message", True),
    ("HubCall", 1, "script_id", "int32", False),
    ("HubCall", 2, "call_id", "uint64", False),
    ("HubCall", 3, "callback", "string", False),
    ("HubCall", 4, "args", "message", True),
    ("HubCall", 5, "pipelined", "bool", False),
    ("Value", 1, "l", "sint64", False),
    ("Value", 2, "s", "bytes", False),
    ("Value", 3, "d", "double", False),
    ("Value", 4, "null_s", "bool", False),
    ("Value", 5, "json", "bytes", False),
)


def _check_schema(messages):
    """True if ``messages`` (``_schema.MESSAGES``) has every field of
    :data:`EXPECTED` with that number, type and cardinality, and the four
    messages have no other field (a new one would be skipped here but
    decoded by ``vh._wire``)."""
    seen = {}
    for msg, number, name, ftype, repeated in EXPECTED:
        fields = dict((f[0], f) for f in messages.get(msg, ()))
        f = fields.get(number)
        if f is None or f[1] != name or f[2] != ftype or bool(f[3]) != repeated:
            return False
        seen.setdefault(msg, set()).add(number)
    for msg in ("HookCall", "CallResult", "HookResult", "HubCall", "Value"):
        if set(f[0] for f in messages.get(msg, ())) != seen[msg]:
            return False
    return True


#: False if ``vh.proto`` no longer matches what is written out here: then
#: every frame takes ``vh._wire``.
ENABLED = _check_schema(_schema.MESSAGES)


class Unexpected(Exception):
    """Something this module does not handle: use ``vh._wire``."""


# -- decoding --------------------------------------------------------------------


def _varint(v, pos):
    """A varint of ``v`` (a bytearray) at ``pos``: (value, next position);
    IndexError if truncated, Unexpected if over 10 bytes."""
    b = v[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = v[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            # Python 2: an int while it fits one, as vh._wire's int(n).
            return (int(result & _MASK64) if shift >= 56 else result), pos
        shift += 7
        if shift >= 70:
            raise Unexpected()


def _values(v, pos, end, data):
    """The ``Value`` messages of a repeated field starting at ``pos`` with
    key 0x22: (python values, kinds, next position)."""
    out = []
    kinds = []
    while pos < end and v[pos] == 0x22:
        size = v[pos + 1]
        if size < 0x80:
            pos += 2
        else:
            size, pos = _varint(v, pos + 1)
        stop = pos + size
        if stop > end:
            raise Unexpected()
        value, kind = None, "s"
        while pos < stop:
            key = v[pos]
            if key == 0x12:  # s: bytes
                n = v[pos + 1]
                if n < 0x80:
                    pos += 2
                else:
                    n, pos = _varint(v, pos + 1)
                if pos + n > stop:
                    raise Unexpected()
                value, kind = data[pos : pos + n], "s"
                pos += n
            elif key == 0x08:  # l: sint64, zigzag
                n, pos = _varint(v, pos + 1)
                value, kind = int((n >> 1) ^ -(n & 1)), "l"
            elif key == 0x19:  # d: double
                if pos + 9 > stop:
                    raise Unexpected()
                value, kind = float(_unpack_double(data[pos + 1 : pos + 9])[0]), "d"
                pos += 9
            elif key == 0x20:  # null_s: bool
                _n, pos = _varint(v, pos + 1)
                value, kind = None, "s"
            elif key == 0x2A:  # json: bytes
                n, pos = _varint(v, pos + 1)
                if pos + n > stop:
                    raise Unexpected()
                value, kind = data[pos : pos + n], "D"
                pos += n
            else:
                raise Unexpected()
        if pos != stop:
            raise Unexpected()
        out.append(value)
        kinds.append(kind)
    return out, kinds, pos


def decode_event(data):
    """The main-thread event of a ``ToWorker`` body holding a ``HookCall``
    or a ``CallResult``, as ``Channel._event(_wire.decode("ToWorker",
    data))`` gives it; ``None`` for anything else, or anything this module
    does not expect (the caller then decodes it with ``vh._wire``)."""
    if not ENABLED or len(data) < 2:
        return None
    v = bytearray(data)
    top = v[0]
    if top != 0x12 and top != 0x1A:
        return None
    try:
        size, pos = _varint(v, 1)
        end = pos + size
        if end != len(v):
            return None
        call_id = 0
        # HookCall and CallResult share fields 1, 2 and 4.
        third = 0
        values, kinds = [], []
        error = b""
        while pos < end:
            key = v[pos]
            if key == 0x10:
                call_id = v[pos + 1]
                if call_id < 0x80:
                    pos += 2
                else:
                    call_id, pos = _varint(v, pos + 1)
            elif key == 0x22:
                more, more_kinds, pos = _values(v, pos, end, data)
                values.extend(more)
                kinds.extend(more_kinds)
            elif key == 0x18:
                third = v[pos + 1]
                if third < 0x80:
                    pos += 2
                else:
                    third, pos = _varint(v, pos + 1)
            elif key == 0x08:
                _n, pos = _varint(v, pos + 1)
            elif key == 0x28 and top == 0x12:  # hub_cpu
                _n, pos = _varint(v, pos + 1)
            elif key == 0x2A and top == 0x1A:  # error: string
                n, pos = _varint(v, pos + 1)
                if pos + n > end:
                    return None
                error = data[pos : pos + n]
                pos += n
            else:
                return None
        if pos != end:
            return None
    except (IndexError, Unexpected):
        return None
    if top == 0x12:
        return ("hook", call_id, int(third & 0xFFFFFFFF), values)
    if not PY2:
        try:
            error = error.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return ("result", call_id, third != 0, values, error, "".join(kinds))


# -- encoding --------------------------------------------------------------------


def _put_varint(out, n):
    if 0 <= n < 0x80:
        out.append(_BYTE[n])
        return
    if n < 0:
        n &= _MASK64
    while n >= 0x80:
        out.append(_BYTE[(n & 0x7F) | 0x80])
        n >>= 7
    out.append(_BYTE[n])


#: Key and lengths of a ``Value`` holding ``s`` of 0 to 125 bytes, by size.
_SHORT_S = [b"\x22" + _BYTE[n + 2] + b"\x12" + _BYTE[n] for n in range(0x7E)]


#: A whole ``Value`` holding ``l`` of 0 to 63, by value (zigzag 2n < 0x80).
_SMALL_L = [b"\x22\x02\x08" + _BYTE[2 * n] for n in range(0x40)]


def _value(out, x):
    """Appends the key, length and body of one ``Value`` (field 4 of the
    four messages) for the hub value ``x``, as ``py_to_value`` maps it."""
    if x is None:
        out.append(b"\x22\x02\x20\x01")
        return
    t = type(x)
    if t is bytes:
        n = len(x)
        if n < 0x7E:  # the Value's own length fits one byte too
            out.append(_SHORT_S[n])
        else:
            inner = [b"\x12"]
            _put_varint(inner, n)
            head = b"".join(inner)
            out.append(b"\x22")
            _put_varint(out, len(head) + n)
            out.append(head)
        out.append(x)
        return
    if t is bool or t in _int_types:
        # A Python 2 int is a C long: always in range.
        if not (PY2 and t is int) and not _LONG_MIN <= x <= _LONG_MAX:
            raise Unexpected()  # vh._wire / py_to_value raise OverflowError
        z = x << 1 if x >= 0 else ((-x) << 1) - 1  # zigzag
        if z < 0x80:
            out.append(b"\x22\x02\x08" + _BYTE[z])
            return
        inner = [b"\x08"]
        _put_varint(inner, z)
        body = b"".join(inner)
        out.append(b"\x22" + _BYTE[len(body)] + body)
        return
    if t is float:
        out.append(b"\x22\x09\x19" + _pack_double(x))
        return
    raise Unexpected()


def _frame(kind_key, parts):
    """The frame of ``FromWorker`` member ``kind_key`` whose message body
    is ``parts`` joined: length prefix, key, length, body."""
    body = b"".join(parts)
    n = len(body)
    if n < 0x80:
        return _pack_len(n + 2) + kind_key + _BYTE[n] + body
    head = [kind_key]
    _put_varint(head, n)
    head = b"".join(head)
    return _pack_len(len(head) + n) + head + body


def hook_result_frame(call_id, no_opinion, values):
    """The frame of ``FromWorker{hook_result: HookResult{call_id,
    no_opinion, values}}`` (``values`` hub values, ``py_to_value``'s
    types); equal to ``encode_frame("hook_result", ...)``.

    # Errors
    ``Unexpected`` for a value it does not handle.
    """
    if not ENABLED:
        raise Unexpected()
    if 0 < call_id < 0x80:
        parts = [b"\x10" + _BYTE[call_id]]
    else:
        parts = []
        if call_id:
            parts.append(b"\x10")
            _put_varint(parts, call_id)
    if no_opinion:
        parts.append(b"\x18\x01")
    for x in values:
        t = type(x)
        if t is int and 0 <= x < 0x40:  # small results: 1, 0
            parts.append(_SMALL_L[x])
        elif t is bytes and len(x) < 0x7E:
            parts.append(_SHORT_S[len(x)])
            parts.append(x)
        else:
            _value(parts, x)
    return _frame(b"\x12", parts)


#: Callback name -> its encoded field (key, length, UTF-8 name).
_CALLBACKS = {}


def _callback_field(callback):
    """The encoded ``HubCall.callback`` field of an ASCII callback name
    (empty for an empty name); Unexpected for anything else."""
    field = _CALLBACKS.get(callback)
    if field is not None:
        return field
    if type(callback) is not str:
        raise Unexpected()
    try:
        name = callback.encode("ascii") if not PY2 else callback.decode("ascii").encode("ascii")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise Unexpected()
    field = b""
    if name:
        head = [b"\x1a"]
        _put_varint(head, len(name))
        field = b"".join(head) + name
    if len(_CALLBACKS) < 256:
        _CALLBACKS[callback] = field
    return field


def hub_call_frame(call_id, callback, args, pipelined):
    """The frame of ``FromWorker{hub_call: HubCall{call_id, callback,
    args, pipelined}}``; equal to ``encode_frame("hub_call", ...)``.

    # Errors
    ``Unexpected`` for a value or callback name it does not handle.
    """
    if not ENABLED:
        raise Unexpected()
    if 0 < call_id < 0x80:
        parts = [b"\x10" + _BYTE[call_id]]
    else:
        parts = []
        if call_id:
            parts.append(b"\x10")
            _put_varint(parts, call_id)
    field = _CALLBACKS.get(callback)
    parts.append(field if field is not None else _callback_field(callback))
    for x in args:
        if x is None:
            parts.append(b"\x22\x02\x20\x01")
        elif type(x) is bytes and len(x) < 0x7E:
            parts.append(_SHORT_S[len(x)])
            parts.append(x)
        else:
            _value(parts, x)
    if pipelined:
        parts.append(b"\x28\x01")
    return _frame(b"\x1a", parts)
