"""Answers chat with its pid, and takes 30 s over UnLoad() (a script whose
clean-up hangs)."""

import os
import time

import vh


def OnParsedMsgChat(nick, message):
    vh.usermc("%d %d" % (os.getpid(), vh.myid), nick)
    return 1


def UnLoad():
    time.sleep(30)
