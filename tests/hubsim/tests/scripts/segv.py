"""Segfaults in a hook on '!segv' (reads address 0); answers 'hi' otherwise."""

import ctypes

import vh


def OnParsedMsgChat(nick, message):
    if message == "!segv":
        ctypes.string_at(0)
    if message == "hi":
        vh.usermc("hello from segv", nick)
    return 1
