"""State of the fake hub behind ``vh.testing.FakeHub``: users and bots,
configuration, registrations, bans, queued script commands, the clock.
The callbacks acting on it are in ``users.py`` and ``hub.py`` (the hub
side of docs/abi.md §6.3, as tests/hubsim implements it in C).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

#: A callback's answer: ``(ok, values)``, ``ok`` False where the plugin
#: returns NULL; values decoded (``str`` for hub strings).
Answer = tuple[bool, list[Any]]
#: ``fire(hook_name, *args) -> allowed`` runs a hook in the script.
Fire = Callable[..., bool]

CLASS_OPERATOR = 3
CLASS_MASTER = 10
VALID_CLASSES = frozenset({0, 1, 2, 3, 4, 5, CLASS_MASTER})
OK: Answer = (True, [1])
FAIL: Answer = (False, [])


@dataclass
class User:
    """A user (or bot) of the fake hub; MyINFO fields as the hub parses them
    (docs/abi.md §4.1). Strings are text; the fake encodes them for the script."""

    nick: str
    uclass: int = 0
    ip: str = "127.0.0.1"
    desc: str = ""
    tag: str = ""
    speed: str = ""
    email: str = ""
    share: str = "0"
    host: str = ""
    cc: str = ""
    hub_url: str = ""
    ext_json: str = ""
    is_bot: bool = False
    #: Restriction name (``chat``, ``pm``, ``search``, ``ctm``) -> until
    #: (fake clock, Unix seconds).
    restricted_until: dict[str, float] = field(default_factory=dict)

    def myinfo(self) -> tuple[str, str, str, str, str, str]:
        """``(nick, desc, tag, speed, email, share)``, as ``GetMyINFO`` answers."""
        return (self.nick, self.desc, self.tag, self.speed, self.email, self.share)


@dataclass
class Ban:
    """A ban made with ``vh.Ban``; ``until`` 0 for a permanent one."""

    op_nick: str
    nick: str
    ip: str
    reason: str
    seconds: int
    ban_type: int
    until: float


class HubState:
    """The fake hub's state. ``generation`` ``"A"`` or ``"B"`` selects the
    nick list format (``$NickList a$$b$$`` or JSON, docs/abi.md §6.3)."""

    def __init__(self, botname: str, opchatname: str, generation: str, now: float) -> None:
        self.generation = generation
        self.now = now
        self.botname = botname
        self.opchatname = opchatname
        self.members: dict[str, User] = {}
        self.config: dict[tuple[str, str], str] = {}
        self.regs: dict[str, int] = {}
        self.bans: list[Ban] = []
        self.script_commands: list[tuple[str, str]] = []
        self.stopped: Optional[tuple[int, int]] = None
        self.script_name = ""
        self.script_version = "0.0.0"
        self.script_path = ""
        self.lock = threading.RLock()
        self.fire: Fire = lambda hook, *args: True
        for bot in (botname, opchatname):
            self.members[bot] = User(bot, CLASS_MASTER, is_bot=True)
        defaults = {
            "hub_security": botname,
            "opchat_name": opchatname,
            "hub_name": "fakehub",
            "hub_topic": "",
            "cmd_start_op": "!",
            "cmd_start_user": "+",
        }
        for var, value in defaults.items():
            self.config[("config", var)] = value

    # -- lookups ---------------------------------------------------------------

    def user(self, nick: Optional[str]) -> Optional[User]:
        """An online user (not a bot) by nick."""
        m = self.members.get(nick) if nick is not None else None
        return m if m is not None and not m.is_bot else None

    def _nicks(self, which: str) -> Answer:
        if which == "ops":
            nicks = [n for n, m in self.members.items() if m.uclass >= CLASS_OPERATOR]
        elif which == "bots":
            nicks = [n for n, m in self.members.items() if m.is_bot]
        else:
            nicks = list(self.members)
        if self.generation == "B":
            return True, [json.dumps(nicks, ensure_ascii=False)]
        prefix = {"ops": "$OpList ", "bots": "$BotList "}.get(which, "$NickList ")
        return True, [prefix + "".join(n + "$$" for n in nicks)]

    def close(self, nick: str) -> None:
        """The hub closes a user's connection: the user leaves the list. (No
        logout hooks: fire them with ``FakeHub.fire`` if a test needs them.)"""
        m = self.user(nick)
        if m is not None:
            del self.members[m.nick]
