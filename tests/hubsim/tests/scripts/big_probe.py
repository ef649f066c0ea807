"""On '!probe <Name>', calls that vh function (classic, then vh.strict) and
reports what the script got, a value or an exception, through
vh.SendToOpChat (hub callbacks that return NULL or a wrong
format)."""

import vh
import vh.strict

CALLS = {
    "GetNickList": lambda m, nick: m.GetNickList(),
    "GetUserClass": lambda m, nick: m.GetUserClass(nick),
    "GetUserIP": lambda m, nick: m.GetUserIP(nick),
    "GetMyINFO": lambda m, nick: m.GetMyINFO(nick),
    "GetServFreq": lambda m, nick: m.GetServFreq(),
    "GetConfig": lambda m, nick: m.GetConfig("config", "hub_name"),
    "mc": lambda m, nick: m.mc("probe"),
}


def describe(module, name, nick):
    try:
        return "ok %r" % (CALLS[name](module, nick),)
    except Exception as e:
        return "raised %s" % type(e).__name__


def OnParsedMsgChat(nick, message):
    if not message.startswith("!probe "):
        return 1
    name = message.split()[1]
    vh.SendToOpChat(
        "probe %s classic=%s strict=%s"
        % (name, describe(vh, name, nick), describe(vh.strict, name, nick))
    )
    return 0
