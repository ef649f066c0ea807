"""Loaded by a hostile test client straight over the runner socket: sleeps
30 s in a hook on '!sleep', so the client can drop the stream mid-call."""

import time


def OnParsedMsgChat(nick, message):
    if message == "!sleep":
        time.sleep(30)
    return 1
