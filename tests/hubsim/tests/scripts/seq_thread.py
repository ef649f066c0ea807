"""Makes numbered vh.* calls from a background thread, forever: 'pid seq'."""

import os
import threading
import time

import vh


def _loop():
    seq = 0
    while True:
        try:
            vh.SendToOpChat("%d %d" % (os.getpid(), seq))
        except Exception:
            return
        seq += 1
        time.sleep(0.01)


threading.Thread(target=_loop, daemon=True).start()
