# -*- coding: utf-8 -*-
"""Does the caller discard the result of the call it is making?

Used to pipeline ``vh.*`` send calls whose result a script throws away
(docs/protocol.md "Pipelined calls"). The answer comes from the
caller's byte code: the instruction at ``frame.f_lasti`` must be a call
instruction whose argument count is the number of arguments the callee
got (so the call is this one, not a C function such as ``map`` calling
the callee), and the instruction after it and its inline cache entries
must be ``POP_TOP``, which is what a call used as a statement compiles to.

Only CPython 2.7 and 3.9 to 3.13 are known here, with their opcodes, cache
sizes and call forms written out (``dis`` and ``opcode`` are not imported:
they would cost every worker memory). Anything else, a star call
(``f(*args)``), an ``EXTENDED_ARG``, or another interpreter is "not
discarded", so the call waits as before: unsure means wait.

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax (type
comments, no annotations). It imports only ``sys``, so that the tests can
load it on every interpreter without the rest of the package.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType  # noqa: F401 (used in type comments)
    from typing import Optional  # noqa: F401 (used in type comments)

#: Per CPython version: ``({call opcode: inline cache entries}, POP_TOP,
#: EXTENDED_ARG)``. Call forms whose argument is the number of arguments:
#: 2.7 ``CALL_FUNCTION`` (a 3-byte instruction: opcode, positional count,
#: keyword count); 3.9/3.10 ``CALL_FUNCTION``, ``CALL_FUNCTION_KW``
#: (positional plus keyword), ``CALL_METHOD``; 3.11/3.12 ``CALL``
#: (keywords named by ``KW_NAMES`` before it); 3.13 ``CALL`` and
#: ``CALL_KW``. The star forms (2.7 ``CALL_FUNCTION_VAR``/``_KW``/
#: ``_VAR_KW``, 3.x ``CALL_FUNCTION_EX``) are left out on purpose.
TABLES = {
    (2, 7): ({131: 0}, 1, 145),
    (3, 9): ({131: 0, 141: 0, 161: 0}, 1, 144),
    (3, 10): ({131: 0, 141: 0, 161: 0}, 1, 144),
    (3, 11): ({171: 4}, 1, 144),
    (3, 12): ({171: 3}, 1, 144),
    (3, 13): ({53: 3, 57: 0}, 32, 71),
}  # type: dict[tuple[int, int], tuple[dict[int, int], int, int]]

_VERSION = (sys.version_info[0], sys.version_info[1])
_CALLS, _POP_TOP, _EXTENDED_ARG = TABLES.get(_VERSION, ({}, -1, -1))
#: Python 2's instructions with an argument take 3 bytes (every one takes
#: 2 since 3.6's wordcode).
_PY2 = sys.version_info[0] == 2
#: ``CACHE``, the filler of inline cache entries in ``co_code`` (3.11+).
_CACHE = 0
#: The same facts for the compiled form of this test (``vh._core`` and
#: ``vh._native`` ``caller_discards``, used by the classic functions'
#: ``send_as_is`` and ``pipeline_as_is``): ``POP_TOP``, ``EXTENDED_ARG``, then each call
#: opcode and its inline cache entries, in the table's order, as bytes;
#: empty where this interpreter is not known (nothing is discarded).
RULES = bytes(
    bytearray(
        [_POP_TOP, _EXTENDED_ARG] + [x for op in _CALLS for x in (op, _CALLS[op])] if _CALLS else []
    )
)


def supported():
    # type: () -> bool
    """True if this interpreter's byte code is known here."""
    return bool(_CALLS)


def _discarded_py3(frame, nargs):
    # type: (Optional[FrameType], int) -> bool
    """:func:`discarded` on CPython 3.9 to 3.13."""
    if frame is None or not _CALLS or nargs > 255:
        return False
    try:
        lasti = frame.f_lasti
        code = frame.f_code.co_code
        at = lasti
        caches = _CALLS.get(code[lasti])
        if caches is None and code[lasti] == _CACHE:
            # 3.11 and 3.12 leave the caller's f_lasti on the call's last
            # cache entry when they run a Python callee in the same loop.
            for op, n in _CALLS.items():
                if n and lasti >= 2 * n and code[lasti - 2 * n] == op:
                    at, caches = lasti - 2 * n, n
                    break
        if caches is None or code[at + 1] != nargs:
            return False
        if at >= 2 and code[at - 2] == _EXTENDED_ARG:
            return False
        return code[at + 2 + 2 * caches] == _POP_TOP
    except (IndexError, AttributeError, TypeError):
        return False


def _discarded_py2(frame, nargs):
    # type: (Optional[FrameType], int) -> bool
    """:func:`discarded` on CPython 2.7: ``f_lasti`` is the call
    instruction itself, whose two argument bytes count the positional and
    the keyword arguments."""
    if frame is None or not _CALLS or nargs > 255:
        return False
    try:
        lasti = frame.f_lasti
        code = bytearray(frame.f_code.co_code)  # a str of byte values on 2.7
        if code[lasti] not in _CALLS or code[lasti + 1] + code[lasti + 2] != nargs:
            return False
        if lasti >= 3 and code[lasti - 3] == _EXTENDED_ARG:
            return False
        return code[lasti + 3] == _POP_TOP
    except (IndexError, AttributeError, TypeError):
        return False


#: ``discarded(frame, nargs)``: True if ``frame`` is executing a call of
#: ``nargs`` arguments (positional and keyword) whose result its next
#: instruction pops. Never raises: anything unexpected is False (the
#: caller then waits). This interpreter's own form, so that the check is
#: one Python frame: it runs on every send a script makes, and on a hook
#: that finds the worker asleep each frame costs microseconds
#: (docs/performance.md "Hooks at human rates").
discarded = _discarded_py2 if _PY2 else _discarded_py3
