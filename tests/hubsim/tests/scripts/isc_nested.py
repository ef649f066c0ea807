"""Nested-call test (docs/abi.md §9.2): vh.* calls that make the hub fire hooks
into this same script while it is still inside its chat hook."""

import vh


def OnParsedMsgChat(nick, message):
    if message == "set ok":
        ok = vh.SetConfig("config", "motd", "hi")
        vh.usermc("set -> %r, motd %s" % (ok, vh.GetConfig("config", "motd")), nick)
        return 0
    if message == "set vetoed":
        vh.SetConfig("config", "locked", "x")
        vh.usermc("vetoed, locked %s" % vh.GetConfig("config", "locked"), nick)
        return 0
    if message == "cmd":
        vh.ParseCommand(nick, "+hello there", 0)
        vh.usermc("after cmd", nick)
        return 0
    return 1


def OnSetConfig(nick, conf, var, new, old, val_type):
    vh.mc("OnSetConfig %s.%s %r -> %r (%d)" % (conf, var, old, new, val_type))
    return 0 if var == "locked" else 1


def OnUserCommand(nick, command):
    if command.startswith("+hello"):
        vh.usermc("hook inside hook: %s" % command, nick)
        return 0
    return 1
