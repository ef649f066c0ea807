"""Sends each chat message back to its sender through a vh call, and
returns it as a (nick, text) substitution: both paths must keep every byte."""

import vh


def OnParsedMsgChat(nick, message):
    vh.usermc(message, nick, nick)
    return (nick, message)
