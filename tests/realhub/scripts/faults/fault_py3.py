# A Python 3 script for the fault tests: ".loop <name>" loops forever in
# that script's hook, ".ping" answers with the worker's pid; it logs its
# loads and unloads with the pid into $VH_REALHUB_OUT/faults.txt.
import os

import vh

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "faults.txt")
NAME = os.path.basename(vh.path)


def log(text):
    with open(OUT, "a") as f:
        f.write("%s %s %d\n" % (NAME, text, os.getpid()))


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
