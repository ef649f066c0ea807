# Shape: a python_pi 1.6 script from before OnTimer had an argument
# (`def OnTimer():`, which 1.6 still calls), with the Python 2 idioms the
# examples README's scripts used: Queue, dict.has_key, long counters.
# answers: OnParsedMsgChat OnTimer
import Queue

import vh

counts = {}
total = 0L
pending = Queue.Queue()


def OnParsedMsgChat(nick, message):
    global total
    if not counts.has_key(nick):
        counts[nick] = 0
    counts[nick] += 1
    total += 1
    if message == "!stats":
        pending.put(nick)
        return 0
    return 1


def OnTimer():
    while not pending.empty():
        nick = pending.get()
        vh.usermc("%d lines, %d from you" % (total, counts[nick]), nick)
    return 1
