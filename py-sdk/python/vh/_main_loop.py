# -*- coding: utf-8 -*-
"""What a worker's main thread does with the events it receives, one
switch for the Python 3 worker and the Python 2 one (docs/protocol.md
"Runner ↔ worker"; docs/architecture.md "One hook, end to end").

* :func:`serve_script`: once the script is loaded, the hooks the worker
  asks for, then every hook, function call (generation B's
  ``w_CallFunction``) and health ping until an unload (the script's
  ``UnLoad()`` runs, the runner gets its answer) or the link's end.
* :func:`wait_result`: a ``vh.*`` call on the main thread waits for its
  answer and runs every hook the hub fires meanwhile (the hub may re-enter
  the script, docs/abi.md §9.2).
* :func:`script_hook` and :func:`update_settings`: what each worker's
  ``run_hook`` does first, the hook's function and A's bot renames.

An event is the channel's: the Python 3 worker's (``vh._core``) has named
fields, the Python 2 worker's is a tuple, kind first (``vh._channel``).
:data:`NAMED` and :data:`TUPLES` say how to read each, with ``operator``'s
getters (C code, no Python frame per field).

The runtime ``rt`` is the worker's (``vh._runtime.Runtime`` in both):
``run_hook(call_id, hook, args)``, ``run_function(call_id, name, kinds,
args)``, ``answer_ping(seq)``, ``run_unload()``, ``pending_unload``, and
the main thread's waits, ``_main_waits`` (call ids, innermost last) and
``_early_results`` (answers for an outer wait).

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax.
"""

from operator import attrgetter, itemgetter

from ._hooks import HOOK_INDEX, HOOK_NAMES, ON_TIMER
from ._limits import MAX_DEPTH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable  # noqa: F401 (used in type comments)

    _Getter = Callable[[Any], Any]

#: Hook index of ``OnScriptCommand``: every worker asks for it, defined or
#: not, so that the hub's bot renames reach ``vh.botname`` /
#: ``vh.opchatname`` (generation A's ``_update_settings``, docs/abi.md §4.3;
#: the hub does not wait for that hook).
ON_SCRIPT_COMMAND = HOOK_INDEX["OnScriptCommand"]


class Fields(object):
    """How one worker's events are read: each member takes an event and
    gives its ``kind`` (``"hook"``, ``"function"``, ``"ping"``,
    ``"result"``, ``"unload"``, ``"closed"``), a result's ``call_id``, the
    arguments of ``run_hook`` and of ``run_function`` as a tuple, a ping's
    ``seq`` and a closed link's ``reason``."""

    __slots__ = ("kind", "call_id", "hook", "function", "seq", "reason")

    def __init__(self, kind, call_id, hook, function, seq, reason):
        # type: (_Getter, _Getter, _Getter, _Getter, _Getter, _Getter) -> None
        self.kind = kind
        self.call_id = call_id
        self.hook = hook
        self.function = function
        self.seq = seq
        self.reason = reason


#: The Python 3 worker's events (``vh._core``: ``HookEvent``, ``FunctionEvent``, ...).
NAMED = Fields(
    attrgetter("kind"),
    attrgetter("call_id"),
    attrgetter("call_id", "hook", "args"),
    attrgetter("call_id", "name", "kinds", "args"),
    attrgetter("seq"),
    attrgetter("reason"),
)

#: The Python 2 worker's events: ``("hook", call_id, hook, args)``,
#: ``("function", call_id, name, kinds, args)``, ``("result", call_id, ok,
#: values, error, kinds)``, ``("ping", seq)``, ``("closed", reason)``,
#: ``("unload",)``.
TUPLES = Fields(
    itemgetter(0),
    itemgetter(1),
    itemgetter(1, 2, 3),
    itemgetter(1, 2, 3, 4),
    itemgetter(1),
    itemgetter(1),
)


def defined_hooks(module):
    # type: (Any) -> list[int]
    """Indices of the hooks the script defines: "attribute exists and is
    callable", as the plugin decides at load (docs/abi.md §7.5). A lookup
    that raises (a script's module-level ``__getattr__``) counts as "no
    such hook" instead of failing a load that the plugin would let
    through."""
    return [i for i, n in enumerate(HOOK_NAMES) if _has_callable(module, n)]


def _has_callable(module, name):
    # type: (Any, str) -> bool
    try:
        return callable(getattr(module, name, None))
    except Exception:
        return False


def script_hook(module, hook):
    # type: (Any, int) -> tuple[str, Any]
    """Hook index ``hook`` (docs/abi.md §4.1) and the script's function for
    it: ``(name, fn)``, ``fn`` None if ``module`` has no callable of that
    name (the hub then gets no opinion), ``name`` ``""`` for an index the
    table lacks. Looked up at each hook, as the plugin's wrapper does."""
    name = HOOK_NAMES[hook] if 0 <= hook < len(HOOK_NAMES) else ""
    fn = getattr(module, name, None) if name else None
    return name, (fn if callable(fn) else None)


def update_settings(args, decode):
    # type: (list[Any], Callable[[Any], Any]) -> None
    r"""Generation A's ``_update_settings`` (docs/abi.md §4.3), before an
    ``OnScriptCommand`` hook ``args`` runs: one from the hub itself (empty
    plugin and script) named ``_hub_security_change`` /
    ``_opchat_name_change`` renames ``vh.botname`` / ``vh.opchatname`` to
    its data, ``decode``\ d as the script sees hub strings. Done for every
    script, also one without ``OnScriptCommand`` (the worker always asks
    for the hook for this), where A reached only scripts that defined
    it."""
    if len(args) != 4 or args[2] or args[3]:
        return
    import vh

    command, data = args[0], decode(args[1])
    if command == b"_hub_security_change" and vh.botname != data:
        vh.botname = data
    elif command == b"_opchat_name_change" and vh.opchatname != data:
        vh.opchatname = data


def serve_script(rt, channel, fields):
    # type: (Any, Any, Fields) -> None
    """Tells the runner the loaded script's hooks (with
    :data:`ON_SCRIPT_COMMAND`), then runs the events ``channel.recv_main()``
    gives until an unload, after which the script's ``UnLoad()`` runs and
    the runner gets ``Unloaded``, or until the link closes."""
    hooks = defined_hooks(rt.module)
    if ON_SCRIPT_COMMAND not in hooks:
        hooks = sorted(hooks + [ON_SCRIPT_COMMAND])
    channel.send_loaded(True, "", hooks)
    # Looked up once: every hook the hub fires passes here.
    recv, kind_of, hook_args, run_hook = channel.recv_main, fields.kind, fields.hook, rt.run_hook
    serve_hooks = getattr(channel, "serve_hooks", None)
    if serve_hooks is not None:
        # The Python 3 worker's channel runs plain hooks itself (from the
        # frame to the script's function and back, ``run_hook``'s rules)
        # and gives this loop every other event.
        rules = (ON_SCRIPT_COMMAND, ON_TIMER)

        def recv():
            # type: () -> Any
            return serve_hooks(rt, HOOK_NAMES, rules, MAX_DEPTH)

    while not rt.pending_unload:
        event = recv()
        kind = kind_of(event)
        if kind == "hook":
            run_hook(*hook_args(event))
        elif kind == "unload":
            break
        elif kind == "closed":
            return
        else:
            _serve(rt, kind, event, fields)
    rt.run_unload()
    channel.send_unloaded()


def wait_result(rt, call_id, recv, fields):
    # type: (Any, int, Callable[[], Any], Fields) -> Any
    """The result event of call ``call_id``, waited for on the main thread:
    ``recv()`` gives the next event, or ``None`` once the caller's time is
    up (then this returns ``None``). Every hook and function call the hub
    sends meanwhile runs.

    Such a nested hook may itself wait for a call, and the answer to this
    (outer) call may come first: the hub does not wait for hooks whose
    result it ignores (``OnScriptCommand`` from an instant
    ``vh.ScriptCommand``), so it answers the outer call while the nested
    hook still runs. Answers for an outer wait are kept until that wait
    resumes; answers nobody waits for are late ones to calls that timed
    out, and dropped. An unload is noted (``pending_unload``) and left to
    the main loop, after this call.

    # Errors
    ``NotConnectedError`` (``vh._errors``) if the link closes.
    """
    waits, early = rt._main_waits, rt._early_results
    kind_of, call_id_of = fields.kind, fields.call_id
    waits.append(call_id)
    try:
        while True:
            got = early.pop(call_id, None)
            if got is not None:
                return got
            event = recv()
            if event is None:
                return None
            kind = kind_of(event)
            if kind != "result":
                _serve(rt, kind, event, fields)
                continue
            got_id = call_id_of(event)
            if got_id == call_id:
                return event
            if got_id in waits:
                early[got_id] = event
    finally:
        waits.pop()


def _serve(rt, kind, event, fields):
    # type: (Any, str, Any, Fields) -> None
    """Runs one event other than a result, inside :func:`wait_result` or
    the main loop (which takes hooks, unloads and the link's end itself)."""
    if kind == "hook":
        rt.run_hook(*fields.hook(event))
    elif kind == "function":
        rt.run_function(*fields.function(event))
    elif kind == "ping":
        rt.answer_ping(fields.seq(event))
    elif kind == "unload":
        rt.pending_unload = True
    elif kind == "closed":
        from ._errors import NotConnectedError

        raise NotConnectedError("vh-runner link closed: %s" % (fields.reason(event),))
