"""Keeps a module-level counter and reports its pid, id and counter."""

import os

import vh

COUNTER = 0


def OnParsedMsgChat(nick, message):
    global COUNTER
    COUNTER += 1
    vh.usermc("%d %d %d" % (os.getpid(), vh.myid, COUNTER), nick)
    return 1
