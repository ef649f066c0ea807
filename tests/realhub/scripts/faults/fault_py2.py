# The fault tests' script in Python 2 (a Python 2.7 worker): ".loop <name>"
# loops forever in this script's hook, ".ping" answers with the worker's
# pid; it logs loads and unloads with the pid into $VH_REALHUB_OUT/faults.txt.
import os

import vh

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "faults.txt")
NAME = os.path.basename(vh.path)


def log(text):
    f = open(OUT, "a")
    print >>f, "%s %s %d" % (NAME, text, os.getpid())
    f.close()


log("loaded")


def OnParsedMsgChat(nick, message):
    if message == ".loop " + NAME:
        while True:
            pass
    if message == ".ping":
        vh.usermc("pong %s %d" % (NAME, os.getpid()), nick)
        return 0
    return 1


def UnLoad():
    log("unload")
