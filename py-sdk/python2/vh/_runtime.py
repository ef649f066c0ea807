# -*- coding: utf-8 -*-
"""The Python 2 worker's runtime: runs the hooks of the one script this
worker loaded and the script's ``vh.*`` calls, with generation A's
semantics exactly (docs/abi.md §4.3, §7; docs/architecture.md "Python 2.7
scripts").

* Hook arguments are Python 2 ``str`` holding the hub's bytes, unchanged
  (no decoding at all, docs/abi.md §8 A), ``int`` and ``float``; a NULL string is
  ``None``.
* Hook results map as A's wrapper maps them (§4.3 table): ``None`` -> 1,
  ``int``/``bool`` -> the value, ``long`` and anything unexpected -> 1 with
  a log line, ``(str|None, int)`` -> send and act, chat ``str`` /
  ``(nick, text)`` and MyINFO 5-tuples substitute.
* ``vh.*`` calls on the main thread (inside a hook) wait for the hub's
  answer and serve the hooks it fires meanwhile (re-entrancy, §9.2); calls
  from other threads block that thread until the hub runs them at its next
  entry into the shim, as in the Python 3 SDK (``vh._runtime``).

Python 2.7 and 3 syntax alike (the files are linted as Python 3).
"""

import os
import sys
import traceback

try:  # pragma: no cover - Python 2 only
    from thread import get_ident
except ImportError:
    from threading import get_ident

from ._discard import discarded
from ._errors import MessageTooBigError
from ._hooks import MYINFO_HOOKS, ON_PARSED_MSG_CHAT, ON_TIMER
from ._limits import LONG_MAX, LONG_MIN, MAX_DEPTH
from ._main_loop import ON_SCRIPT_COMMAND, TUPLES, script_hook, update_settings, wait_result

if sys.version_info[0] == 2:  # pragma: no cover - Python 2 only
    _long = long  # noqa: F821
    _unicode = unicode  # noqa: F821
else:
    _long = type("_no_long", (), {})
    _unicode = type("_no_unicode", (), {})

#: False when the runner's config says ``pipeline_calls = false``
#: (docs/protocol.md "Pipelined calls").
PIPELINE_CALLS = os.environ.get("VH_PIPELINE_CALLS", "1").strip().lower() not in (
    "0",
    "false",
    "no",
)


def _is_str_or_none(x):
    return x is None or isinstance(x, bytes)


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Runtime(object):
    """State of the one script this worker runs: its module, its link
    (``vh._channel.Channel``), the script id and file name for log lines."""

    def __init__(self, channel, script_id, name):
        self.channel = channel
        self.script_id = script_id
        self.name = name
        self.module = None
        self.depth = 0
        self.pending_unload = False
        #: A's OnTimer flag (§7.6): None until decided.
        self._timer_without_arg = None
        self._main_ident = get_ident()
        #: The compiled discarded send for vh._api's classic functions
        #: (``vh._hook_loop.as_is_for``, bound by the channel), or None.
        as_is_for = getattr(channel, "as_is_for", None) if PIPELINE_CALLS else None
        self.as_is = as_is_for(self._main_ident) if as_is_for is not None else None
        self._main_waits = []
        self._early_results = {}

    def _tag(self):
        return "PY: [%d:%s]" % (self.script_id, self.name)

    # -- vh.* calls --------------------------------------------------------------

    def call(self, callback, args):
        """Runs hub callback ``callback`` with ``args`` (hub values, full
        length, docs/abi.md §6.3); returns ``(ok, values, error)``.

        # Errors
        ``NotConnectedError`` if the link is gone, ``MessageTooBigError``
        if the call is too big to send.
        """
        if get_ident() != self._main_ident:
            return self.channel.call_blocking(callback, args)
        call_id = self.channel.start_call(callback, args)
        event = self._wait_result(call_id)
        return bool(event[2]), list(event[3]), event[4]

    def pipelined(self, callback, args, frame, nargs):
        """Sends hub callback ``callback`` with ``args`` without waiting,
        if it may be (docs/protocol.md "Pipelined calls"): on the main
        thread, when ``frame`` (the script's, calling with ``nargs``
        arguments) discards the result and the hub waits for this script on
        the direct link. True if sent that way; False if the caller must
        make the ordinary call.

        # Errors
        As ``Channel.pipeline_call``.
        """
        if not PIPELINE_CALLS or get_ident() != self._main_ident:
            return False
        return discarded(frame, nargs) and self.channel.pipeline_call(callback, args)

    def _wait_result(self, call_id):
        """Waits on the main thread for the result of call ``call_id``,
        running every hook the hub fires meanwhile (§9.2;
        ``vh._main_loop.wait_result``, shared with the Python 3 worker)."""
        return wait_result(self, call_id, self.channel.recv_main, TUPLES)

    # -- hooks -------------------------------------------------------------------

    def run_hook(self, call_id, hook, args):
        """Calls the script's hook with the hub's values and answers."""
        if hook == ON_SCRIPT_COMMAND:
            update_settings(args, _same)
        name, fn = script_hook(self.module, hook)
        if fn is None:
            self.channel.send_hook_result(call_id, True, [])
            return
        if self.depth >= MAX_DEPTH:
            _print(
                "vh: %s not called: hooks nested %d deep inside vh.* calls (limit %d); "
                "the hub goes on as if it allowed" % (name, self.depth, MAX_DEPTH)
            )
            self.channel.send_hook_result(call_id, False, [1])
            return
        self.depth += 1
        try:
            if hook == ON_TIMER:
                result = self._call_timer(fn, args)
            else:
                result = fn(*args)
        except Exception:
            self.depth -= 1
            self.hook_raised(call_id, hook, name)
            return
        self.depth -= 1
        self.deliver_hook_result(call_id, hook, name, result)

    def hook_raised(self, call_id, hook, name, raised=None):
        """Says that the script's function ``name`` raised with its
        traceback, as A did, and answers hook ``call_id`` as for ``None``
        (docs/abi.md §4.3). The exception is the one being handled (call
        this in the ``except`` block of the frame that called the
        function), or ``raised``, ``(type, value, traceback)`` from
        ``vh._native``, which calls the function from C."""
        _print("%s Call (%s): failed" % (self._tag(), name))
        if raised is None:
            # From the script's function on, as the plugin printed it (the
            # frame above it is the worker's: run_hook or vh._hook_loop).
            kind, error, tb = sys.exc_info()
            tb = tb.tb_next if tb is not None else None
        else:
            kind, error, tb = raised
        traceback.print_exception(kind, error, tb)
        sys.stderr.flush()
        self.deliver_hook_result(call_id, hook, name, None)

    def _call_timer(self, fn, args):
        """``OnTimer`` with its float argument, or without it for a script
        whose ``OnTimer`` takes none (§7.6): decided by introspection once,
        with A's retry on ``TypeError`` as the fallback."""
        if self._timer_without_arg is None:
            self._timer_without_arg = _takes_no_positional(fn)
        if not self._timer_without_arg:
            try:
                return fn(*args)
            except TypeError as e:
                if not str(e).startswith("OnTimer() takes no arguments"):
                    raise
                _print(
                    "%s OnTimer didn't expect an argument; we'll call it without it "
                    "next time" % self._tag()
                )
                self._timer_without_arg = True
                return None
        try:
            return fn()
        except TypeError as e:
            if not str(e).startswith("OnTimer() takes exactly 1 argument"):
                raise
            _print(
                "%s OnTimer expected an argument; we'll call it with one next time" % self._tag()
            )
            self._timer_without_arg = False
            return None

    def map_result(self, hook, name, r):
        """The hook's return value as A's wrapper hands it to the plugin
        (docs/abi.md §4.3 table, A): a list of hub values."""
        if r is None:
            return [1]
        if isinstance(r, (int, bool)) and not isinstance(r, _long):
            return [int(r)]
        if hook == ON_PARSED_MSG_CHAT:
            if isinstance(r, bytes):
                return [None, r]
            if isinstance(r, tuple) and len(r) == 2:
                # A parses it with "zz": a failure prints and allows.
                if all(_is_str_or_none(x) for x in r):
                    return [r[0], r[1]]
                _print(
                    "%s CallHook %s: the (nick, text) tuple must hold str or None"
                    % (self._tag(), name)
                )
                return [1]
        if hook in MYINFO_HOOKS and isinstance(r, tuple) and len(r) == 5:
            if all(_is_str_or_none(x) for x in r):
                return list(r)
            _print("%s CallHook %s: the MyINFO tuple must hold str or None" % (self._tag(), name))
            return [1]
        if isinstance(r, tuple) and len(r) == 2 and _is_str_or_none(r[0]) and _is_int(r[1]):
            return [r[0], int(r[1])]
        _print("%s CallHook %s: unexpected return value: %r" % (self._tag(), name, r))
        return [1]

    def deliver_hook_result(self, call_id, hook, name, value):
        """Sends what hook ``name`` returned, mapped (§4.3). Text with a NUL
        byte (a C string ends there) counts as a failed parse: 1."""
        if type(value) is int:
            # Most hooks return 1 or 0: a Python 2 int is a C long already.
            values = [value]
        else:
            values = self.map_result(hook, name, value)
            for v in values:
                if isinstance(v, bytes) and b"\0" in v:
                    _print("%s CallHook %s: returned text with a NUL byte" % (self._tag(), name))
                    values = [1]
                    break
        try:
            self.channel.send_hook_result(call_id, False, values)
        except MessageTooBigError as e:
            _print("vh: %s returned a value too big for the hub: %s; the hub goes on" % (name, e))
            self.channel.send_hook_result(call_id, False, [1])

    # -- w_CallFunction (generation B), health pings, unload ---------------------

    def run_function(self, call_id, name, kinds, args):
        """Generation B's ``w_CallFunction`` (docs/abi.md §3.9) on a Python 2 script:
        the module-level function ``name`` is called with the arguments
        (JSON ones as their text); an ``int``/``bool``/``None`` result goes
        back as ``l``, ``float`` as ``d``, ``str`` as ``s``; anything else,
        a missing function or an exception is a failure (NULL)."""
        fn = getattr(self.module, name, None)
        if not callable(fn):
            self.channel.send_function_result(call_id, False, "", None, "no function %r" % name)
            return
        self.depth += 1
        try:
            r = fn(*args)
        except Exception as e:
            traceback.print_exc()
            self.channel.send_function_result(
                call_id, False, "", None, "%s raised %s" % (name, type(e).__name__)
            )
            return
        finally:
            self.depth -= 1
        if r is None:
            r = 0
        if isinstance(r, (bool, int, _long)) and LONG_MIN <= r <= LONG_MAX:
            self.channel.send_function_result(call_id, True, "l", int(r), "")
        elif isinstance(r, float):
            self.channel.send_function_result(call_id, True, "d", r, "")
        elif isinstance(r, bytes):
            self.channel.send_function_result(call_id, True, "s", r, "")
        else:
            what = "%s() returned %s, which has no C form" % (name, type(r).__name__)
            self.channel.send_function_result(call_id, False, "", None, what)

    def answer_ping(self, seq):
        """Answers the runner's health ping from the main thread."""
        try:
            self.channel.send_pong(seq)
        except Exception:
            pass

    def run_unload(self):
        """Calls the script's ``UnLoad()`` (docs/abi.md §7.5)."""
        unload = getattr(self.module, "UnLoad", None)
        if callable(unload):
            try:
                unload()
            except Exception:
                traceback.print_exc()


def _same(x):
    """Hub strings as a Python 2 script sees them: the hub's bytes."""
    return x


def _is_int(x):
    return isinstance(x, (int, bool)) and not isinstance(x, _long)


def _takes_no_positional(fn):
    """True if ``fn`` (a function or a bound method) takes no positional
    argument; False when that cannot be told (A's ``TypeError`` retry
    then decides)."""
    code = getattr(fn, "__code__", None) or getattr(fn, "func_code", None)
    skip = 0
    if code is None:
        inner = getattr(fn, "__func__", None) or getattr(fn, "im_func", None)
        code = getattr(inner, "__code__", None) or getattr(inner, "func_code", None)
        skip = 1
    if code is None:
        return False
    return code.co_argcount - skip <= 0 and not code.co_flags & 0x04


_runtime = None


def get():
    """The worker's runtime, or a clear error outside a worker."""
    if _runtime is None:
        from ._errors import NotConnectedError

        raise NotConnectedError(
            "vh is not connected to a hub: scripts run under vh-runner "
            "(the hub loads them with !pyload)"
        )
    return _runtime


def install(runtime):
    """Makes ``runtime`` the one ``vh.*`` calls use."""
    global _runtime
    _runtime = runtime
