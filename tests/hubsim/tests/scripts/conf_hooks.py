"""Conformance script for the hook table (tests/hubsim/tests/conformance_hooks.rs).

Defines every hook of docs/abi.md §4.1 the classic way, with the
arity of the table. Each hook reports how the script sees its arguments
through ``vh.SendToOpChat`` as ``Name(<ascii(arg)>, ...)`` (so the test sees
the types: quotes for str, bare ints, floats with a dot, None) and then
returns the value the test chose: the Python expression in
``$VH_TEST_DIR/conf_return.txt``, evaluated inside the hook (``None`` if the
file is missing; ``1/0`` makes the hook raise).
"""

import os

import vh

_CHOICE = os.path.join(os.environ["VH_TEST_DIR"], "conf_return.txt")


def _hook(name, *args):
    vh.SendToOpChat("%s(%s)" % (name, ", ".join(ascii(a) for a in args)))
    try:
        with open(_CHOICE) as f:
            expression = f.read()
    except FileNotFoundError:
        return None
    return eval(expression)


def OnNewConn(ip):
    return _hook("OnNewConn", ip)


def OnCloseConn(ip):
    return _hook("OnCloseConn", ip)


def OnCloseConnEx(ip, reason, nick):
    return _hook("OnCloseConnEx", ip, reason, nick)


def OnParsedMsgChat(nick, message):
    return _hook("OnParsedMsgChat", nick, message)


def OnParsedMsgPM(nick, message, to_nick):
    return _hook("OnParsedMsgPM", nick, message, to_nick)


def OnParsedMsgMCTo(nick, message, to_nick):
    return _hook("OnParsedMsgMCTo", nick, message, to_nick)


def OnParsedMsgSearch(nick, search):
    return _hook("OnParsedMsgSearch", nick, search)


def OnParsedMsgSR(nick, sr):
    return _hook("OnParsedMsgSR", nick, sr)


def OnParsedMsgMyINFO(nick, desc, tag, speed, email, share):
    return _hook("OnParsedMsgMyINFO", nick, desc, tag, speed, email, share)


def OnFirstMyINFO(nick, desc, tag, speed, email, share):
    return _hook("OnFirstMyINFO", nick, desc, tag, speed, email, share)


def OnParsedMsgValidateNick(nick):
    return _hook("OnParsedMsgValidateNick", nick)


def OnParsedMsgAny(nick, message):
    return _hook("OnParsedMsgAny", nick, message)


def OnParsedMsgAnyEx(ip, message):
    return _hook("OnParsedMsgAnyEx", ip, message)


def OnOpChatMessage(nick, message):
    return _hook("OnOpChatMessage", nick, message)


def OnPublicBotMessage(nick, message, min_class, max_class):
    return _hook("OnPublicBotMessage", nick, message, min_class, max_class)


def OnUnLoad(code):
    return _hook("OnUnLoad", code)


def OnCtmToHub(nick, ip, port, hub_port, referrer):
    return _hook("OnCtmToHub", nick, ip, port, hub_port, referrer)


def OnParsedMsgSupports(ip, message, hub_supports):
    return _hook("OnParsedMsgSupports", ip, message, hub_supports)


def OnParsedMsgMyHubURL(nick, message):
    return _hook("OnParsedMsgMyHubURL", nick, message)


def OnParsedMsgExtJSON(nick, message):
    return _hook("OnParsedMsgExtJSON", nick, message)


def OnParsedMsgBotINFO(nick, message):
    return _hook("OnParsedMsgBotINFO", nick, message)


def OnParsedMsgVersion(ip, message):
    return _hook("OnParsedMsgVersion", ip, message)


def OnParsedMsgMyPass(nick, password):
    return _hook("OnParsedMsgMyPass", nick, password)


def OnParsedMsgConnectToMe(nick, other_nick, ip, port):
    return _hook("OnParsedMsgConnectToMe", nick, other_nick, ip, port)


def OnParsedMsgRevConnectToMe(nick, other_nick):
    return _hook("OnParsedMsgRevConnectToMe", nick, other_nick)


def OnUnknownMsg(nick, message):
    return _hook("OnUnknownMsg", nick, message)


def OnOperatorCommand(nick, command):
    return _hook("OnOperatorCommand", nick, command)


def OnOperatorKicks(op_nick, nick, reason):
    return _hook("OnOperatorKicks", op_nick, nick, reason)


def OnOperatorDrops(op_nick, nick):
    return _hook("OnOperatorDrops", op_nick, nick)


def OnOperatorDropsWithReason(op_nick, nick, reason):
    return _hook("OnOperatorDropsWithReason", op_nick, nick, reason)


def OnValidateTag(nick, tag):
    return _hook("OnValidateTag", nick, tag)


def OnUserCommand(nick, command):
    return _hook("OnUserCommand", nick, command)


def OnHubCommand(nick, command, uclass, in_pm, prefix):
    return _hook("OnHubCommand", nick, command, uclass, in_pm, prefix)


def OnScriptCommand(command, data, plugin, script):
    # vh.botname / vh.opchatname as the script sees them when the hub
    # announces new bot names (docs/abi.md §4.3, generation A's _update_settings).
    if command in ("_hub_security_change", "_opchat_name_change"):
        data = "%s botname=%s opchatname=%s" % (data, vh.botname, vh.opchatname)
    return _hook("OnScriptCommand", command, data, plugin, script)


def OnUserInList(nick):
    return _hook("OnUserInList", nick)


def OnUserLogin(nick):
    return _hook("OnUserLogin", nick)


def OnUserLogout(nick):
    return _hook("OnUserLogout", nick)


def OnTimer(now):
    return _hook("OnTimer", now)


def OnNewReg(op_nick, nick, uclass):
    return _hook("OnNewReg", op_nick, nick, uclass)


def OnNewBan(op_nick, ip, nick, reason):
    return _hook("OnNewBan", op_nick, ip, nick, reason)


def OnSetConfig(nick, conf, var, new_value, old_value, type_id):
    return _hook("OnSetConfig", nick, conf, var, new_value, old_value, type_id)
