# -*- coding: utf-8 -*-
"""The Python 2 worker's main loop for plain hooks (``Channel.serve_hooks``,
the counterpart of the Python 3 worker's ``py-sdk/src/hook_loop.rs``): a
plain hook goes from its frame to the script's function, and an ``int``
answer back, in one Python frame instead of five.

Why: a hook that finds its worker asleep (a hub's usual chat line) pays
for every line of code and data it touches, at 15-170 ns each on these
machines (docs/performance.md "Where a paced hook's time goes"), and the
layers around the script's function were most of it. The same loop,
compiled, is ``vh._native`` (``py-sdk/python2-native``, which vh-runner
writes beside these files): :func:`serve_hooks` runs that one where it
loads, and :func:`serve_hooks_in_python` otherwise; the two must answer
alike, byte for byte (``py-sdk/tests/test_py2_native.py``).
"""

import functools
import marshal
import os
import select
import sys
import time

from . import _held, _link
from ._discard import RULES
from ._frames import COMPACT, HOOK, HOOK_RESULT, MAX_MESSAGE_LEN, WRITES_COMPACT, pack_len

#: Which link a message came on or goes out on (``vh._channel``'s too).
RUNNER, DIRECT = "runner", "direct"

_dumps = marshal.dumps


def _load_native():
    """``vh._native``, this loop compiled (``py-sdk/python2-native``,
    written here by vh-runner), or ``None`` where the Python loop below
    runs instead: ``VH_PY2_NATIVE=0``, a debug or 32-bit build of Python
    (whose objects it does not know), or a module that does not load (a
    directory mounted ``noexec``: said once on stderr, the worker's log)."""
    if (
        os.environ.get("VH_PY2_NATIVE", "").strip() == "0"
        or sys.version_info[0] != 2
        or hasattr(sys, "gettotalrefcount")
        or sys.maxsize < 2**32
    ):
        return None
    try:
        from . import _native
    except ImportError as e:
        if "No module named" not in str(e):
            sys.stderr.write("vh: hooks run in Python: vh._native did not load: %s\n" % (e,))
        return None
    return _native


_native = _load_native()


def as_is_for(channel, main_ident):
    """``vh._native.send_as_is`` bound to ``channel`` (a C call, no Python
    frame: ``functools.partial``), which a classic function of ``vh._api``
    calls with its ``send`` tuple and the arguments as the script passed
    them: on the main thread (``main_ident``), whether the script discards
    the result (``vh._discard``'s test compiled, given its ``RULES``),
    then a discarded send's usual arguments to the held frame. ``None``
    where that way is closed: the compiled loop did not load,
    ``vh._discard`` does not know this interpreter, or the channel has no
    direct link."""
    if _native is None or not RULES or getattr(channel, "_direct", None) is None:
        return None
    # The channel's parts that stay the same objects for its life, handed
    # over once: each attribute look-up costs a hook that finds the worker
    # asleep about a microsecond (docs/performance.md "The Python 2
    # worker's send: its channel's parts once").
    try:
        parts = (
            channel._main.queue,
            channel._active,
            channel._call_ids,
            channel._dfd,
        )
    except AttributeError:
        return None
    context = (
        channel,
        DIRECT,
        MAX_MESSAGE_LEN,
        COMPACT,
        RULES,
        main_ident,
        float(_held.HOLD_AT_MOST),
        _held.HOLD_BYTES,
    ) + parts
    return functools.partial(_native.send_as_is, context)


def next_event(channel, woke=None):
    """The next event for the main thread of ``channel`` (a
    ``vh._channel.Channel``), and whether it is a request the hub waits
    for on the direct link: the pipelined calls held written first, the
    wait told to the spin budget, a hook or function call noted as the
    innermost request with its link and whether the hub waits for its
    answer (``Channel._active``). ``woke``: an event :func:`_quiet_event`
    already read from the direct link, only to be noted."""
    if woke is None:
        if channel._held:
            channel._write_direct(b"")
        started = time.time()
        event, link = channel._next_main()
        channel._spin.waited(time.time() - started)
    else:
        event, link = woke, DIRECT
    kind = event[0]
    if kind == "hook":
        awaited = event[2] not in _link.RESULT_IGNORED
        channel._active.append((event[1], link, awaited))
        return event, awaited and link == DIRECT
    if kind == "function":
        channel._active.append((event[1], link, True))
    return event, False


def _quiet_event(channel):
    """At human rates (called only while the spin budget is nothing), the
    next event the short way: with nothing held, queued or read ahead,
    sleeps in ``poll`` and reads the link (``Channel._read_direct``);
    ``(event, seconds waited)``, the wait not yet told to the spin budget
    (the caller does that after the hook's answer: it only shapes the next
    wait). ``None`` in any other
    case, or if what woke it was not one whole frame: :func:`next_event`
    then finds it (the budget counts only that second, short wait)."""
    if channel._held or channel._main.queue or channel._dbuf or channel._direct is None:
        return None
    started = time.time()
    try:
        ready = channel._poll.poll()
    except (select.error, OSError):  # EINTR: the usual way retries
        return None
    if len(ready) != 1 or ready[0][0] == channel._wake_r:
        return None
    took = time.time() - started
    event = channel._read_direct()
    if event is None:
        return None
    return event, took


def serve_hooks(channel, rt, names, rules, max_depth):
    """Runs the hooks of ``channel`` until an event the main loop must
    handle, compiled (``vh._native``) where it loaded, else in Python
    (:func:`serve_hooks_in_python`, whose rules both follow)."""
    if _native is not None:
        return _native.serve_hooks(channel, rt, names, rules, max_depth, _NATIVE_CONFIG)
    return serve_hooks_in_python(channel, rt, names, rules, max_depth)


def serve_hooks_in_python(channel, rt, names, rules, max_depth):
    """Runs the hooks of ``channel``, plain ones here, until an event the
    main loop must handle (``vh._main_loop.serve_script``), which it
    returns as ``Channel.recv_main`` does. ``rt`` is the runtime,
    ``names`` ``vh._hooks.HOOK_NAMES``, ``rules`` the hook indices with
    rules of their own (always returned); ``max_depth``, the nesting
    limit, is not reached here: the main loop is at depth 0.

    A plain hook is what ``Runtime.run_hook`` does for the usual hook
    (any but ``rules``, not nested): the function looked
    up on the module at each hook, called with the hub's values, an
    ``int`` result answered as it is, any other one mapped by
    ``rt.deliver_hook_result``, an exception handed to
    ``rt.hook_raised``. At human rates the wait and the read take the
    short way (:func:`_quiet_event`), and what only shapes the next wait
    comes after the answer: on a hook that finds the worker asleep every
    line run before the answer costs its cold cache lines
    (docs/performance.md "Hooks at human rates")."""
    module, count, active, spin = rt.module, len(names), channel._active, channel._spin
    took = None
    # The usual answer, an int to the innermost hook the hub waits for on
    # the direct link, is written here as the compact frame
    # ``Channel.send_hook_result`` would make.
    while True:
        if took is not None:
            spin.waited(took)
        # (Back to back the budget is not nothing: no call to find that out.)
        quiet = None if spin._budget else _quiet_event(channel)
        if quiet is None:
            took = None
            event, direct = next_event(channel)
        else:
            event, direct = next_event(channel, quiet[0])
            took = quiet[1]
        if event[0] != "hook":
            break
        _, call_id, hook, args = event
        if hook in rules or hook >= count or rt.depth:
            break
        name = names[hook]
        fn = getattr(module, name, None)
        if not callable(fn):
            channel.send_hook_result(call_id, True, [])
            continue
        rt.depth = 1
        try:
            result = fn(*args)
        except Exception:
            rt.depth = 0
            rt.hook_raised(call_id, hook, name)
            continue
        rt.depth = 0
        if type(result) is int:
            if direct and WRITES_COMPACT and type(call_id) is int and active[-1][0] == call_id:
                body = _dumps((HOOK_RESULT, call_id, False, [result]))
                active.pop()
                channel._write_direct(pack_len(len(body) | COMPACT) + body)
            else:
                channel.send_hook_result(call_id, False, [result])
        else:
            rt.deliver_hook_result(call_id, hook, name, result)
    if took is not None:
        spin.waited(took)
    return event


#: What ``vh._native.serve_hooks`` takes from here (``Config`` in
#: ``py-sdk/python2-native/src/serve.rs``, in this order).
_NATIVE_CONFIG = (next_event, _link.RESULT_IGNORED, DIRECT, HOOK, HOOK_RESULT, COMPACT)
