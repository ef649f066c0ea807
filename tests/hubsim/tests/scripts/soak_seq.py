"""Soak test script, loaded ten times under different names.
Every call carries its script name, its worker's pid and a sequence number,
so the hub side can account for each one:

* hook: 'seq <k>' in main chat -> vh.usermc('<name> <pid> <k>') from the
  hook, then the result ('ack <name> <k>', 1) (a reply to the sender);
* a thread: vh.SendToOpChat('thr <name> <pid> <n>'), n = 0, 1, 2, ...;
* asyncio: await vh.aio.SendToOpChat('aio <name> <pid> <n>'), n = 0, 1, ...
"""

import asyncio
import os
import threading
import time

import vh
import vh.aio

NAME = os.path.splitext(os.path.basename(vh.path))[0]
PID = os.getpid()
PAUSE = float(os.environ.get("SOAK_PAUSE_S", "0.02"))


def OnParsedMsgChat(nick, message):
    if not message.startswith("seq "):
        return 1
    k = int(message[4:])
    vh.usermc("%s %d %d" % (NAME, PID, k), nick)
    return ("ack %s %d" % (NAME, k), 1)


def _thread():
    n = 0
    while True:
        try:
            vh.SendToOpChat("thr %s %d %d" % (NAME, PID, n))
        except Exception:
            return
        n += 1
        time.sleep(PAUSE)


async def _aio():
    n = 0
    while True:
        await vh.aio.SendToOpChat("aio %s %d %d" % (NAME, PID, n))
        n += 1
        await asyncio.sleep(PAUSE)


threading.Thread(target=_thread, daemon=True).start()
vh.aio.run_in_background(_aio())
