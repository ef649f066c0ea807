# -*- coding: utf-8 -*-
"""The hook table of python_pi (docs/abi.md §4.1), shared by both
plugin generations: the position in ``HOOK_NAMES`` is the hub's hook index. The hooks'
arguments are in ``_hook_args`` (only ``vh.testing`` needs them; a worker
does not import ``typing``).

The Python 2 worker's ``vh`` package imports this very file, so
it stays Python 2.7 syntax (no annotations).
"""

HOOK_NAMES = (  # type: tuple[str, ...]
    "OnNewConn",
    "OnCloseConn",
    "OnCloseConnEx",
    "OnParsedMsgChat",
    "OnParsedMsgPM",
    "OnParsedMsgMCTo",
    "OnParsedMsgSearch",
    "OnParsedMsgSR",
    "OnParsedMsgMyINFO",
    "OnFirstMyINFO",
    "OnParsedMsgValidateNick",
    "OnParsedMsgAny",
    "OnParsedMsgAnyEx",
    "OnOpChatMessage",
    "OnPublicBotMessage",
    "OnUnLoad",
    "OnCtmToHub",
    "OnParsedMsgSupports",
    "OnParsedMsgMyHubURL",
    "OnParsedMsgExtJSON",
    "OnParsedMsgBotINFO",
    "OnParsedMsgVersion",
    "OnParsedMsgMyPass",
    "OnParsedMsgConnectToMe",
    "OnParsedMsgRevConnectToMe",
    "OnUnknownMsg",
    "OnOperatorCommand",
    "OnOperatorKicks",
    "OnOperatorDrops",
    "OnOperatorDropsWithReason",
    "OnValidateTag",
    "OnUserCommand",
    "OnHubCommand",
    "OnScriptCommand",
    "OnUserInList",
    "OnUserLogin",
    "OnUserLogout",
    "OnTimer",
    "OnNewReg",
    "OnNewBan",
    "OnSetConfig",
)

#: Hook index of ``OnParsedMsgChat``: a ``str`` or ``(nick, text)`` result
#: substitutes the message (docs/abi.md §4.3).
ON_PARSED_MSG_CHAT = 3
#: Hook indices whose 5-tuple result substitutes MyINFO fields.
MYINFO_HOOKS = frozenset({8, 9})
#: Hook index of ``OnTimer`` (called without its argument if the script's
#: ``OnTimer`` takes none, docs/abi.md §7.6).
ON_TIMER = 37


#: Hook index by name.
HOOK_INDEX = dict((name, i) for i, name in enumerate(HOOK_NAMES))  # type: dict[str, int]
