"""Inter-script test: sends ScriptCommands (now or at the next timer tick)
and renames the hub's bots from its chat hook; reports every
OnScriptCommand it receives, its own included."""

import os

import vh


def OnParsedMsgChat(nick, message):
    words = message.split(" ", 2)
    if words[0] == "send" and len(words) == 3:
        instant = 1 if words[1] == "now" else 0
        ok = vh.ScriptCommand("greet", words[2], instant)
        vh.usermc("sent %s: %r" % (words[1], ok), nick)
        return 0
    if message == "rename":
        vh.SetConfig("config", "hub_security", "Guard")
        vh.SetConfig("config", "opchat_name", "Ops")
        vh.usermc("sender sees %s %s" % (vh.botname, vh.opchatname), nick)
        return 0
    return 1


def OnScriptCommand(cmd, data, plugin, script):
    vh.mc(
        "#%d got %s(%s) from %s:%s; bot %s, opchat %s"
        % (vh.myid, cmd, data, plugin, os.path.basename(script), vh.botname, vh.opchatname)
    )
