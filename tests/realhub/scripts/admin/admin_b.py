# An operator's paths on a real generation B hub (Python 3, B's own
# behaviour): writes into $VH_REALHUB_OUT/admin.txt what a kick, a
# !pyreload, the timer and vh.StopHub give the script, one line each.
import os

import vh

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "admin.txt")
# module state: a !pyreload starts it again from zero
state = {"lines": 0, "ticks": 0}


def log(*parts):
    with open(OUT, "a") as f:
        f.write("\t".join(repr(p) for p in parts) + "\n")


log("import")


def OnTimer(msec):
    # B passes the time on every tick; record its type once
    state["ticks"] += 1
    if state["ticks"] == 2:
        log("OnTimer", type(msec).__name__)
    return 1


def OnParsedMsgChat(nick, message):
    state["lines"] += 1
    if message == ".lines":
        vh.usermc("lines since load: %d" % state["lines"], nick)
        return 0
    if message == ".stophub":
        log("StopHub", vh.StopHub(3))
        return 0
    return 1


def OnOperatorKicks(op, nick, why):
    log("OnOperatorKicks", op, nick, why)
    return 1


def OnUserLogout(nick):
    log("OnUserLogout", nick)
    return 1


def UnLoad():
    log("UnLoad", state["lines"])
