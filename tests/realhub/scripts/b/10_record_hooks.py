# Records every hook this script gets, with its arguments and its return
# value, one line each, into $VH_REALHUB_OUT/record_hooks.txt. Python 3,
# as python_pi 1.7 runs it. OnTimer is answered but not recorded: how many
# ticks a session sees depends on the wall clock, not on the hub.
import os

import vh  # noqa: F401 (as every python_pi script does)

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "record_hooks.txt")

HOOKS = (
    "OnNewConn",
    "OnCloseConn",
    "OnCloseConnEx",
    "OnParsedMsgChat",
    "OnParsedMsgPM",
    "OnParsedMsgMCTo",
    "OnParsedMsgSearch",
    "OnParsedMsgSR",
    "OnParsedMsgMyINFO",
    "OnFirstMyINFO",
    "OnParsedMsgValidateNick",
    "OnParsedMsgAny",
    "OnParsedMsgAnyEx",
    "OnOpChatMessage",
    "OnPublicBotMessage",
    "OnUnLoad",
    "OnCtmToHub",
    "OnParsedMsgSupports",
    "OnParsedMsgMyHubURL",
    "OnParsedMsgExtJSON",
    "OnParsedMsgBotINFO",
    "OnParsedMsgVersion",
    "OnParsedMsgMyPass",
    "OnParsedMsgConnectToMe",
    "OnParsedMsgRevConnectToMe",
    "OnUnknownMsg",
    "OnOperatorCommand",
    "OnOperatorKicks",
    "OnOperatorDrops",
    "OnOperatorDropsWithReason",
    "OnValidateTag",
    "OnUserCommand",
    "OnHubCommand",
    "OnScriptCommand",
    "OnUserInList",
    "OnUserLogin",
    "OnUserLogout",
    "OnNewReg",
    "OnNewBan",
    "OnSetConfig",
)


def record(name, args, result):
    with open(OUT, "a", encoding="utf-8", errors="backslashreplace") as f:
        print("%s\t%r\t%r" % (name, args, result), file=f)


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
