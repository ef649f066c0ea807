"""Echoes every chat message back to its sender through vh.usermc, and
returns it unchanged as a (nick, text) substitution: with a 1 MiB message,
1 MiB crosses every link both ways. '!blob <n>' sends n bytes
to the sender with one vh.usermc; '!len' tells the message's length;
'!config <var>' tells the length of config value <var> (classic GetConfig)
and what vh.strict.GetConfig says."""

import vh
import vh.strict


def OnParsedMsgChat(nick, message):
    if message.startswith("!blob "):
        vh.usermc("b" * int(message[6:]), nick)
        return 0
    if message.startswith("!config "):
        var = message[8:]
        value = vh.GetConfig("config", var)
        try:
            strict = "%d" % len(vh.strict.GetConfig("config", var))
        except vh.HubRefusedError as e:
            strict = "refused: %s" % e.reason
        size = None if value is None else len(value)
        vh.usermc("config=%s strict=%s" % (size, strict), nick)
        return 0
    if message.startswith("!len"):
        vh.usermc("len=%d" % len(message), nick)
        return 0
    vh.usermc(message, nick)
    return (nick, message)
