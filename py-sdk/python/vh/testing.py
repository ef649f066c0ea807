"""Test a script without a hub or a runner: :class:`FakeHub`.

``FakeHub`` loads a script file the way the worker does (as ``__main__``,
its folder on ``sys.path``, ``vh.myid``/``vh.botname``/… set, docs/abi.md
§7.5) and installs a real ``vh`` runtime whose transport is
an in-process fake, so the script's ``vh.*`` calls go through the same
argument and result conversion as under vh-runner, and its hooks' results
are mapped exactly as the worker maps them (docs/abi.md §4.4).

The fake hub keeps users, configuration, registrations, bans and the
topic, answers the callbacks of docs/abi.md §6.3 as the hub does, and records
every call the script makes (:class:`Call`). Tests fire hooks by name and
get both what the hook returned and what the plugin would read
(:class:`HookOutcome`). With pytest, the ``vh_hub`` fixture gives a fresh
``FakeHub`` per test::

    def test_greets(vh_hub):
        vh_hub.load("greeter.py")
        vh_hub.login("alice")
        assert vh_hub.calls_of("mc")[0]["text"].startswith("Welcome, alice")

Where the fake differs from a hub: a call from a thread other than the
script's main thread runs at once on that thread (a hub runs it at its next
entry, within its timer period), and hooks that a callback fires run on the
calling thread; closing a connection fires no logout hooks; ``SQL`` and
GeoIP lookups fail unless answered with :meth:`FakeHub.answer`.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import types
from typing import Any, Callable, Optional, TypeVar, Union

import vh

from . import _loader, _main_loop, _runtime, _semantics
from ._attributes import ATTRIBUTES
from ._fake import CALLBACKS, REENTRANT, Ban, HubModel, User
from ._fake import transport as _transport
from ._fake.records import Call, HookOutcome
from ._hook_args import HOOK_ARGS
from ._hooks import HOOK_INDEX, HOOK_NAMES

__all__ = ["FakeHub", "Call", "HookOutcome", "User", "Ban"]

T = TypeVar("T")
#: ``handler(*args) -> (ok, values)`` for :meth:`FakeHub.answer`.
Handler = Callable[..., tuple[bool, list[Any]]]

_HOOK_KINDS = {"s": (str, type(None)), "l": (int,), "d": (int, float)}


class FakeHub:
    """A fake Verlihub hub running one script in this process.

    Args:
        encoding: the hub's encoding (``hub_encoding``); nicks and messages
            reach the script decoded with it, as under vh-runner.
        generation: ``"A"`` or ``"B"``, the plugin generation (the nick
            list format, docs/abi.md §6.3).
        semantics: ``"A"`` or ``"B"``, whose ``vh`` the script gets
            (docs/compatibility.md, runner.toml's ``semantics``); default:
            ``generation``.
        botname, opchatname: nicks of the hub-security and op-chat bots
            (``vh.botname``, ``vh.opchatname``), both in the user list.
        script_id: ``vh.myid``.
        now: the fake clock (Unix seconds; default: the current time). It
            moves only with :meth:`tick`.
        hook_timeout: how long :meth:`fire` waits for an ``async def`` hook,
            seconds.
        raise_hook_errors: if True, :meth:`fire` re-raises an exception
            from the hook (the hub itself goes on); if False, it is in
            :attr:`HookOutcome.error`.

    One ``FakeHub`` at a time may have a script loaded (``vh`` has one
    runtime per process). Use it as a context manager, or call
    :meth:`close`, to unload the script and restore ``sys.modules``,
    ``sys.path``, ``sys.argv`` and the ``vh`` attributes.
    """

    def __init__(
        self,
        *,
        encoding: str = "cp1252",
        generation: str = "A",
        semantics: Optional[str] = None,
        botname: str = "Verlihub",
        opchatname: str = "OpChat",
        config_name: str = "config",
        basedir: str = "",
        script_id: int = 1,
        now: Optional[float] = None,
        hook_timeout: float = 5.0,
        raise_hook_errors: bool = True,
    ) -> None:
        if generation not in ("A", "B"):
            raise ValueError(f"generation must be 'A' or 'B', not {generation!r}")
        if semantics not in (None, "A", "B"):
            raise ValueError(f"semantics must be 'A' or 'B', not {semantics!r}")
        #: Whose ``vh`` the script gets, ``"A"`` or ``"B"``.
        self.semantics = semantics or generation
        self.encoding = encoding
        self.hook_timeout = hook_timeout
        self.raise_hook_errors = raise_hook_errors
        self.model = HubModel(botname, opchatname, generation, time.time() if now is None else now)
        self.model.config[("config", "hub_encoding")] = encoding
        self.model.fire = self._fire_nested
        self._attrs = _loader.ScriptAttributes(
            myid=script_id,
            path="",
            botname=botname,
            opchatname=opchatname,
            basedir=basedir,
            config_name=config_name,
            hub_encoding=encoding,
        )
        #: Every callback the script called, in call order.
        self.calls: list[Call] = []
        #: Every hook fired into the script (by the test or by a callback).
        self.fired: list[HookOutcome] = []
        self.module: Optional[types.ModuleType] = None
        self._answers: dict[str, Handler] = {}
        self._channel = _transport.Channel(self._serve)
        self._rt = _transport.Runtime(self._channel, encoding)
        self._ids = itertools.count(1)
        self._saved: Optional[dict[str, Any]] = None

    # -- hub state -------------------------------------------------------------

    @property
    def users(self) -> dict[str, User]:
        """Online users and bots by nick, in order of arrival (the two hub
        bots first)."""
        return self.model.members

    @property
    def now(self) -> float:
        """The fake clock, Unix seconds."""
        return self.model.now

    @property
    def bans(self) -> list[Ban]:
        """Bans made by the script (``vh.Ban``)."""
        return self.model.bans

    @property
    def regs(self) -> dict[str, int]:
        """Registered nicks and their classes."""
        return self.model.regs

    @property
    def topic(self) -> str:
        """The hub topic (config ``hub_topic``)."""
        return self.model.config.get(("config", "hub_topic"), "")

    def add_user(self, nick: str, uclass: int = 0, ip: str = "127.0.0.1", **info: Any) -> User:
        """Puts a user in the list without firing hooks. ``info``: any other
        :class:`User` field (``desc``, ``tag``, ``speed``, ``email``,
        ``share``, ``host``, ``cc``, ``hub_url``, ``ext_json``)."""
        with self.model.lock:
            if nick in self.model.members:
                raise ValueError(f"{nick!r} is already in the hub")
            user = User(nick, uclass, ip, **info)
            self.model.members[nick] = user
            return user

    def remove_user(self, nick: str) -> None:
        """Takes a user out of the list without firing hooks."""
        with self.model.lock:
            del self.model.members[nick]

    def set_config(self, conf: str, var: str, value: str) -> None:
        """Sets a hub config value (as ``GetConfig(conf, var)`` reads it)
        without firing ``OnSetConfig``."""
        self.model.config[(conf, var)] = value

    def get_config(self, conf: str, var: str) -> Optional[str]:
        """A hub config value, or None."""
        return self.model.config.get((conf, var))

    def answer(self, callback: str, handler: Handler) -> None:
        """Answers ``callback`` with ``handler(*args)`` instead of the fake
        hub: ``args`` decoded as in :class:`Call`, the return ``(ok,
        values)`` with ``str`` for hub strings, e.g. for ``SQL``:
        ``lambda query, limit: (True, [1, 1, 1, "cell"])`` (docs/abi.md §6.3)."""
        if callback not in CALLBACKS:
            raise ValueError(f"unknown callback {callback!r}")
        self._answers[callback] = handler

    # -- the script ----------------------------------------------------------------

    def load(self, path: Union[str, os.PathLike[str]]) -> types.ModuleType:
        """Loads the script file as the worker does and returns its module.
        Exceptions of its top-level code propagate (the load failed)."""
        if self.module is not None:
            raise RuntimeError("this FakeHub already runs a script; use another one")
        if _runtime.current() is not None:
            raise RuntimeError("another FakeHub (or a worker) is active in this process")
        path = os.fspath(path)
        self._saved = {
            "main": sys.modules.get("__main__"),
            "argv": sys.argv,
            "modules": set(sys.modules),
            "attrs": {a: getattr(vh, a) for a in ATTRIBUTES},
            "folder": os.path.dirname(os.path.abspath(path)),
        }
        self.model.script_path = path
        self.model.script_name = os.path.basename(path)
        attrs = self._attrs.replace(path=path, starttime=int(self.model.now))
        _loader.set_attributes(attrs)
        _semantics.apply(self.semantics)
        _runtime.install(self._rt)
        try:
            module = _loader.run_script(path, _loader.module_name(path, self.semantics))
        except BaseException:
            self.close()
            raise
        self._rt.module = self.module = module
        return module

    @property
    def hooks(self) -> list[str]:
        """Names of the hooks the loaded script defines (as reported to the
        hub at load, docs/abi.md §7.5)."""
        if self.module is None:
            return []
        return [HOOK_NAMES[i] for i in _main_loop.defined_hooks(self.module)]

    def close(self) -> None:
        """Unloads the script: calls its ``UnLoad()``, stops the asyncio
        loop, restores the process state. Safe to call twice."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            if self.module is not None:
                self._rt.run_unload()
            else:
                self._rt.stop_loop()
        finally:
            _runtime.install(None)
            _semantics.apply("A")
            sys.argv = saved["argv"]
            if saved["main"] is not None:
                sys.modules["__main__"] = saved["main"]
            if saved["folder"] in sys.path:
                sys.path.remove(saved["folder"])
            for name in set(sys.modules) - saved["modules"]:
                file = getattr(sys.modules[name], "__file__", None) or ""
                if os.path.abspath(file).startswith(saved["folder"] + os.sep):
                    del sys.modules[name]
            for attr, value in saved["attrs"].items():
                setattr(vh, attr, value)
            self.module = None

    def __enter__(self) -> FakeHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks -------------------------------------------------------------------

    def fire(self, hook: str, *args: Any) -> HookOutcome:
        """Fires hook ``hook`` (a name of docs/abi.md §4.1) with ``args`` as the hub
        would (``str`` for hub strings, ``int``, ``float``) and returns what
        the script gave back. Waits up to ``hook_timeout`` for an ``async
        def`` hook.

        # Errors
        ``ValueError`` for an unknown hook or arguments that do not fit its
        format; ``TimeoutError`` if an async hook does not finish in time;
        the hook's own exception if ``raise_hook_errors``.
        """
        outcome = self._fire(hook, args)
        if outcome.error is not None and self.raise_hook_errors:
            raise outcome.error
        return outcome

    def login(self, nick: str, uclass: int = 0, ip: str = "127.0.0.1", **info: Any) -> HookOutcome:
        """:meth:`add_user`, then fires ``OnUserLogin``. (A hub fires more
        hooks at login; fire them yourself if the script uses them.)"""
        self.add_user(nick, uclass, ip, **info)
        return self.fire("OnUserLogin", nick)

    def logout(self, nick: str) -> HookOutcome:
        """Fires ``OnUserLogout``, then takes the user out of the list."""
        outcome = self.fire("OnUserLogout", nick)
        with self.model.lock:
            self.model.members.pop(nick, None)
        return outcome

    def tick(self, seconds: float = 1.0) -> HookOutcome:
        """Advances the clock, delivers queued ``ScriptCommand``s
        (``OnScriptCommand``), then fires ``OnTimer(now)``, as the hub's
        timer does (docs/abi.md §9.3)."""
        self.model.now += seconds
        queued, self.model.script_commands = self.model.script_commands, []
        for cmd, data in queued:
            self.fire("OnScriptCommand", cmd, data, "python", self.model.script_path)
        return self.fire("OnTimer", self.model.now)

    def _fire(self, hook: str, args: tuple[Any, ...]) -> HookOutcome:
        if self.module is None:
            raise RuntimeError("no script loaded: call load() first")
        index = HOOK_INDEX.get(hook)
        if index is None:
            raise ValueError(f"unknown hook {hook!r} (docs/abi.md §4.1)")
        spec = HOOK_ARGS[index]
        if len(args) != len(spec.format) or not all(
            isinstance(a, _HOOK_KINDS[k]) for k, a in zip(spec.format, args)
        ):
            names = ", ".join(f"{n}: {k}" for k, n in zip(spec.format, spec.names))
            raise ValueError(f"{hook} takes ({names}), got {args!r}")
        values = [self._rt.to_hub(a) if k == "s" else a for k, a in zip(spec.format, args)]
        call_id = next(self._ids)
        self._rt.run_hook(call_id, index, values)
        if not self._channel.wait(call_id, self.hook_timeout):
            raise TimeoutError(f"{hook} did not answer within {self.hook_timeout} s")
        result = self._channel.results.pop(call_id)
        value, error = self._rt.values.pop(call_id, (None, None))
        outcome = HookOutcome(hook, result is not None, value, result, error, self.encoding)
        self.fired.append(outcome)
        return outcome

    def _fire_nested(self, hook: str, *args: Any) -> bool:
        """A hook fired by a callback (re-entrancy, docs/abi.md §9.2): True if the
        plugin would read it as allowed."""
        return self._fire(hook, args).allowed

    # -- what the script sent ------------------------------------------------------

    def calls_of(self, *callbacks: str) -> list[Call]:
        """The recorded calls to any of ``callbacks`` (all if none given)."""
        for name in callbacks:
            if name not in CALLBACKS:
                raise ValueError(f"unknown callback {name!r}")
        return [c for c in list(self.calls) if not callbacks or c.callback in callbacks]

    def clear_calls(self) -> None:
        """Forgets the recorded calls and hook outcomes."""
        self.calls.clear()
        self.fired.clear()

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Polls ``predicate`` until it returns something true (for scripts
        that call from threads or asyncio tasks) and returns that.

        # Errors
        ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition still false after {timeout} s")
            time.sleep(0.005)

    def _serve(self, callback: str, args: list[Any]) -> tuple[bool, list[Any]]:
        """Serves one ``vh.*`` call: records it, answers it in hub values."""
        decoded = tuple(self._rt.from_hub(a) for a in args)
        record = Call(callback, decoded, threading.current_thread().name)
        self.calls.append(record)
        if callback not in CALLBACKS:
            return False, []  # as the shim answers an unknown callback
        handler = self._answers.get(callback) or getattr(self.model, callback)
        if callback in REENTRANT and callback not in self._answers:
            ok, values = handler(*decoded)  # fires hooks: must not hold the lock
        else:
            with self.model.lock:
                ok, values = handler(*decoded)
        record.ok, record.values = bool(ok), tuple(values)
        return bool(ok), [self._rt.to_hub(v) for v in values]
