# Shape: the examples README's "queue-based message passing" (hub_api.py,
# matterbridge.py): a background thread fills a queue, and OnTimer(msec=0)
# drains at most ten items per tick into main chat. Python 3's `queue`
# module: in Python 2.7 (python_pi 1.6's) the import fails.
# answers: OnTimer
# fails-under: py2 ImportError
import threading
from queue import Empty, Queue

import vh

outbox = Queue()
running = True


def background_thread():
    outbox.put("from the background")


threading.Thread(target=background_thread, daemon=True).start()


def OnTimer(msec=0):
    sent = 0
    while sent < 10:
        try:
            text = outbox.get_nowait()
        except Empty:
            break
        vh.SendToAll(text)
        sent += 1
    return 1


def UnLoad():
    global running
    running = False
