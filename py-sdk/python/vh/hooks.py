"""Types of hook functions, for scripts checked with mypy.

One ``Protocol`` per hook of docs/abi.md §4.1, named like the hook,
with its arguments (``str`` for hub strings, decoded with the hub's
encoding) and what it may return. A hook may also be ``async def``; it then
runs on the worker's asyncio loop (see ``vh.aio``) and returns the same
values. To have mypy check a hook's signature, assign it to its protocol::

    import vh.hooks

    def OnUserLogin(nick: str) -> int:
        return 1

    _check: vh.hooks.OnUserLogin = OnUserLogin

What the results mean (docs/abi.md §4.2, §4.3; vh-runner maps them as generation A
does for both plugin generations, §4.4, except the chat ``str`` under
generation B's semantics, docs/compatibility.md):

* ``None`` or ``True`` or any non-zero int: the hub goes on;
* ``0`` or ``False``: block (drop the message, refuse the login, …), where
  the hub uses the result;
* ``(text, n)``: send ``text`` to the user's connection, then act on ``n``;
* chat (:class:`OnParsedMsgChat`): a ``str`` replaces the message text
  (not under generation B, whose plugin ignored it);
  ``(nick, text)`` replaces the nick and/or the text (``None`` keeps one);
* MyINFO (:class:`OnParsedMsgMyINFO`, :class:`OnFirstMyINFO`): a 5-tuple
  ``(desc, tag, speed, email, share)`` replaces fields (``None`` keeps one);
* anything else, or an exception: the hub goes on (printed to the log).
"""

from __future__ import annotations

from typing import Awaitable, Optional, Protocol, Union

#: What any hook may return (``bool`` is an ``int``).
Result = Union[None, int, tuple[Optional[str], int]]
#: What ``OnParsedMsgChat`` may return.
ChatResult = Union[Result, str, tuple[Optional[str], Optional[str]]]
#: What ``OnParsedMsgMyINFO`` and ``OnFirstMyINFO`` may return.
MyINFOResult = Union[
    Result,
    tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str]],
]
#: A hook's return: a result, or an awaitable of one (``async def``).
Returns = Union[Result, Awaitable[Result]]
ChatReturns = Union[ChatResult, Awaitable[ChatResult]]
MyINFOReturns = Union[MyINFOResult, Awaitable[MyINFOResult]]


class OnNewConn(Protocol):
    """#0: A TCP connection was accepted (client IP). 0 rejects it."""

    def __call__(self, ip: str, /) -> Returns: ...


class OnCloseConn(Protocol):
    """#1: A connection is closing (client IP). The result is ignored."""

    def __call__(self, ip: str, /) -> Returns: ...


class OnCloseConnEx(Protocol):
    """#2: A connection is closing: IP, close reason (an ``eCR_*`` value), nick (``""`` if none).
    The result is ignored.
    """

    def __call__(self, ip: str, reason: int, nick: str, /) -> Returns: ...


class OnParsedMsgChat(Protocol):
    """#3: A main-chat message. 0 drops it; a ``str`` replaces the text; ``(nick, text)`` replaces
    either (None keeps it).
    """

    def __call__(self, nick: str, message: str, /) -> ChatReturns: ...


class OnParsedMsgPM(Protocol):
    """#4: A private message (``$To:``): sender, text, recipient. 0 drops it."""

    def __call__(self, nick: str, message: str, to_nick: str, /) -> Returns: ...


class OnParsedMsgMCTo(Protocol):
    """#5: A ``$MCTo:`` message: sender, text, recipient. 0 drops it."""

    def __call__(self, nick: str, message: str, to_nick: str, /) -> Returns: ...


class OnParsedMsgSearch(Protocol):
    """#6: A ``$Search``: nick and the whole raw command (§4.1). 0 drops it."""

    def __call__(self, nick: str, search: str, /) -> Returns: ...


class OnParsedMsgSR(Protocol):
    """#7: A ``$SR`` search result: nick and the raw command. 0 drops it."""

    def __call__(self, nick: str, sr: str, /) -> Returns: ...


class OnParsedMsgMyINFO(Protocol):
    """#8: Every ``$MyINFO``: nick and the parsed fields. 0 drops it; a 5-tuple ``(desc, tag,
    speed, email, share)`` replaces fields (None keeps one).
    """

    def __call__(
        self, nick: str, desc: str, tag: str, speed: str, email: str, share: str, /
    ) -> MyINFOReturns: ...


class OnFirstMyINFO(Protocol):
    """#9: The first ``$MyINFO`` of a login; as :class:`OnParsedMsgMyINFO`, and 0 refuses the
    login.
    """

    def __call__(
        self, nick: str, desc: str, tag: str, speed: str, email: str, share: str, /
    ) -> MyINFOReturns: ...


class OnParsedMsgValidateNick(Protocol):
    """#10: A ``$ValidateNick`` (the requested nick). 0 closes the connection."""

    def __call__(self, nick: str, /) -> Returns: ...


class OnParsedMsgAny(Protocol):
    """#11: Any protocol message of a user: nick, raw message. 0 drops it."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnParsedMsgAnyEx(Protocol):
    """#12: Any protocol message: client IP, raw message. 0 drops it."""

    def __call__(self, ip: str, message: str, /) -> Returns: ...


class OnOpChatMessage(Protocol):
    """#13: A message to the op-chat bot: sender, text."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnPublicBotMessage(Protocol):
    """#14: A bot speaks in main chat: bot nick, text, class range."""

    def __call__(self, nick: str, message: str, min_class: int, max_class: int, /) -> Returns: ...


class OnUnLoad(Protocol):
    """#15: The hub is shutting down (code 0). Distinct from the script's ``UnLoad()``."""

    def __call__(self, code: int, /) -> Returns: ...


class OnCtmToHub(Protocol):
    """#16: A client sent a CTM to the hub's own address: nick, IP, client port, hub port,
    referrer.
    """

    def __call__(
        self, nick: str, ip: str, port: int, hub_port: int, referrer: str, /
    ) -> Returns: ...


class OnParsedMsgSupports(Protocol):
    """#17: A ``$Supports``: IP, the client's message, the hub's answer. 0: the hub sends no
    ``$Supports``.
    """

    def __call__(self, ip: str, message: str, hub_supports: str, /) -> Returns: ...


class OnParsedMsgMyHubURL(Protocol):
    """#18: A ``$MyHubURL``: nick, raw message."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnParsedMsgExtJSON(Protocol):
    """#19: An ``$ExtJSON``: nick, raw message."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnParsedMsgBotINFO(Protocol):
    """#20: A ``$BotINFO``: nick, raw message."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnParsedMsgVersion(Protocol):
    """#21: A ``$Version``: client IP, raw message."""

    def __call__(self, ip: str, message: str, /) -> Returns: ...


class OnParsedMsgMyPass(Protocol):
    """#22: A ``$MyPass``: nick, password as sent."""

    def __call__(self, nick: str, password: str, /) -> Returns: ...


class OnParsedMsgConnectToMe(Protocol):
    """#23: A ``$ConnectToMe``: nick, target nick, IP and port in the request."""

    def __call__(self, nick: str, other_nick: str, ip: str, port: str, /) -> Returns: ...


class OnParsedMsgRevConnectToMe(Protocol):
    """#24: A ``$RevConnectToMe``: nick, the other nick."""

    def __call__(self, nick: str, other_nick: str, /) -> Returns: ...


class OnUnknownMsg(Protocol):
    """#25: A message the hub does not know, after login: nick, raw message."""

    def __call__(self, nick: str, message: str, /) -> Returns: ...


class OnOperatorCommand(Protocol):
    """#26: An operator command (with its prefix), after ``OnHubCommand``. 0: handled."""

    def __call__(self, nick: str, command: str, /) -> Returns: ...


class OnOperatorKicks(Protocol):
    """#27: An operator kicks a user: op nick, kicked nick, reason. 0 prevents it."""

    def __call__(self, op_nick: str, nick: str, reason: str, /) -> Returns: ...


class OnOperatorDrops(Protocol):
    """#28: An operator drops a user (op nick, dropped nick); ANDed with
    ``OnOperatorDropsWithReason``.
    """

    def __call__(self, op_nick: str, nick: str, /) -> Returns: ...


class OnOperatorDropsWithReason(Protocol):
    """#29: Sent right after ``OnOperatorDrops`` for the same event, with the reason."""

    def __call__(self, op_nick: str, nick: str, reason: str, /) -> Returns: ...


class OnValidateTag(Protocol):
    """#30: A client tag is checked: nick, tag. 0 refuses it."""

    def __call__(self, nick: str, tag: str, /) -> Returns: ...


class OnUserCommand(Protocol):
    """#31: A user (non-op) command, after ``OnHubCommand``. 0: handled."""

    def __call__(self, nick: str, command: str, /) -> Returns: ...


class OnHubCommand(Protocol):
    """#32: Any command: nick, command without its prefix, user class, 1 if in PM, the prefix
    (``!`` or ``+``). 0: handled.
    """

    def __call__(
        self, nick: str, command: str, uclass: int, in_pm: int, prefix: str, /
    ) -> Returns: ...


class OnScriptCommand(Protocol):
    """#33: A message from ``vh.ScriptCommand`` of any script: command, data,
    plugin, script path."""

    def __call__(self, command: str, data: str, plugin: str, script: str, /) -> Returns: ...


class OnUserInList(Protocol):
    """#34: A user was added to the user list."""

    def __call__(self, nick: str, /) -> Returns: ...


class OnUserLogin(Protocol):
    """#35: A user finished logging in. 0 disconnects them."""

    def __call__(self, nick: str, /) -> Returns: ...


class OnUserLogout(Protocol):
    """#36: A user logged out. The result is ignored."""

    def __call__(self, nick: str, /) -> Returns: ...


class OnTimer(Protocol):
    """#37: The hub's timer (every ``adv_timer_serv_period`` s, default 1): the current Unix time
    in seconds. Also accepted without the argument (:class:`OnTimerNoArg`).
    """

    def __call__(self, now: float, /) -> Returns: ...


class OnNewReg(Protocol):
    """#38: A registration is being added: op nick (or the bot), new nick, class. 0 refuses it."""

    def __call__(self, op_nick: str, nick: str, uclass: int, /) -> Returns: ...


class OnNewBan(Protocol):
    """#39: A ban is being added: op nick, IP, nick, reason. 0 refuses it."""

    def __call__(self, op_nick: str, ip: str, nick: str, reason: str, /) -> Returns: ...


class OnSetConfig(Protocol):
    """#40: A config variable is changing: nick, config name, variable, new value, old value, type
    id. 0 reverts the change.
    """

    def __call__(
        self, nick: str, conf: str, var: str, new_value: str, old_value: str, type_id: int, /
    ) -> Returns: ...


class OnTimerNoArg(Protocol):
    """``OnTimer`` written without its argument (docs/abi.md §7.6: vh-runner calls
    it without one)."""

    def __call__(self) -> Returns: ...


class UnLoad(Protocol):
    """The script's ``UnLoad()``: called once when the script is unloaded
    (``!pyunload``, ``!pyreload``, hub shutdown; docs/abi.md §7.5). May be
    ``async def``; the worker waits up to 1.5 s for it."""

    def __call__(self) -> Union[None, Awaitable[None]]: ...
