# -*- coding: utf-8 -*-
"""The classic ``vh`` functions of the Python 2 worker, built from the very
table the Python 3 SDK uses (``_functions.py``, shared, not copied: the
runner writes the same file into this package), with generation A's
argument checks and results (docs/abi.md §7.1, §7.2, A column):

* ``s`` parameters take a Python 2 ``str`` (its bytes go to the hub as
  they are) or ``None``; ``l`` ones an ``int`` or ``bool``; ``d`` ones a
  ``float``. A ``unicode``, a ``long`` or any other type is refused as A
  refused it: a log line and the function's failure value, no exception.
* Results are ``str`` holding the hub's bytes; the failure value is
  ``False`` for the bool functions, ``None`` for the others, ``(0, [])``
  for ``SQL``.

Departures from A, the same as the Python 3 SDK's (docs/compatibility.md):
a wrong number of arguments raises ``TypeError`` at once (A left a pending
exception behind a normal value); a string with a NUL byte raises
``ValueError`` (the hub would see only its start); ``IsRobotNickBad`` and
``GetServFreq`` give the hub's real answers (A's were broken).
"""

import sys

from . import _runtime
from ._discard import discarded
from ._errors import MessageTooBigError
from ._functions import (
    FUNCTIONS,
    LIST_PREFIXES,
    RESTRICTIONS,
    send_parts,
)

try:  # pragma: no cover - Python 2 only
    from thread import get_ident
except ImportError:
    from threading import get_ident

if sys.version_info[0] == 2:  # pragma: no cover - Python 2 only
    _long = long  # noqa: F821
else:
    _long = type("_no_long", (), {})

_KIND_NAMES = {"s": "str or None", "l": "int", "d": "float"}


class _Refused(Exception):
    """An argument A's wrapper refuses: the call returns its failure value."""


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def convert_args(spec, args, kwargs):
    """Checks one call's arguments as A does (§7.1) and returns the
    callback's full-length argument list (omitted optionals as NULL / 0 /
    0.0 or the documented default, §6.2).

    # Errors
    ``TypeError`` for a wrong number of arguments or a keyword where none
    is taken; ``ValueError`` for a NUL byte in a string; ``_Refused`` for a
    type A refuses (the caller returns the failure value).
    """
    if kwargs:
        args = _merge_keywords(spec, args, kwargs)
    elif spec.required <= len(args) <= len(spec.params):
        # Arguments given by position (the usual call): the checks of
        # _convert inlined for the values that pass, defaults after them.
        values = list(args)
        i = 0
        for v in args:
            p = spec.params[i]
            kind = p.kind
            t = type(v)
            if kind == "s":
                if t is bytes:
                    if b"\0" in v:
                        break
                elif v is not None:
                    break
            elif kind == "l":
                if t is not int:
                    break
            elif t is not float:
                break
            i += 1
        else:
            for p in spec.params[i:]:
                values.append(p.default)
            return values
    if not spec.required <= len(args) <= len(spec.params):
        if len(args) < spec.required:
            raise TypeError("too few arguments")
        raise TypeError("too many arguments")
    values = [_convert(spec, i, a) for i, a in enumerate(args)]
    values.extend(p.default for p in spec.params[len(args) :])
    return values


def _merge_keywords(spec, args, kwargs):
    if not spec.keywords:
        raise TypeError("%s() takes no keyword arguments" % spec.name)
    names = [p.name for p in spec.params]
    merged = list(args) + [None] * (len(names) - len(args))
    for key, value in kwargs.items():
        index = names.index(key) if key in names else -1
        if index < spec.required:
            raise TypeError("%s() got an unexpected keyword argument %r" % (spec.name, key))
        if index < len(args):
            raise TypeError("%s() got multiple values for argument %r" % (spec.name, key))
        merged[index] = value
    while len(merged) > spec.required and merged[-1] is None:
        merged.pop()
    return tuple(merged)


def _convert(spec, i, value):
    kind = spec.params[i].kind
    if kind == "s":
        if value is None:
            return None
        if isinstance(value, bytes):
            if b"\0" in value:
                raise ValueError(
                    "%s contains a NUL byte, which the hub cannot take" % _where(spec, i)
                )
            return value
    elif kind == "l":
        if isinstance(value, (int, bool)) and not isinstance(value, _long):
            return int(value)
    elif isinstance(value, float):
        return value
    _print(
        "vh: %s must be %s, not %s; it returns its failure value"
        % (_where(spec, i), _KIND_NAMES[kind], type(value).__name__)
    )
    raise _Refused()


def _where(spec, i):
    return "%s() argument %d (%s)" % (spec.name, i + 1, spec.params[i].name)


# -- results (A column of §7.2) ---------------------------------------------------


def _first_text(ok, values):
    if ok and values and (values[0] is None or isinstance(values[0], bytes)):
        return values[0]
    return None


def _c_bool(ok, values):
    return bool(ok)


def _c_str(ok, values):
    v = _first_text(ok, values)
    return v


def _c_int(ok, values):
    if ok and len(values) == 1 and isinstance(values[0], int):
        return int(values[0])
    return None


def _c_float(ok, values):
    if ok and len(values) == 1 and isinstance(values[0], (int, float)):
        return float(values[0])
    return None


def _c_tuple(n):
    def convert(ok, values):
        if ok and len(values) == n and all(v is None or isinstance(v, bytes) for v in values):
            return tuple(values)
        return None

    return convert


def _c_list(kind):
    prefix = LIST_PREFIXES[kind]

    def convert(ok, values):
        raw = _first_text(ok, values)
        if not raw:
            return None
        if raw.startswith(b"["):  # generation B's JSON list
            import json

            try:
                items = json.loads(raw)
            except ValueError:
                return []
            return [x.encode("utf-8") if not isinstance(x, bytes) else x for x in items]
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
        nicks = [n for n in raw.split(b"$$") if n]
        # A: None for an empty list.
        return nicks or None

    return convert


def _c_raw(ok, values):
    raw = _first_text(ok, values)
    if raw is None or raw.startswith(b"["):
        return None
    return raw


def _c_geoip(ok, values):
    if not ok or len(values) < 8:
        return None
    out = {}
    for i in range(0, 8, 2):
        out[values[i]] = values[i + 1]
    rest = values[8:]
    for i in range(0, len(rest) - 1, 2):
        out[rest[i]] = rest[i + 1]
    return out


def _c_sql(ok, values):
    ints = values[:3]
    if not ok or len(ints) < 3 or not all(isinstance(v, int) for v in ints):
        return (0, [])
    success, nrows, ncols = ints
    cells = [c if c is not None else b"NULL" for c in values[3:]]
    if nrows < 0 or ncols < 0 or len(cells) != nrows * ncols:
        return (0, [])
    rows = [cells[r * ncols : (r + 1) * ncols] for r in range(nrows)] if ncols else []
    if rows:
        # A's wrapper gave the flag of a result with rows as a long
        # (PyLong_FromLong), of one without as an int (Py_BuildValue "l")
        return (_long(1 if success else 0), rows)
    return (1 if success else 0, rows)


def _c_restrictions(ok, values):
    if ok and len(values) == 1 and isinstance(values[0], int):
        return dict((name, bool(values[0] & bit)) for name, bit in RESTRICTIONS)
    return None


#: Result kind (``FunctionSpec.result``) -> converter ``(ok, values)``.
CLASSIC = {
    "bool": _c_bool,
    "str": _c_str,
    "int": _c_int,
    "float": _c_float,
    "myinfo": _c_tuple(6),
    "name_version": _c_tuple(2),
    "raw": _c_raw,
    "geoip": _c_geoip,
    "sql": _c_sql,
    "restrictions": _c_restrictions,
}
CLASSIC.update((kind, _c_list(kind)) for kind in LIST_PREFIXES)


def make_classic(spec):
    """The classic function of ``spec``: A's checks and results."""
    convert = CLASSIC[spec.result]
    # docs/protocol.md "Pipelined calls": a send whose result is discarded.
    # Its parameters as vh._native.send_as_is takes them (Runtime.as_is);
    # None for a function whose calls always wait.
    send = send_parts(spec)
    pipelined = send is not None
    # What a pipelined call returns (the hub's answer is not waited for:
    # a success), made once: one frame fewer on every send.
    sent = convert(True, [1]) if pipelined else None

    def classic(*args, **kwargs):
        # The usual discarded send, its arguments as they are: one call
        # into vh._native (Runtime.as_is), which also tells whether the
        # script discards the result and the thread is the main one
        # (docs/protocol.md "Pipelined calls"); None: the way below
        # decides, False: it may not be pipelined now.
        way = None
        rt = _runtime._runtime
        if send is not None and not kwargs and rt is not None and rt.as_is is not None:
            way = rt.as_is(send, args)
            if way:
                return sent
        try:
            values = convert_args(spec, args, kwargs)
        except _Refused:
            return convert(False, [])
        rt = _runtime._runtime or _runtime.get()
        try:
            # Runtime.pipelined, inlined: this runs for every send.
            if (
                way is None
                and pipelined
                and _runtime.PIPELINE_CALLS
                and get_ident() == rt._main_ident
                and discarded(sys._getframe(1), len(args) + len(kwargs))
                and rt.channel.pipeline_call(spec.callback, values)
            ):
                return sent
            ok, result, _error = rt.call(spec.callback, values)
        except MessageTooBigError as e:
            _print("vh: %s(): %s; it returns its failure value" % (spec.name, e))
            return convert(False, [])
        return convert(ok, result)

    classic.__name__ = spec.name
    classic.__doc__ = spec.doc
    return classic


#: The classic functions, in docs/abi.md §7.2's order.
CLASSIC_FUNCTIONS = tuple(make_classic(s) for s in FUNCTIONS)

_ENTITIES = (
    (b"\x05", b"&#5;"),
    (b"$", b"&#36;"),
    (b"`", b"&#96;"),
    (b"|", b"&#124;"),
    (b"~", b"&#126;"),
)


def encode(s):
    """NMDC-escapes the five special characters (docs/abi.md §7.2 ``encode``)."""
    for raw, entity in _ENTITIES:
        s = s.replace(raw, entity)
    return s


def decode(s):
    """Exact inverse of :func:`encode`; other ``&#`` sequences stay."""
    for raw, entity in _ENTITIES:
        s = s.replace(entity, raw)
    return s
