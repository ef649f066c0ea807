"""Hooks the hub does not wait for (OnUserLogout) pile up on the direct
link while the worker is busy in the first one, then a chat hook comes:
the worker reads them in one go, and the chat hook must find every one
run before it, in order."""

import time

import vh

seen = []


def OnUserLogout(nick):
    if not seen:
        # The hub sends the other logouts and the chat line meanwhile.
        time.sleep(0.3)
    seen.append(nick.decode() if isinstance(nick, bytes) else nick)
    return 1


def OnParsedMsgChat(nick, message):
    if message == "seen?":
        vh.usermc(",".join(seen), nick)
        return 0
    return 1
