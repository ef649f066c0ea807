# -*- coding: utf-8 -*-
"""The table of ``vh`` functions: names, parameters and result kinds of
generation A (docs/abi.md §7.2, A column), each backed by one hub
callback (§6.3). ``vh``, ``vh.strict`` and ``vh.aio`` are all built from it.

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax:
no annotations (type comments instead), no f-strings.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and dataclasses stay out of a worker's memory
    from typing import Any, Optional  # noqa: F401 (used in type comments)

#: Parameter kinds, as the callback's argument format (docs/abi.md §6.3): ``s`` a
#: hub string (``str`` or ``None``), ``l`` a C long, ``d`` a C double.
KINDS = ("s", "l", "d")


class Param(object):
    """One parameter of a ``vh`` function (immutable by convention).

    A plain class rather than a dataclass: ``dataclasses`` would add
    ``inspect`` and more to every worker's memory (docs/performance.md)."""

    __slots__ = ("name", "kind", "optional", "default")

    def __init__(self, name, kind, optional, default):
        # type: (str, str, bool, Any) -> None
        self.name = name
        #: ``"s"``, ``"l"`` or ``"d"`` (see :data:`KINDS`).
        self.kind = kind
        #: False for required parameters.
        self.optional = optional
        #: Sent to the hub when an optional parameter is omitted.
        self.default = default

    def _key(self):
        # type: () -> tuple[Any, ...]
        return (self.name, self.kind, self.optional, self.default)

    def __eq__(self, other):
        # type: (object) -> bool
        return type(other) is Param and self._key() == other._key()

    def __ne__(self, other):
        # type: (object) -> bool
        return not self == other

    def __hash__(self):
        # type: () -> int
        return hash(self._key())

    def __repr__(self):
        # type: () -> str
        return "Param(name={!r}, kind={!r}, optional={!r}, default={!r})".format(*self._key())


class FunctionSpec(object):
    """One ``vh`` function and the hub callback behind it (immutable by
    convention; a plain class for the reason given at :class:`Param`)."""

    __slots__ = (
        "name",
        "callback",
        "params",
        "result",
        "keywords",
        "failure_is_refusal",
        "doc",
        "required",
    )

    def __init__(
        self,
        name,  # type: str
        callback,  # type: str
        params,  # type: tuple[Param, ...]
        result,  # type: str
        keywords=False,  # type: bool
        failure_is_refusal=True,  # type: bool
        doc="",  # type: str
    ):
        # type: (...) -> None
        self.name = name
        #: Hub callback name (docs/abi.md §6.1); the ``GetRaw*List`` functions share
        #: their callback with ``Get*List``.
        self.callback = callback
        self.params = params
        #: How the callback's result becomes a Python value; a key of
        #: ``vh._results.CLASSIC`` and ``vh._results.STRICT``.
        self.result = result
        #: True if the optional parameters may be passed by keyword (only
        #: ``UserRestrictions``, as in generation A).
        self.keywords = keywords
        #: False if the hub's "failure" is no failure: ``SetConfig`` never
        #: reports success although it sets the value (plugin bug,
        #: docs/abi.md §6.3), so its strict form does not raise.
        self.failure_is_refusal = failure_is_refusal
        #: One line on what the function does (its docstring and the stubs').
        self.doc = doc
        #: Number of required parameters.
        self.required = sum(1 for p in params if not p.optional)

    def _key(self):
        # type: () -> tuple[Any, ...]
        return (
            self.name,
            self.callback,
            self.params,
            self.result,
            self.keywords,
            self.failure_is_refusal,
            self.doc,
        )

    def __eq__(self, other):
        # type: (object) -> bool
        return type(other) is FunctionSpec and self._key() == other._key()

    def __ne__(self, other):
        # type: (object) -> bool
        return not self == other

    def __hash__(self):
        # type: () -> int
        return hash(self._key())

    def __repr__(self):
        # type: () -> str
        return (
            "FunctionSpec(name={!r}, callback={!r}, params={!r}, result={!r}, keywords={!r}, "
            "failure_is_refusal={!r}, doc={!r})".format(*self._key())
        )


_EMPTY_DEFAULTS = {"s": None, "l": 0, "d": 0.0}


def _params(text):
    # type: (str) -> tuple[Param, ...]
    """``"text:s, delay:l?, limit:l?100"`` -> parameters (``?`` = optional,
    followed by a non-default integer to send when omitted)."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, rest = item.partition(":")
        kind, optional, default_text = rest[:1], "?" in rest, rest[2:]
        if kind not in KINDS:
            raise ValueError("bad parameter %r" % (item,))
        default = int(default_text) if default_text else _EMPTY_DEFAULTS[kind]
        out.append(Param(name, kind, optional, default))
    return tuple(out)


def _f(name, params, result="bool", callback=None, **kw):
    # type: (str, str, str, Optional[str], **Any) -> FunctionSpec
    return FunctionSpec(name, callback or name, _params(params), result, doc=DOCS[name], **kw)


#: What each function does, from the hub's side (docs/abi.md §6.3, §7.2).
DOCS = {
    "SendToOpChat": "Sends ``text`` to the op chat, from ``from_nick`` if that is an online "
    "user, else from the op-chat bot.",
    "SendToActive": "Sends raw protocol ``data`` to every active-mode user (``delay`` > 0: "
    "through the hub's send cache).",
    "SendToPassive": "Sends raw protocol ``data`` to every passive-mode user.",
    "SendToActiveClass": "Sends raw protocol ``data`` to active-mode users with a class in "
    "``[min_class, max_class]``.",
    "SendToPassiveClass": "Sends raw protocol ``data`` to passive-mode users with a class in "
    "``[min_class, max_class]``.",
    "SendDataToUser": "Sends raw protocol ``data`` to one online user (``|`` is added if missing).",
    "SendDataToAll": "Sends raw protocol ``data`` to every user with a class in "
    "``[min_class, max_class]``.",
    "SendPMToAll": "Sends a private message ``text`` from ``from_nick`` to every user with a "
    "class in ``[min_class, max_class]``.",
    "CloseConnection": "Disconnects an online user after ``delay_ms`` milliseconds, with close "
    "reason ``reason`` (an ``eCR_*`` constant).",
    "GetMyINFO": "A user's MyINFO fields ``(nick, desc, tag, speed, email, share)``.",
    "SetMyINFO": "Changes a user's MyINFO fields (``None`` keeps one) and broadcasts it.",
    "GetUserClass": "A user's class (``-2``: not online).",
    "GetNickList": "The nicks in the user list, bots included.",
    "GetOpList": "The nicks of operators (class 3 and up), bots included.",
    "GetBotList": "The nicks of the bots.",
    "GetRawNickList": "The raw ``$NickList a$$b$$`` string (plugin generation A only).",
    "GetRawOpList": "The raw ``$OpList a$$b$$`` string (plugin generation A only).",
    "GetRawBotList": "The raw ``$BotList a$$b$$`` string (plugin generation A only).",
    "GetUserHost": "A user's host name (``''`` if unknown; the hub may resolve DNS first).",
    "GetUserIP": "A user's IP (``''`` if unknown, ``127.0.0.1`` for bots).",
    "SetUserIP": "Changes the IP the hub has for an online user.",
    "SetMyINFOFlag": "Sets the bits ``flag`` in the status byte of a user's MyINFO.",
    "UnsetMyINFOFlag": "Clears the bits ``flag`` in the status byte of a user's MyINFO.",
    "GetUserHubURL": "The hub address a user connected to (``''`` if unknown).",
    "GetUserExtJSON": "A user's ExtJSON data (``''`` if unknown).",
    "GetUserCC": "A user's country code (``''`` if unknown).",
    "GetIPCC": "The country code of an IP (GeoIP).",
    "GetIPCN": "The country name of an IP (GeoIP).",
    "GetIPASN": "The autonomous system of an IP (GeoIP ASN database ``db``).",
    "GetGeoIP": "The GeoIP record of an IP: ``latitude``, ``longitude`` (float), "
    "``metro_code``, ``area_code`` (int), ``country``, ``city``, … (str).",
    "AddRegUser": "Registers ``nick`` with class ``uclass`` (0 to 5, or 10) and "
    "``password``, as ``op_nick``.",
    "DelRegUser": "Deletes the registration of ``nick``.",
    "SetRegClass": "Changes the class of a registered nick.",
    "Ban": "Bans ``nick`` for ``seconds`` (0: for ever) as ``op_nick``; ``ban_type`` is an "
    "``eBF_*`` constant.",
    "KickUser": "Kicks ``nick`` as the online operator ``op_nick``, with ``reason`` (fires "
    "``OnOperatorKicks``).",
    "DelNickTempBan": "Lifts the temporary bans of a nick.",
    "DelIPTempBan": "Lifts the temporary bans of an IP.",
    "ParseCommand": "Runs ``command`` as if ``nick`` had sent it (``in_pm`` 1: in a PM); fires "
    "the command hooks.",
    "ScriptCommand": "Sends ``OnScriptCommand(cmd, data, 'python', <this script>)`` to every "
    "script: now if ``instant`` > 0, else at the next timer tick.",
    "SetConfig": "Sets hub config variable ``var`` of ``conf`` (fires ``OnSetConfig``). The "
    "plugin reports failure even when it set the value (docs/abi.md §6.3).",
    "GetConfig": "A hub config value (``default`` if it is not set).",
    "IsRobotNickBad": "Whether a nick may be a new bot's: an ``eBOT_*`` code, 0 if fine.",
    "AddRobot": "Adds a bot to the user list with the given class and MyINFO fields.",
    "DelRobot": "Removes a bot added with ``AddRobot``.",
    "SQL": "Runs an SQL query on the hub's database; at most ``limit`` rows, each a list of "
    "str (``'NULL'`` for SQL NULL).",
    "GetServFreq": "The frequency of the hub's main loop, per second.",
    "GetUsersCount": "The number of users online.",
    "GetTotalShareSize": "The total share of the users online, in bytes, as a decimal string.",
    "usermc": "Shows ``text`` in main chat to ``nick`` alone, from ``from_nick`` (default: "
    "the hub-security bot).",
    "pm": "Sends ``text`` as a private message to ``nick`` from ``from_nick`` (default: the "
    "hub-security bot), shown as from ``display_nick``.",
    "mc": "Sends ``text`` to main chat from ``from_nick`` (default: the hub-security bot).",
    "classmc": "Sends ``text`` to the main chat of users with a class in "
    "``[min_class, max_class]``.",
    "UserRestrictions": "Restricts ``nick``'s chat, pm, search or ctm for a hub period "
    "(``'1'``: a week, ``'3h'``, …; ``'0'`` lifts, ``None`` keeps); the restrictions now "
    "active, by name.",
    "Topic": "The hub topic; sets it first if ``new_topic`` is given.",
    "name_and_version": "This script's name and version as the plugin lists them; sets them "
    "first if given.",
    "StopHub": (
        "Stops the hub with exit code ``code`` after ``delay`` seconds "
        "(0: at once; -1 cancels a planned stop)."
    ),
}


#: Every classic function, docs/abi.md §7.2 (A column), in docs/abi.md's order.
FUNCTIONS = (  # type: tuple[FunctionSpec, ...]
    _f("SendToOpChat", "text:s, from_nick:s?"),
    _f("SendToActive", "data:s, delay:l?"),
    _f("SendToPassive", "data:s, delay:l?"),
    _f("SendToActiveClass", "data:s, min_class:l, max_class:l, delay:l?"),
    _f("SendToPassiveClass", "data:s, min_class:l, max_class:l, delay:l?"),
    _f("SendDataToUser", "data:s, nick:s, delay:l?"),
    _f("SendDataToAll", "data:s, min_class:l, max_class:l, delay:l?"),
    _f("SendPMToAll", "text:s, from_nick:s, min_class:l, max_class:l"),
    _f("CloseConnection", "nick:s, delay_ms:l?, reason:l?"),
    _f("GetMyINFO", "nick:s", "myinfo"),
    _f("SetMyINFO", "nick:s, desc:s?, tag:s?, speed:s?, email:s?, share:s?"),
    _f("GetUserClass", "nick:s", "int"),
    _f("GetNickList", "", "nicklist"),
    _f("GetOpList", "", "oplist"),
    _f("GetBotList", "", "botlist"),
    _f("GetRawNickList", "", "raw", "GetNickList"),
    _f("GetRawOpList", "", "raw", "GetOpList"),
    _f("GetRawBotList", "", "raw", "GetBotList"),
    _f("GetUserHost", "nick:s", "str"),
    _f("GetUserIP", "nick:s", "str"),
    _f("SetUserIP", "nick:s, ip:s"),
    _f("SetMyINFOFlag", "nick:s, flag:l"),
    _f("UnsetMyINFOFlag", "nick:s, flag:l"),
    _f("GetUserHubURL", "nick:s", "str"),
    _f("GetUserExtJSON", "nick:s", "str"),
    _f("GetUserCC", "nick:s", "str"),
    _f("GetIPCC", "ip:s", "str"),
    _f("GetIPCN", "ip:s", "str"),
    _f("GetIPASN", "ip:s, db:s?", "str"),
    _f("GetGeoIP", "ip:s, db:s?", "geoip"),
    _f("AddRegUser", "nick:s, uclass:l, password:s?, op_nick:s?"),
    _f("DelRegUser", "nick:s"),
    _f("SetRegClass", "nick:s, uclass:l"),
    _f("Ban", "op_nick:s, nick:s, reason:s, seconds:l, ban_type:l"),
    _f("KickUser", "op_nick:s, nick:s, reason:s, redirect:s?, note_op:s?, note_usr:s?"),
    _f("DelNickTempBan", "nick:s"),
    _f("DelIPTempBan", "ip:s"),
    _f("ParseCommand", "nick:s, command:s, in_pm:l"),
    _f("ScriptCommand", "cmd:s, data:s, instant:l?"),
    _f("SetConfig", "conf:s, var:s, value:s", failure_is_refusal=False),
    _f("GetConfig", "conf:s, var:s, default:s?", "str"),
    _f("IsRobotNickBad", "nick:s", "int"),
    _f("AddRobot", "nick:s, uclass:l, desc:s, speed:s, email:s, share:s"),
    _f("DelRobot", "nick:s"),
    _f("SQL", "query:s, limit:l?100", "sql"),
    _f("GetServFreq", "", "float"),
    _f("GetUsersCount", "", "int"),
    _f("GetTotalShareSize", "", "str"),
    _f("usermc", "text:s, nick:s, from_nick:s?"),
    _f("pm", "text:s, nick:s, from_nick:s?, display_nick:s?"),
    _f("mc", "text:s, from_nick:s?"),
    _f("classmc", "text:s, min_class:l, max_class:l, from_nick:s?"),
    _f(
        "UserRestrictions",
        "nick:s, chat:s?, pm:s?, search:s?, ctm:s?",
        "restrictions",
        keywords=True,
    ),
    _f("Topic", "new_topic:s?", "str"),
    _f("name_and_version", "name:s?, version:s?", "name_version"),
    _f("StopHub", "code:l, delay:l?"),
)

#: The same functions by name.
BY_NAME = dict((spec.name, spec) for spec in FUNCTIONS)  # type: dict[str, FunctionSpec]

#: Hub callbacks that only send or change a user's hub state, return only
#: success or failure, and fire no hook (docs/abi.md §6.3, §9.2):
#: the ones a script calls as statements, whose discarded calls are
#: pipelined (docs/protocol.md "Pipelined calls"). Calls that may re-enter
#: the hub's hooks (``KickUser`` fires ``OnOperatorKicks``,
#: ``CloseConnection`` the close hooks, ``ParseCommand``, ``ScriptCommand``,
#: ``SetConfig``) and the registration and ban calls (``OnNewReg``,
#: ``OnNewBan``: not traced, so unsure) always wait: a nested hook must run
#: where the in-process plugin runs it, before the script's next call.
PIPELINED_CALLBACKS = frozenset(
    [
        "SendToOpChat",
        "SendToActive",
        "SendToPassive",
        "SendToActiveClass",
        "SendToPassiveClass",
        "SendDataToUser",
        "SendDataToAll",
        "SendPMToAll",
        "usermc",
        "pm",
        "mc",
        "classmc",
        "SetMyINFO",
        "SetMyINFOFlag",
        "UnsetMyINFOFlag",
        "SetUserIP",
    ]
)  # type: frozenset[str]


def send_parts(spec):
    # type: (FunctionSpec) -> Optional[tuple[str, str, int, tuple[Any, ...]]]
    """What the compiled send of a pipelined function's classic form takes
    (``vh._core.SendSpec`` in the Python 3 worker, ``vh._native.send_as_is``'s
    ``send`` in the Python 2 one; docs/protocol.md "Pipelined calls"), made
    once per function: the callback's name, one ``l``, ``s`` or ``d`` per
    parameter, how many are required and each one's default. ``None`` for a
    function whose calls always wait."""
    if spec.callback not in PIPELINED_CALLBACKS:
        return None
    kinds = "".join(p.kind for p in spec.params)
    return (spec.callback, kinds, spec.required, tuple(p.default for p in spec.params))


#: Per list result kind (``FunctionSpec.result``): the command generation A's
#: callback puts before the ``$$``-separated nicks (docs/abi.md §6.3, §7.2);
#: generation B sends a JSON array instead.
LIST_PREFIXES = {
    "nicklist": b"$NickList ",
    "oplist": b"$OpList ",
    "botlist": b"$BotList ",
}  # type: dict[str, bytes]

#: The ``restrictions`` result kind: the hub's bit of each restriction a
#: ``UserRestrictions`` mask holds (docs/abi.md §6.3), as the dict's keys.
RESTRICTIONS = (
    ("chat", 1),
    ("pm", 2),
    ("search", 4),
    ("ctm", 8),
)  # type: tuple[tuple[str, int], ...]
