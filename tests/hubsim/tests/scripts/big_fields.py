"""Sends every hub string it is given straight back to the hub
(arbitrary bytes in every string field): MyINFO fields as an unchanged
substitution; at login the user's MyINFO and IP read back with vh.GetMyINFO
and vh.GetUserIP and echoed with vh.usermc; PMs echoed to their sender with
vh.pm; main chat stored with vh.SetConfig, read back with vh.GetConfig and
echoed. Field values are prefixed so the test can find them."""

import vh


def OnParsedMsgMyINFO(nick, desc, tag, speed, email, share):
    return (desc, tag, speed, email, share)


def OnUserLogin(nick):
    for i, field in enumerate(vh.GetMyINFO(nick) or ()):
        vh.usermc("f%d=%s" % (i, field), nick)
    vh.usermc("ip=%s" % vh.GetUserIP(nick), nick)
    return 1


def OnParsedMsgPM(nick, message, to):
    vh.pm("pm=%s" % message, nick, to)
    return 1


def OnParsedMsgChat(nick, message):
    vh.SetConfig("config", "big_fields", message)
    vh.usermc("cfg=%s" % vh.GetConfig("config", "big_fields"), nick)
    return 1
