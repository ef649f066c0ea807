"""Reports, for each chat line, its worker's pid and the CPUs its main
thread and a thread it starts in the hook may run on (a worker
waits for its next hook on the hub thread's CPU, and only then)."""

import os
import threading

import vh


def OnParsedMsgChat(nick, message):
    seen = {}

    def probe():
        seen["thread"] = sorted(os.sched_getaffinity(0))

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    main = sorted(os.sched_getaffinity(0))
    vh.usermc("%d %s %s" % (os.getpid(), main, seen["thread"]), nick)
    return 1
