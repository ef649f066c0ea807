"""vh-bench: a chat hook that makes one vh.* call (vh.usermc) on the hub's
thread before it allows the line: the re-entrant round trip."""

import vh


def OnParsedMsgChat(nick, message):
    vh.usermc(message, nick)
    return 1
