"""vh-bench: a chat hook that makes three vh.usermc calls whose results it
discards (statements), then allows the line: with pipelined calls, still
one round trip per hook."""

import vh


def OnParsedMsgChat(nick, message):
    vh.usermc(message, nick)
    vh.usermc("second", nick)
    vh.usermc("third", nick)
    return 1
