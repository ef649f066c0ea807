# Keeps a counter and reports 'pid id counter' (Python 2); a thread makes
# numbered vh.* calls 'pid seq' as fast as the hub takes them.
import os
import threading
import time
import Queue

import vh

COUNTER = 0L
_stop = Queue.Queue()


def OnParsedMsgChat(nick, message):
    global COUNTER
    COUNTER += 1
    vh.usermc("%d %d %d" % (os.getpid(), vh.myid, COUNTER), nick)
    return 1


def _loop():
    seq = 0
    while _stop.empty():
        try:
            vh.SendToOpChat("%d %d" % (os.getpid(), seq))
        except Exception, e:
            return
        seq += 1
        time.sleep(0.01)


_t = threading.Thread(target=_loop)
_t.daemon = True
_t.start()
