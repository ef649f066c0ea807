"""Pipelined ``vh.*`` calls (docs/protocol.md "Pipelined calls").

A classic ``vh`` function of :data:`CALLBACKS` whose result the script
discards (the call is a statement: ``vh.usermc(text, nick)``), called on
the main thread while the hub waits for this script on its direct link, is
written to the link and returns at once, without waiting for the hub's
answer. The hub thread runs it in order with the script's other calls,
before it takes the hook's result, so the hub sees the same calls in the
same order as with the in-process plugin. A call whose result is used, a
read, a call that may make the hub fire hooks, a ``vh.strict``/``vh.aio``
call and any call from another thread wait as before; a waiting call is
answered after every pipelined call before it, since the hub runs them in
order. A pipelined call that fails is logged by the shim, once per script
and function: the script cannot see it.

``pipeline_calls = false`` in the runner's config for a script (the
worker's ``VH_PIPELINE_CALLS=0``) turns it off.
"""

from __future__ import annotations

import _thread
import os
import sys

from . import _functions
from ._discard import RULES, discarded
from ._errors import NotConnectedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._runtime import Runtime

#: The callbacks a discarded call of may be pipelined: the table's
#: ``PIPELINED_CALLBACKS`` (shared with the Python 2 worker; why these and
#: not the others is said there).
CALLBACKS = _functions.PIPELINED_CALLBACKS

#: False when the runner's config says ``pipeline_calls = false``.
ENABLED = os.environ.get("VH_PIPELINE_CALLS", "1").strip().lower() not in ("0", "false", "no")


def as_is_for(channel: Any, charmap: Any, encoding: str, main_ident: int) -> Any:
    """``channel`` (a ``vh._core.Channel``) with its compiled way for a
    discarded send set up, or ``None``. A classic function of a pipelined
    callback (``vh._core.Classic``) calls its ``send_as_is`` with its
    ``vh._core.SendSpec`` and the arguments as the script passed them: on
    the main thread (``main_ident``), it tests that the script discards
    the result (``vh._discard``'s test compiled, given
    :data:`vh._discard.RULES`), converts the usual arguments with the hub
    codec (``charmap`` and ``encoding``, ``ScriptState``'s) and holds the
    frame, with no Python frame between the script and the link (each one
    costs a hook that finds the worker asleep several microseconds;
    docs/performance.md "One call for a discarded send"). ``None`` where
    that way is closed: pipelining turned off, an interpreter whose byte
    code ``vh._discard`` does not know, a channel without it
    (``vh.testing``'s) or one another runtime set up already; the classic
    function then takes :func:`sent`'s way.
    """
    setup = getattr(channel, "set_as_is", None) if ENABLED and RULES else None
    if setup is None:
        return None
    try:
        setup(charmap, encoding, RULES, main_ident)
    except RuntimeError:
        return None
    return channel


def sent(rt: Runtime, callback: str, values: list[Any], nargs: int) -> bool:
    """Pipelines ``callback(values)`` if it may be (see the module doc):
    True if it was sent that way and nothing waits for it; False if the
    caller must make the ordinary call. ``nargs`` is the number of
    arguments the script passed (positional and keyword); the script's
    frame is two levels up (the classic function's caller).

    # Errors
    ``NotConnectedError`` if the link is gone.
    """
    if not ENABLED or _thread.get_ident() != rt._main_ident:
        return False
    pipe = getattr(rt.channel, "pipeline_call", None)
    if pipe is None or not discarded(sys._getframe(2), nargs):
        return False
    try:
        return bool(pipe(callback, values))
    except ConnectionError as e:
        raise NotConnectedError(f"vh-runner link closed: {e}") from e
