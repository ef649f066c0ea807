"""What ``vh.testing.FakeHub`` records: the script's hub calls
(:class:`Call`) and the outcomes of hooks (:class:`HookOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .._functions import FUNCTIONS

_PARAM_NAMES: dict[str, tuple[str, ...]] = {}
for _spec in FUNCTIONS:
    _PARAM_NAMES.setdefault(_spec.callback, tuple(p.name for p in _spec.params))
del _spec


@dataclass
class Call:
    """One hub callback a script called (docs/abi.md §6.3), as the hub got it.

    ``args`` are full length (omitted optional arguments as the hub gets
    them: ``None``, ``0``), hub strings decoded to ``str``. ``call["nick"]``
    gives an argument by its ``vh`` parameter name.
    """

    callback: str
    args: tuple[Any, ...]
    #: Name of the script's thread that made the call.
    thread: str
    #: The fake hub's answer: False where the hub returns NULL.
    ok: bool = False
    #: The answer's values, decoded.
    values: tuple[Any, ...] = ()

    def __getitem__(self, name: str) -> Any:
        names = _PARAM_NAMES.get(self.callback, ())
        if name not in names:
            raise KeyError(f"{self.callback} has no argument {name!r} (it has {names})")
        return self.args[names.index(name)]


@dataclass(frozen=True)
class HookOutcome:
    """What one hook call gave the hub."""

    hook: str
    #: False if the script defines no such hook (the plugin gets NULL).
    called: bool
    #: What the hook function returned (awaited for ``async def``); None if
    #: not called or if it raised.
    value: Any = None
    #: The result as the worker sends it (``Runtime.map_result``: hub
    #: values, strings as bytes), or None if not called.
    result: Optional[list[Any]] = None
    #: The exception the hook raised (the hub went on), if any.
    error: Optional[BaseException] = None
    encoding: str = field(default="cp1252", repr=False)

    @property
    def allowed(self) -> bool:
        """How the plugin reads the result (docs/abi.md §4.2): False only for 0 or
        ``(text, 0)``; substitutions and no opinion allow."""
        r = self.result
        if not r or len(r) > 2:
            return True
        if len(r) == 2 and not isinstance(r[1], int):
            return True  # chat substitution "ss"
        return bool(r[-1] != 0)

    @property
    def reply(self) -> Optional[str]:
        """The text a ``(text, n)`` result sends to the user, or None."""
        r = self.result
        if r and len(r) == 2 and isinstance(r[1], int) and isinstance(r[0], bytes):
            return r[0].decode(self.encoding, "surrogateescape")
        return None

    @property
    def substitution(self) -> Optional[tuple[Optional[str], ...]]:
        """Chat ``(nick, text)`` or MyINFO ``(desc, tag, speed, email,
        share)`` replacements (``None`` keeps a field), or None."""
        r = self.result
        if not r or not (len(r) == 5 or (len(r) == 2 and not isinstance(r[1], int))):
            return None
        return tuple(x.decode(self.encoding, "surrogateescape") if x else x for x in r)
