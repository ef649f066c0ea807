"""Echoes every chat message back to its sender through vh.usermc, and
returns it unchanged as a (nick, text) substitution: with a 1 MiB message,
1 MiB crosses every link both ways (issue 9). '!blob <n>' sends n bytes
to the sender with one vh.usermc; '!len' tells the message's length."""

import vh


def OnParsedMsgChat(nick, message):
    if message.startswith("!blob "):
        vh.usermc("b" * int(message[6:]), nick)
        return 0
    if message.startswith("!len"):
        vh.usermc("len=%d" % len(message), nick)
        return 0
    vh.usermc(message, nick)
    return (nick, message)
