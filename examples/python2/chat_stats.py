"""Chat statistics, written for python_pi 1.6 in Python 2.

A classic Python 2 script as hubs run them today: print statements, the
``except E, e`` form, ``dict.has_key``, ``long`` counters and nicks kept as
the hub's raw bytes (``str``). vh-runner runs it, unchanged, in a Python 2.7
worker, as it runs every script of a python_pi 1.6 hub when it has a Python
2.7 (on a 1.7 hub, after Python 3 refuses its syntax); hooks reach it
exactly as python_pi 1.6 gave them.

It counts chat lines per nick and writes the counts to ``stats.json`` in
its state folder (``VH_STATE_DIR``; docs/admin.md "Sandbox"), and answers
``!top`` in main chat with the three busiest nicks. ``make demo`` loads it
beside the Python 3 examples and checks that it counted every chat line.

Run it on a hub as any script: ``!pyload /path/to/chat_stats.py``.
"""

import json
import os

import vh

lines = {}
total = 0L
STATE = os.environ.get("VH_STATE_DIR", "")

print "chat_stats: loaded under Python", ".".join(map(str, __import__("sys").version_info[:2]))


def _save():
    if not STATE:
        return
    # Nicks stay bytes in the hub's encoding: JSON gets them as Latin-1 text,
    # one character per byte, so nothing is lost on the way.
    data = {"total": total, "lines": dict((n.decode("latin-1"), c) for n, c in lines.items())}
    tmp = os.path.join(STATE, "stats.json.tmp")
    try:
        f = open(tmp, "w")
        try:
            json.dump(data, f)
        finally:
            f.close()
        os.rename(tmp, os.path.join(STATE, "stats.json"))
    except (IOError, OSError), e:
        print "chat_stats: cannot save:", e


def OnParsedMsgChat(nick, message):
    global total
    total += 1
    if lines.has_key(nick):
        lines[nick] += 1
    else:
        lines[nick] = 1
    if message == "!top":
        top = sorted(lines.items(), key=lambda item: -item[1])[:3]
        vh.usermc(", ".join("%s: %d" % (n, c) for n, c in top), nick)
    _save()
    return 1


def UnLoad():
    _save()
