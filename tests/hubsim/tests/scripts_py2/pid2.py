# Answers every chat line with its worker's pid (Python 2: the long
# literal makes it no Python 3 code): the idle-CPU test sends it hooks back
# to back, then reads the worker's CPU time.
import os

import vh

PID = os.getpid() + 0L


def OnParsedMsgChat(nick, message):
    vh.usermc("%d" % PID, nick)
    return 1
