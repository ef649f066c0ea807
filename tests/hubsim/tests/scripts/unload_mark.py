"""Reports its pid and script id on chat, and leaves a file in $VH_TEST_DIR
when its UnLoad() runs (named after the worker's pid and the script id)."""

import os

import vh


def OnParsedMsgChat(nick, message):
    vh.usermc("%d %d" % (os.getpid(), vh.myid), nick)
    return 1


def UnLoad():
    name = "unloaded-%d-%d" % (os.getpid(), vh.myid)
    with open(os.path.join(os.environ["VH_TEST_DIR"], name), "w") as f:
        f.write("UnLoad ran\n")
