"""Console test: unloads or reloads itself from inside its own hook with
vh.ParseCommand("!pyunload <id>") / "!pyreload <id>" (docs/abi.md §9.2, §12), goes
on after the call, and says when its UnLoad() runs."""

import os

import vh


def OnUserCommand(nick, command):
    if command == "+bye":
        vh.ParseCommand(nick, "!pyunload %d" % vh.myid, 0)
        vh.usermc("#%d still running after !pyunload" % vh.myid, nick)
        return 0
    if command == "+again":
        vh.ParseCommand(nick, "!pyreload %d" % vh.myid, 0)
        vh.usermc("#%d still running after !pyreload" % vh.myid, nick)
        return 0
    if command == "+pid":
        vh.usermc("#%d pid %d" % (vh.myid, os.getpid()), nick)
        return 0
    return 1


def UnLoad():
    vh.mc("UnLoad of #%d" % vh.myid)
