# -*- coding: utf-8 -*-
# A classic script in python_pi 1.6's own style: Python 2 throughout
# (print statement, dict.has_key, long literals, "except E, e", string
# exceptions of old), answering ".stats" and greeting logins.
import os
import vh

seen = {}
lines = 0L
LOG = os.path.join(os.environ["VH_REALHUB_OUT"], "classic_stats.txt")


def log(text):
    f = open(LOG, "ab")
    print >>f, text
    f.close()


def OnUserLogin(nick):
    if not seen.has_key(nick):
        seen[nick] = 0
    vh.usermc("Welcome, %s! You are user number %d." % (nick, len(seen)), nick)
    return 1


def OnParsedMsgChat(nick, message):
    global lines
    lines += 1
    seen[nick] = seen.get(nick, 0) + 1
    if message == ".stats":
        keys = seen.keys()
        keys.sort()
        text = ", ".join(["%s: %d" % (k, seen[k]) for k in keys])
        vh.pm("lines %d (%s); %s" % (lines, type(lines).__name__, text), nick)
        log("stats for %r: %s" % (nick, text))
        return 0
    if message.startswith(".div "):
        try:
            n = int(message[5:])
            vh.usermc("100 / %d = %d" % (n, 100 / n), nick)
        except ZeroDivisionError, e:
            vh.usermc("no: %s" % e, nick)
        return 0
    return 1


def OnTimer(*args):
    return 1


def UnLoad():
    log("unload after %d lines" % lines)
