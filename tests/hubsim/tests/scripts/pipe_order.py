"""Pipelined calls: a chat hook interleaving discarded sends
(pipelined), reads (GetUserClass, which wait) and calls that make the hub
fire nested hooks into this script (ScriptCommand, SetConfig, KickUser,
which wait), also from inside those nested hooks. Its callback record must
be the same with and without pipelining.

(An instant ScriptCommand from inside OnScriptCommand is left out: the hub
does not wait for that hook, so its calls and the nested hook race on two
links, and the order differs from run to run in either mode.)"""

import vh


def OnParsedMsgChat(nick, message):
    if message == "sends":
        vh.usermc("one", nick)
        vh.usermc("two", nick)
        vh.usermc("three", nick)
        return 0
    if message == "fail":
        vh.usermc("to nobody", "nobody")
        vh.usermc("to nobody again", "nobody")
        return 0
    if message != "mix":
        return 1
    vh.usermc("one", nick)
    vh.pm("two", nick)
    level = vh.GetUserClass(nick)
    vh.usermc("class %d" % level, nick)
    vh.ScriptCommand("nest", "a", 1)
    vh.mc("after nest")
    vh.SendDataToUser("$Raw one", nick)
    vh.SetConfig("config", "hub_topic", "pipes")
    vh.SendToOpChat("after config")
    vh.KickUser(nick, "bob", "bye")
    vh.classmc("after kick", 0, 10)
    vh.usermc("class again %d" % vh.GetUserClass(nick), nick)
    vh.SetMyINFOFlag(nick, 4)
    vh.usermc("last", nick)
    return 0


def OnScriptCommand(cmd, data, plugin, script):
    if cmd == "nest":
        vh.usermc("nested " + data, "alice")
        vh.usermc("nested class %d" % vh.GetUserClass("alice"), "alice")
        vh.mc("nested last")
    elif cmd == "deeper":
        vh.pm("deeper " + data, "alice")
    return 1


def OnSetConfig(nick, conf, var, new, old, kind):
    vh.usermc("config %s=%s" % (var, new), "alice")
    vh.ScriptCommand("deeper", new, 1)
    vh.mc("after deeper")
    return 1


def OnOperatorKicks(op, nick, reason):
    vh.usermc("kick of %s seen" % nick, "alice")
    vh.mc("kick mc")
    return 1
