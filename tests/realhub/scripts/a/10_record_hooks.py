# -*- coding: utf-8 -*-
# Records every hook this script gets, with its arguments and its return
# value, one line each, into $VH_REALHUB_OUT/record_hooks.txt. Python 2,
# as python_pi 1.6 runs it. OnTimer is answered but not recorded: how many
# ticks a session sees depends on the wall clock, not on the hub.
import os
import vh

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "record_hooks.txt")
# Python 2 only (a long literal): `print >>f, x` alone is valid Python 3
# syntax, and the runner picks the Python 2.7 worker for a script that does
# not compile under Python 3 (docs/admin.md "Python 2 scripts")
count = [0L]

HOOKS = (
    "OnNewConn", "OnCloseConn", "OnCloseConnEx", "OnParsedMsgChat",
    "OnParsedMsgPM", "OnParsedMsgMCTo", "OnParsedMsgSearch", "OnParsedMsgSR",
    "OnParsedMsgMyINFO", "OnFirstMyINFO", "OnParsedMsgValidateNick",
    "OnParsedMsgAny", "OnParsedMsgAnyEx", "OnOpChatMessage",
    "OnPublicBotMessage", "OnUnLoad", "OnCtmToHub", "OnParsedMsgSupports",
    "OnParsedMsgMyHubURL", "OnParsedMsgExtJSON", "OnParsedMsgBotINFO",
    "OnParsedMsgVersion", "OnParsedMsgMyPass", "OnParsedMsgConnectToMe",
    "OnParsedMsgRevConnectToMe", "OnUnknownMsg", "OnOperatorCommand",
    "OnOperatorKicks", "OnOperatorDrops", "OnOperatorDropsWithReason",
    "OnValidateTag", "OnUserCommand", "OnHubCommand", "OnScriptCommand",
    "OnUserInList", "OnUserLogin", "OnUserLogout", "OnNewReg", "OnNewBan",
    "OnSetConfig",
)


def record(name, args, result):
    count[0] += 1
    f = open(OUT, "ab")
    print >>f, "%s\t%r\t%r" % (name, args, result)
    f.close()


def result_for(name, args):
    # a few results that change what the hub does, the rest allow
    if name == "OnParsedMsgChat" and args[1] == "block me":
        return 0
    if name == "OnParsedMsgChat" and args[1] == "replace me":
        return "replaced text"
    if name == "OnParsedMsgPM" and args[1] == "block pm":
        return 0
    return 1


def make(name):
    def hook(*args):
        result = result_for(name, args)
        record(name, args, result)
        return result
    hook.__name__ = name
    return hook


for _name in HOOKS:
    globals()[_name] = make(_name)


def OnTimer(*args):
    return 1


def UnLoad():
    record("UnLoad", (), None)
